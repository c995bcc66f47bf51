// Test helpers for the inference layer: a LogDensity as one tape node, so that the one
// finite-difference checker (core::check_gradient) checks its gradient; and a deterministic
// random tensor.
#pragma once
#include <gtest/gtest.h>

#include <random>
#include <span>
#include <vector>

#include "trusty/core.hpp"
#include "trusty/mcmc/log_density.hpp"

namespace trusty::test {

template <class D>
struct DensityNode : core::Node<double> {
  const D* density = nullptr;
  double* g = nullptr;  // ∂ln π/∂θ at the forward's θ
  void backward() override {
    core::Node<double>* th = in[0];
    for (int64_t i = 0; i < th->n; ++i) th->grad[i] += grad[0] * g[i];
  }
};

// ln π(θ) as a scalar Var whose backward is the density's own gradient.
inline core::Var<double> density_var(const mcmc::LogDensity& d, const core::Var<double>& theta) {
  auto& tape = core::Tape<double>::current();
  auto* node = tape.make<DensityNode<mcmc::LogDensity>>(core::Shape{}, theta.requires_grad(), "log_density");
  node->in = {theta.node(), nullptr, nullptr};
  node->density = &d;
  node->g = tape.alloc(theta.numel());
  node->val[0] = d.log_density_and_gradient(theta.values(), std::span<double>(node->g, static_cast<size_t>(theta.numel())));
  return tape.record(node);
}

// check_gradient on ln π at θ.
inline core::GradCheckResult check_density(const mcmc::LogDensity& d, const std::vector<double>& theta, double tol = 1e-6) {
  core::Tensor<double> t(core::Shape{static_cast<int64_t>(theta.size())}, std::span<const double>(theta));
  return core::check_gradient([&](std::span<const core::Var<double>> v) { return density_var(d, v[0]); }, {t}, {.tol = tol});
}

inline core::Tensor<double> uniform_tensor(core::Shape s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 r(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  core::Tensor<double> t(s);
  for (auto& v : t.span()) v = u(r);
  return t;
}

}  // namespace trusty::test
