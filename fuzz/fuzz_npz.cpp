// .npz decoding (zip directory, CRC-32, inflate, each member's .npy header).
#include <span>

#include "fuzz_util.hpp"
#include "trusty/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return trusty::fuzz::expect_clean([&] {
    auto z = trusty::io::decode_npz(std::span<const char>(reinterpret_cast<const char*>(data), size), "fuzz.npz");
    for (const auto& [k, a] : z) (void)a.values<float>();
  });
}
