// `trusty demo`: the flagship job on built-in data.
// For now: the lecture's XOR gate, learned by a 2-4-1 sigmoid network with plain gradient
// descent through the reverse-mode tape.
#include <cstdio>
#include <random>
#include <vector>

#include "commands.hpp"
#include "trusty/core.hpp"

namespace trusty::apps {
namespace {

int run_demo() {
  using namespace trusty::core;
  using V = Var<double>;
  const Tensor<double> x(Shape{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const Tensor<double> y(Shape{4, 1}, {0, 1, 1, 0});
  const int64_t hidden = 4;
  // Flat parameter vector: W1 [2,4], b1 [4], W2 [4,1], b2 [1].
  std::vector<double> theta(2 * hidden + hidden + hidden + 1), grad(theta.size());
  std::mt19937_64 rng(7);
  std::normal_distribution<double> n01(0.0, 1.0);
  for (auto& t : theta) t = n01(rng);
  auto net = [&](V th) {
    auto w1 = reshape(slice(th, 0, 0, 2 * hidden), Shape{2, hidden});
    auto b1 = slice(th, 0, 2 * hidden, 3 * hidden);
    auto w2 = reshape(slice(th, 0, 3 * hidden, 4 * hidden), Shape{hidden, 1});
    auto b2 = slice(th, 0, 4 * hidden, 4 * hidden + 1);
    return sigmoid(matmul(sigmoid(matmul(constant(x), w1) + b1), w2) + b2);
  };
  std::printf("trusty demo: a 2-%ld-1 sigmoid network learns XOR by gradient descent (eta = 2)\n",
              static_cast<long>(hidden));
  double loss = 0;
  for (int step = 0; step <= 3000; ++step) {
    loss = value_and_grad<double>([&](V th) { return sum(square(net(th) - constant(y))) * 0.5; }, theta, grad);
    if (step % 500 == 0) std::printf("  step %4d  loss %.6f\n", step, loss);
    for (size_t i = 0; i < theta.size(); ++i) theta[i] -= 2.0 * grad[i];
  }
  GradScope<double> scope;
  std::vector<double> th(theta);
  auto out = net(constant(Tensor<double>(Shape{static_cast<int64_t>(th.size())}, th))).value();
  std::printf("  x0 x1  target  prediction\n");
  int correct = 0;
  for (int64_t i = 0; i < 4; ++i) {
    const double p = out.at({i, 0});
    correct += (p > 0.5) == (y.at({i, 0}) > 0.5);
    std::printf("   %g  %g    %g     %.4f\n", x.at({i, 0}), x.at({i, 1}), y.at({i, 0}), p);
  }
  std::printf("accuracy %d/4, final loss %.3g\n", correct, loss);
  return correct == 4 ? 0 : 1;
}

}  // namespace

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the flagship demo on built-in data");
  cmd->callback([] {
    int rc = run_demo();
    if (rc != 0) throw CLI::RuntimeError(rc);
  });
}

}  // namespace trusty::apps
