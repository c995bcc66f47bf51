// The checker itself: it must catch a wrong gradient, and pass random compositions.
#include <gtest/gtest.h>

#include <random>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;
using V = Var<double>;
using Vs = std::span<const V>;

namespace {
// y = x³ with a deliberately wrong backward (2x² instead of 3x²).
struct WrongCube final : Node<double> {
  void backward() override {
    for (int64_t i = 0; i < n; ++i) in[0]->grad[i] += grad[i] * 2 * in[0]->val[i] * in[0]->val[i];
  }
};
V wrong_cube(const V& x) {
  auto& tape = Tape<double>::current();
  auto* node = tape.make<WrongCube>(x.shape(), x.requires_grad(), "wrong_cube");
  node->in = {x.node(), nullptr, nullptr};
  for (int64_t i = 0; i < node->n; ++i) node->val[i] = x.data()[i] * x.data()[i] * x.data()[i];
  return tape.record(node);
}
}  // namespace

TEST(GradCheck, CatchesAWrongGradient) {
  auto x = trusty::test::random_tensor({5}, 1, 0.5, 1.5);
  auto r = check_gradient([](Vs v) { return wrong_cube(v[0]); }, {x});
  EXPECT_FALSE(r.ok);
  EXPECT_GT(r.max_error, 0.1);
  auto good = check_gradient([](Vs v) { return v[0] * v[0] * v[0]; }, {x});
  EXPECT_TRUE(good.ok) << good.str();
}

// Random graphs: chains of randomly chosen ops over two inputs, each checked.
TEST(GradCheck, RandomComposedGraphs) {
  std::mt19937_64 rng(2024);
  for (int trial = 0; trial < 40; ++trial) {
    const uint64_t seed = rng();
    auto f = [seed](Vs v) {
      std::mt19937_64 r(seed);
      V x = v[0], y = v[1];
      for (int depth = 0; depth < 6; ++depth) {
        switch (r() % 12) {
          case 0: x = x + y; break;
          case 1: x = x * y; break;
          case 2: x = tanh(x); break;
          case 3: x = softplus(x); break;
          case 4: x = matmul(x, transpose(y)) * 0.3; x = matmul(x, y) * 0.3; break;
          case 5: x = x - sigmoid(y); break;
          case 6: x = exp(x * 0.2); break;
          case 7: x = x / (square(y) + 1.0); break;
          case 8: x = log_softmax(x, r() % 2 ? 0 : 1); break;
          case 9: x = elu(x); break;
          case 10: x = x + sum(y, std::vector<int>{0}, true); break;
          case 11: x = sqrt(square(x) + 0.5); break;
        }
      }
      return sum(x * x) + logsumexp(reshape(x, Shape{x.numel()}), 0);
    };
    auto r = check_gradient(f, {trusty::test::random_tensor({3, 4}, seed), trusty::test::random_tensor({3, 4}, seed + 1)},
                            {.tol = 1e-5});
    EXPECT_TRUE(r.ok) << "trial " << trial << ": " << r.str();
  }
}
