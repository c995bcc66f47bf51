// Issue-3 benchmarks, trusty side: training throughput of the same networks, batches,
// optimiser and threads as bench/torch_train.py, on synthetic data of MNIST's shape.
// Usage: train_bench CASE THREADS SECONDS   with CASE one of
//   mlp_small  784-128-64-10 ReLU, batch 64, Adam        -> samples/s
//   mlp_large  784-512-256-10 ReLU, batch 128, Adam      -> samples/s
//   xor_step   2-16-1 tanh on XOR, batch 4, one Adam step -> steps/s
#include <cstdio>
#include <cstdlib>
#include <string>

#include "timer.hpp"
#include "trusty/core.hpp"
#include "trusty/core/fpenv.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/conv.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/nn/losses.hpp"
#include "trusty/optim/trainer.hpp"

using namespace trusty;

namespace {

double mlp(const std::vector<int64_t>& widths, int64_t batch, double seconds) {
  const int64_t n = 8192;
  core::Rng rng(1);
  io::Dataset<float> d;
  d.x = core::Tensor<float>(core::Shape{n, widths[0]});
  for (auto& v : d.x.span()) v = static_cast<float>(rng.uniform());
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int64_t>(rng.below(10)));
  d.classes = 10;
  auto net = nn::make_mlp<float>(widths, {.activation = "relu", .init = "torch_linear"});
  net->finalize(0);
  optim::Adam<float> adam({.lr = 1e-3});
  // One epoch per call, as PyTorch's loop: shuffle, gather, step.
  int epochs = 0;
  double calls_per_s = bench::rate(
      [&] {
        ++epochs;
        optim::Trainer<float> t(*net, adam, {.epochs = 1, .batch_size = batch, .seed = static_cast<uint64_t>(epochs), .progress = false});
        t.fit(d);
      },
      seconds);
  return calls_per_s * static_cast<double>(n);
}

double xor_step(double seconds) {
  auto net = nn::make_mlp<float>({2, 16, 1}, {.activation = "tanh"});
  net->finalize(0);
  optim::Adam<float> adam({.lr = 1e-2});
  const core::Tensor<float> x(core::Shape{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const core::Tensor<float> y(core::Shape{4, 1}, {0, 1, 1, 0});
  auto theta = net->parameters();
  auto grad = net->gradients();
  core::FlushDenormals ftz;
  return bench::rate(
      [&] {
        core::GradScope<float> s;
        net->zero_grad();
        auto loss = nn::mse(net->forward(core::constant_ref(x)), core::constant_ref(y));
        s.backward(loss);
        adam.step(theta, grad);
      },
      seconds);
}

double cnn(double seconds) {
  const int64_t n = 2048;
  core::Rng rng(1);
  io::Dataset<float> d;
  d.x = core::Tensor<float>(core::Shape{n, 784});
  for (auto& v : d.x.span()) v = static_cast<float>(rng.uniform());
  for (int64_t i = 0; i < n; ++i) d.labels.push_back(static_cast<int64_t>(rng.below(10)));
  d.classes = 10;
  nn::Sequential<float> net;
  net.emplace<nn::Reshape<float>>(std::vector<int64_t>{1, 28, 28});
  // conv + ReLU + 2x2 max pooling, fused as `trusty train` builds examples/mnist_cnn.toml.
  net.emplace<nn::Conv<float>>(1, 32, 3, nn::ConvOptions{.relu = true, .pool = 2});
  net.emplace<nn::Conv<float>>(32, 64, 3, nn::ConvOptions{.relu = true, .pool = 2});
  net.emplace<nn::Flatten<float>>();
  net.emplace<nn::Dropout<float>>(0.3);
  net.emplace<nn::Dense<float>>(1600, 128);
  net.emplace<nn::Activation<float>>(nn::Act::relu);
  net.emplace<nn::Dropout<float>>(0.3);
  net.emplace<nn::Dense<float>>(128, 10);
  net.finalize(0);
  optim::Adam<float> adamw({.lr = 1e-3, .weight_decay = 0.01, .decoupled = true});
  int epochs = 0;
  return bench::rate(
             [&] {
               optim::Trainer<float> t(net, adamw, {.epochs = 1, .batch_size = 64, .seed = static_cast<uint64_t>(++epochs), .progress = false});
               t.fit(d);
             },
             seconds) *
         static_cast<double>(n);
}

double conv3d(double seconds) {
  core::Rng rng(2);
  core::Tensor<float> x(core::Shape{1, 1, 64, 64, 64}), w(core::Shape{1, 1, 3, 3, 3});
  for (auto& v : x.span()) v = static_cast<float>(rng.normal());
  for (auto& v : w.span()) v = static_cast<float>(rng.normal());
  core::ConvSpec spec{.dims = 3, .padding = core::Padding::periodic};
  return bench::rate(
      [&] {
        core::GradScope<float> s;
        auto xv = core::variable(x);
        auto wv = core::variable(w);
        s.backward(core::sum(core::conv(xv, wv, spec)));
      },
      seconds);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 4) {
    std::fprintf(stderr, "usage: train_bench mlp_small|mlp_large|xor_step THREADS SECONDS\n");
    return 2;
  }
  const std::string which = argv[1];
  core::kernels::set_blas_threads(std::atoi(argv[2]));
  const double s = std::atof(argv[3]);
  double r = 0;
  if (which == "mlp_small") r = mlp({784, 128, 64, 10}, 64, s);
  else if (which == "mlp_large") r = mlp({784, 512, 256, 10}, 128, s);
  else if (which == "xor_step") r = xor_step(s);
  else if (which == "cnn") r = cnn(s);
  else if (which == "conv3d") r = conv3d(s);
  else return 2;
  std::printf("{\"case\": \"%s\", \"threads\": %s, \"rate\": %.1f}\n", which.c_str(), argv[2], r);
  return 0;
}
