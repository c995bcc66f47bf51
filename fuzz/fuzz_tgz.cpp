// The in-process .tgz reader used by `trusty data fetch`.
#include "fuzz_util.hpp"
#include "trusty/io/tgz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".tgz");
  return trusty::fuzz::expect_clean([&] { (void)trusty::io::read_tgz(path, [](const std::string&) { return true; }, 1 << 20); });
}
