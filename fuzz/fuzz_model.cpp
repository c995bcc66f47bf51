// Model files (model.npz): the parameters and buffers of a network with batch norm.
#include <span>

#include "fuzz_util.hpp"
#include "trusty/io/module_npz.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/nn/layers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static auto net = [] {
    auto n = trusty::nn::make_mlp<float>({2, 4, 2}, {.batch_norm = true});
    n->finalize(0);
    return n;
  }();
  return trusty::fuzz::expect_clean([&] {
    auto z = trusty::io::decode_npz(std::span<const char>(reinterpret_cast<const char*>(data), size), "fuzz/model.npz");
    trusty::io::get_module(z, *net, "fuzz/model.npz");
  });
}
