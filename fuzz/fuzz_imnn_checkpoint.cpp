// IMNN training checkpoints: ImnnTrainer::load_checkpoint into a 4-8-2 network with Adam.
#include "fuzz_util.hpp"
#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/nn/layers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto path = trusty::fuzz::temp_file(data, size, ".npz");
  static auto net = [] {
    auto n = trusty::nn::make_mlp<double>({4, 8, 2}, {.activation = "elu"});
    n->finalize(1);
    return n;
  }();
  trusty::optim::Adam<double> opt({});
  trusty::imnn::TrainOptions o;
  o.theta_fid = {0.0, 1.0};
  o.delta_theta = {0.1, 0.1};
  o.n_s = o.n_d = 8;
  trusty::imnn::ImnnTrainer tr(*net, opt, o);
  return trusty::fuzz::expect_clean([&] { tr.load_checkpoint(path); });
}
