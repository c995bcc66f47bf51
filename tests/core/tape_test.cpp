// The tape: scopes release memory, nesting, threads, anomaly detection, parameters.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <thread>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;

TEST(Tape, ScopeReleasesAndReusesMemory) {
  auto& tape = Tape<double>::current();
  const size_t before = tape.size();
  size_t cap = 0;
  for (int it = 0; it < 100; ++it) {
    GradScope<double> s;
    auto x = variable(trusty::test::random_tensor({50, 50}, 1));
    auto y = sum(tanh(matmul(x, x)));
    s.backward(y);
    EXPECT_GT(tape.size(), before);
    if (it == 1) cap = tape.arena_capacity();
  }
  EXPECT_EQ(tape.size(), before);
  EXPECT_EQ(tape.arena_capacity(), cap);  // steady state: no growth after the first pass
}

TEST(Tape, NestedScopes) {
  GradScope<double> outer;
  auto x = variable(Tensor<double>(Shape{2}, {1.0, 2.0}));
  auto y = square(x);
  {
    GradScope<double> inner;
    auto z = variable(Tensor<double>(Shape{2}, {3.0, 4.0}));
    auto w = sum(z * z);
    inner.backward(w);
    EXPECT_EQ(z.grad()[1], 8.0);
  }
  auto s = sum(y);  // outer graph still intact after the inner scope ended
  outer.backward(s);
  EXPECT_EQ(x.grad()[0], 2.0);
  EXPECT_EQ(x.grad()[1], 4.0);
}

TEST(Tape, ValueAndGradOnFlatParameters) {
  std::vector<double> theta = {0.5, -1.0, 2.0}, grad(3, 99.0);
  double v = value_and_grad<double>(
      [](Var<double> th) {
        auto a = slice(th, 0, 0, 2);
        auto b = slice(th, 0, 2, 3);
        return sum(a * a) * sum(b);
      },
      theta, grad);
  EXPECT_DOUBLE_EQ(v, (0.25 + 1.0) * 2.0);
  EXPECT_DOUBLE_EQ(grad[0], 2 * 0.5 * 2.0);
  EXPECT_DOUBLE_EQ(grad[1], 2 * -1.0 * 2.0);
  EXPECT_DOUBLE_EQ(grad[2], 1.25);
  std::vector<double> bad(2);
  EXPECT_THROW(value_and_grad<double>([](Var<double> th) { return sum(th); }, theta, bad), std::invalid_argument);
  EXPECT_THROW(value_and_grad<double>([](Var<double> th) { return th; }, theta, grad), std::invalid_argument);
}

TEST(Tape, OneTapePerThread) {
  auto work = [](double scale, double* out) {
    std::vector<double> th = {scale, 2 * scale}, g(2);
    for (int i = 0; i < 2000; ++i)
      value_and_grad<double>([](Var<double> t) { return sum(exp(t * 0.1)); }, th, g);
    *out = g[1];
  };
  double r1 = 0, r2 = 0;
  std::thread t1(work, 1.0, &r1), t2(work, 3.0, &r2);
  t1.join();
  t2.join();
  EXPECT_DOUBLE_EQ(r1, 0.1 * std::exp(0.2));
  EXPECT_DOUBLE_EQ(r2, 0.1 * std::exp(0.6));
}

TEST(Tape, DetectAnomalyNamesTheFirstBadOp) {
  GradScope<double> s;
  DetectAnomaly<double> on;
  auto x = variable(Tensor<double>(Shape{3}, {1.0, -1.0, 2.0}));
  auto y = exp(x);  // fine
  try {
    auto z = log(x - 1.0);  // log(0) = -inf, log(-2) = NaN
    (void)z;
    FAIL() << "expected AnomalyError";
  } catch (const AnomalyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("'log'"), std::string::npos) << m;
    EXPECT_NE(m.find("add_scalar[3] finite"), std::string::npos) << m;
  }
  (void)y;
}

TEST(Tape, DetectAnomalyInBackward) {
  GradScope<double> s;
  DetectAnomaly<double> on;
  auto x = variable(Tensor<double>(Shape{2}, {0.0, 1.0}));
  auto y = sum(sqrt(x));  // value finite, gradient 1/(2·0) = inf
  try {
    s.backward(y);
    FAIL() << "expected AnomalyError";
  } catch (const AnomalyError& e) {
    EXPECT_NE(std::string(e.what()).find("backward of op 'sqrt'"), std::string::npos) << e.what();
  }
}

TEST(Tape, AnomalyOffByDefault) {
  GradScope<double> s;
  auto x = constant(Tensor<double>(Shape{1}, {-1.0}));
  EXPECT_TRUE(std::isnan(log(x).item()));
}

TEST(Tape, ConstantsTakeNoGradient) {
  GradScope<float> s;
  auto c = constant(Tensor<float>(Shape{2}, {1.0f, 2.0f}));
  auto v = variable(Tensor<float>(Shape{2}, {3.0f, 4.0f}));
  auto y = sum(c * v);
  EXPECT_FALSE(c.requires_grad());
  s.backward(y);
  EXPECT_TRUE(c.grad().empty());
  EXPECT_EQ(v.grad()[1], 2.0f);
}

// Gradient memory is not zeroed up front: the first contribution writes it, later ones add,
// and a node nothing reached reads as zero. Each case below would go wrong if a rule
// overwrote where it should add (an input used twice, a concat repeating a part, slices of
// one buffer) or if fresh memory leaked through.
TEST(Tape, FreshGradientsFirstWriteThenAccumulate) {
  GradScope<double> s;
  Tensor<double> t(Shape{2, 3}, std::vector<double>{1, 2, 3, 4, 5, 6});
  auto a = variable(t);
  auto y = a * a;                            // one node, the same input twice: 2a
  auto sq = square(a);                       // a second consumer of a: + 2a
  auto unused = exp(a);                      // never reaches the loss
  const std::vector<Var<double>> parts{y, y, y, y};
  auto c = concat<double>(parts, 0);  // a part repeated, also beyond in[0..2]
  auto z = reshape(c, Shape{24});
  auto part = slice(z, 0, 3, 9);             // a slice: part of c's gradient memory
  auto loss = sum(part) + sum(c) + sum(sq);
  s.backward(loss);
  // d/dy: from c four times (1 each) plus the slice covering elements 3..8 of c = y rows 1, 0 of copies 1, 2
  std::vector<double> gy(6, 4.0);
  for (int64_t i = 3; i < 9; ++i) gy[static_cast<size_t>(i % 6)] += 1.0;
  auto ga = a.grad();
  for (size_t i = 0; i < 6; ++i) EXPECT_DOUBLE_EQ(ga[i], gy[i] * 2 * t.span()[i] + 2 * t.span()[i]) << i;
  for (double g : unused.grad()) EXPECT_EQ(g, 0.0);  // fresh memory never reached: zero
  for (double g : y.grad()) EXPECT_GT(g, 0.0);
}

TEST(Tape, FreshGradientMemoryIsNeverRead) {
  // Fill the arena with NaN from an earlier scope, then run a graph in the same memory: a
  // rule that added to fresh memory instead of writing it would return NaN.
  auto& tape = Tape<double>::current();
  {
    GradScope<double> s;
    for (int i = 0; i < 8192; ++i) std::fill_n(tape.alloc(32), 32, std::numeric_limits<double>::quiet_NaN());  // small pieces: every block
  }
  std::vector<double> theta(31), grad(31);
  for (size_t i = 0; i < theta.size(); ++i) theta[i] = 0.1 * static_cast<double>(i) - 1.0;
  auto f = [](Var<double> th) {
    auto x = reshape(slice(th, 0, 0, 6), Shape{2, 3});
    auto w = reshape(slice(th, 0, 6, 18), Shape{3, 4});
    auto b = slice(th, 0, 18, 22);
    auto h = linear(x, w, b, LinearAct::tanh);
    auto m = matmul(h, reshape(slice(th, 0, 22, 30), Shape{4, 2}));
    auto rest = sum(sigmoid(m) * m) + dot(th, th);
    auto mm = dot(m, m);  // made last (its own statement): the first rule to reach m
    return rest + mm;
  };
  value_and_grad<double>(f, theta, grad);
  for (double g : grad) EXPECT_TRUE(std::isfinite(g));
  // and the same gradient as in a clean arena
  std::vector<double> again(31);
  {
    GradScope<double> s;
    value_and_grad<double>(f, theta, again);
  }
  for (size_t i = 0; i < grad.size(); ++i) EXPECT_EQ(grad[i], again[i]);
  EXPECT_EQ(grad[30], 2 * theta[30]);  // only the prior reaches the last element
}
