// Shared helpers for the core tests.
#pragma once
#include <random>

#include "trusty/core/tensor.hpp"

namespace trusty::test {

template <class T = double>
core::Tensor<T> random_tensor(const core::Shape& s, uint64_t seed, double lo = -1, double hi = 1) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(lo, hi);
  core::Tensor<T> t(s);
  for (auto& v : t.span()) v = static_cast<T>(u(rng));
  return t;
}

// A random symmetric positive-definite matrix, well conditioned: M Mᵀ / n + I.
inline core::Tensor<double> random_spd(int64_t n, uint64_t seed) {
  auto m = random_tensor({n, n}, seed);
  auto a = core::matmul(m, m.transpose());
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < n; ++j) a.at({i, j}) = a.at({i, j}) / static_cast<double>(n) + (i == j ? 1.0 : 0.0);
  return a;
}

}  // namespace trusty::test
