// IMNN simulation sets from .npy pairs: imnn::load_set (fiducial + seed-matched derivatives)
// and imnn::load_gradient_set (fiducial + dd/dθ). The input is split in two files: the first
// two bytes (little-endian) give the length of the fiducial array's file, the rest is the
// derivatives' (and gradients') file.
#include <vector>

#include "fuzz_util.hpp"
#include "trusty/imnn/simulation_set.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const size_t n = std::min<size_t>(size - 2, static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8));
  const auto fid = trusty::fuzz::temp_file(data + 2, n, ".fid.npy");
  const auto der = trusty::fuzz::temp_file(data + 2 + n, size - 2 - n, ".der.npy");
  const std::vector<double> delta{0.1, 0.1};
  trusty::fuzz::expect_clean([&] { (void)trusty::imnn::load_set(fid, der, delta); });
  return trusty::fuzz::expect_clean([&] { (void)trusty::imnn::load_gradient_set(fid, der, 2); });
}
