// CSV data sets, as classification (labels) and as regression (targets).
#include "fuzz_util.hpp"
#include "trusty/io/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".csv");
  trusty::fuzz::expect_clean([&] { (void)trusty::io::load_csv<float>(path, {-1}, true); });
  return trusty::fuzz::expect_clean([&] { (void)trusty::io::load_csv<double>(path, {0, -1}, false, true); });
}
