// .npy decoding: any bytes give an array whose data matches its shape, or a named error.
#include <span>

#include "fuzz_util.hpp"
#include "trusty/io/npy.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return trusty::fuzz::expect_clean([&] {
    auto a = trusty::io::decode_npy(std::span<const char>(reinterpret_cast<const char*>(data), size), "fuzz.npy");
    if (a.data.size() > size) std::abort();
    auto v = a.values<double>();
    if (static_cast<int64_t>(v.size()) != a.numel()) std::abort();
  });
}
