// Gradient checks for modules: inputs through check_gradient, parameters by central
// differences on the flat parameter buffer.
#pragma once
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "trusty/core.hpp"
#include "trusty/nn/module.hpp"

namespace trusty::test {
using core::Shape;
using core::Tensor;
using core::Var;
inline Tensor<double> rand_t(Shape s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 r(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor<double> t(s);
  for (auto& v : t.span()) v = u(r);
  return t;
}

// Checks d/dx and d/dθ of sum(w * net(x)) against central differences. Stochastic layers
// replay the same random numbers on every evaluation.
inline void check_module(nn::Module<double>& net, const Tensor<double>& x, double tol = 1e-6) {
  const auto rng0 = net.rng().state();
  auto input_check = core::check_gradient(
      [&](std::span<const Var<double>> v) {
        net.rng().set_state(rng0);
        return net.forward(v[0]);
      },
      {x}, {.tol = tol});
  EXPECT_TRUE(input_check.ok) << net.describe() << " input: " << input_check.str();
  // Parameters: analytic gradient from the flat gradient buffer.
  Tensor<double> w;
  auto value = [&]() {
    core::GradScope<double> s;
    net.rng().set_state(rng0);
    auto out = net.forward(core::constant(x));
    if (w.numel() != out.numel()) {
      w = rand_t(out.shape(), 99, 0.5, 1.5);
    }
    return core::sum(out * core::constant(w)).item();
  };
  value();
  {
    core::GradScope<double> s;
    net.zero_grad();
    net.rng().set_state(rng0);
    auto out = core::sum(net.forward(core::constant(x)) * core::constant(w));
    s.backward(out);
  }
  std::vector<double> analytic(net.gradients().begin(), net.gradients().end());
  auto theta = net.parameters();
  double worst = 0;
  for (size_t i = 0; i < theta.size(); ++i) {
    const double t0 = theta[i], h = 1e-6 * std::max(1.0, std::abs(t0));
    theta[i] = t0 + h;
    const double fp = value();
    theta[i] = t0 - h;
    const double fm = value();
    theta[i] = t0;
    const double num = (fp - fm) / (2 * h);
    worst = std::max(worst, std::abs(num - analytic[i]) / std::max({1.0, std::abs(num), std::abs(analytic[i])}));
  }
  EXPECT_LT(worst, tol) << net.describe() << " parameters";
}

}  // namespace trusty::test
