// Training checkpoints: Trainer::load_checkpoint into a small network with Adam.
#include "fuzz_util.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".npz");
  static auto net = [] {
    auto n = trusty::nn::make_mlp<float>({2, 4, 2}, {});
    n->finalize(0);
    return n;
  }();
  trusty::optim::Adam<float> opt({});
  trusty::optim::Trainer<float> tr(*net, opt, {.epochs = 1, .progress = false});
  return trusty::fuzz::expect_clean([&] { tr.load_checkpoint(path); });
}
