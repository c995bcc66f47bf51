// Shared helpers for the density tests.
#pragma once
#include <gtest/gtest.h>

#include <functional>
#include <random>
#include <string>

#include "trusty/core.hpp"

namespace trusty::test {

inline core::Tensor<double> random_tensor(const core::Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  core::Tensor<double> t(s);
  for (auto& v : t.span()) v = u(rng);
  return t;
}

using GradFn = std::function<core::Var<double>(std::span<const core::Var<double>>)>;

inline void expect_grad(const GradFn& f, const std::vector<core::Tensor<double>>& in, double tol = 1e-6) {
  const auto r = core::check_gradient(f, in, {.eps = 1e-6, .tol = tol});
  EXPECT_TRUE(r.ok) << r.str();
}

// The message of the std::invalid_argument f throws ("no exception" if none).
template <class F>
std::string invalid_argument_message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no exception";
}

}  // namespace trusty::test
