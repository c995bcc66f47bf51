// Every differentiable op passes the finite-difference gradient check.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;
using trusty::test::random_tensor;
using V = Var<double>;
using Vs = std::span<const V>;

namespace {
void expect_grad(const std::function<V(Vs)>& f, const std::vector<Tensor<double>>& in, double tol = 1e-6) {
  auto r = check_gradient(f, in, {.eps = 1e-6, .tol = tol});
  EXPECT_TRUE(r.ok) << r.str();
}
auto R(Shape s, uint64_t seed, double lo = -1, double hi = 1) { return random_tensor(s, seed, lo, hi); }
// The message of the std::invalid_argument f throws ("no exception" if none).
template <class F>
std::string message(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return std::string(e.what());
  }
  return std::string("no exception");
}
}  // namespace

TEST(OpsGrad, BinaryBroadcasting) {
  const std::vector<std::pair<Shape, Shape>> shapes = {
      {{3, 4}, {3, 4}}, {{3, 4}, {4}}, {{3, 1}, {1, 4}}, {{2, 3, 4}, {3, 1}}, {{}, {2, 3}}, {{5}, {}}};
  for (auto [sa, sb] : shapes) {
    auto a = R(sa, 1), b = R(sb, 2, 0.5, 2.0);  // b away from 0 for div
    expect_grad([](Vs v) { return v[0] + v[1]; }, {a, b});
    expect_grad([](Vs v) { return v[0] - v[1]; }, {a, b});
    expect_grad([](Vs v) { return v[0] * v[1]; }, {a, b});
    expect_grad([](Vs v) { return v[0] / v[1]; }, {a, b});
    expect_grad([](Vs v) { return v[1] / v[0]; }, {b, R(sa, 3, 0.5, 2.0)});
  }
}

TEST(OpsGrad, ScalarArithmetic) {
  auto a = R({2, 5}, 4, 0.5, 2);
  expect_grad([](Vs v) { return v[0] + 3.0; }, {a});
  expect_grad([](Vs v) { return 2.0 - v[0]; }, {a});
  expect_grad([](Vs v) { return v[0] * -1.5; }, {a});
  expect_grad([](Vs v) { return 3.0 / v[0]; }, {a});
  expect_grad([](Vs v) { return -v[0]; }, {a});
}

TEST(OpsGrad, Unary) {
  auto x = R({3, 7}, 5, -2, 2);
  auto pos = R({3, 7}, 6, 0.2, 3);
  // Keep kinks (relu, abs, clamp) away from the finite-difference stencil.
  auto kinked = x.clone();
  for (auto& v : kinked.span()) if (std::abs(v) < 0.05) v += 0.1;
  expect_grad([](Vs v) { return exp(v[0]); }, {x});
  expect_grad([](Vs v) { return log(v[0]); }, {pos});
  expect_grad([](Vs v) { return log1p(v[0]); }, {pos});
  expect_grad([](Vs v) { return sqrt(v[0]); }, {pos});
  expect_grad([](Vs v) { return pow(v[0], 2.5); }, {pos});
  expect_grad([](Vs v) { return pow(v[0], -1.5); }, {pos});
  expect_grad([](Vs v) { return abs(v[0]); }, {kinked});
  expect_grad([](Vs v) { return square(v[0]); }, {x});
  expect_grad([](Vs v) { return tanh(v[0]); }, {x});
  expect_grad([](Vs v) { return sigmoid(v[0]); }, {x});
  expect_grad([](Vs v) { return softplus(v[0]); }, {x});
  expect_grad([](Vs v) { return relu(v[0]); }, {kinked});
  expect_grad([](Vs v) { return leaky_relu(v[0], 0.1); }, {kinked});
  expect_grad([](Vs v) { return elu(v[0], 0.7); }, {kinked});
  expect_grad([](Vs v) { return erf(v[0]); }, {x});
  expect_grad([](Vs v) { return erfc(v[0]); }, {x});
  auto clampable = kinked.clone();
  for (auto& v : clampable.span()) if (std::abs(std::abs(v) - 1.0) < 0.05) v += 0.1;
  expect_grad([](Vs v) { return clamp(v[0], -1.0, 1.0); }, {clampable});
}

TEST(OpsGrad, NanPropagatesThroughActivations) {
  GradScope<double> s;
  auto x = constant(Tensor<double>(Shape{1}, {std::nan("")}));
  for (auto f : {+[](const V& v) { return relu(v); }, +[](const V& v) { return leaky_relu(v, 0.1); },
                 +[](const V& v) { return elu(v, 1.0); }, +[](const V& v) { return tanh(v); },
                 +[](const V& v) { return sigmoid(v); }, +[](const V& v) { return softplus(v); },
                 +[](const V& v) { return clamp(v, -1.0, 1.0); }})
    EXPECT_TRUE(std::isnan(f(x).item()));
}

TEST(OpsGrad, Where) {
  auto a = R({4, 3}, 7), b = R({4, 3}, 8);
  Tensor<double> cond(Shape{4, 3});
  for (int64_t i = 0; i < 12; ++i) cond.span()[static_cast<size_t>(i)] = i % 3 == 0;
  expect_grad([&](Vs v) { return where(cond, v[0], v[1]); }, {a, b});
  EXPECT_THROW(
      {
        GradScope<double> s;
        where(cond, variable(a), variable(R({3, 4}, 1)));
      },
      std::invalid_argument);
}

TEST(OpsGrad, ShapeOps) {
  auto a = R({2, 3, 4}, 9);
  expect_grad([](Vs v) { return reshape(v[0], Shape{6, 4}) * 2.0; }, {a});
  expect_grad([](Vs v) { return transpose(v[0]); }, {a});
  expect_grad([](Vs v) { return transpose(v[0], 0, 2); }, {a});
  const int perm[] = {2, 0, 1};
  expect_grad([&](Vs v) { return permute(v[0], perm); }, {a});
  expect_grad([](Vs v) { return slice(v[0], 0, 1, 2); }, {a});      // leading axis: an alias
  expect_grad([](Vs v) { return slice(v[0], 2, 0, 4, 2); }, {a});   // strided copy
  expect_grad([](Vs v) { return slice(v[0], 1, -2, 3); }, {a});
  const int64_t idx[] = {2, 0, 2};
  expect_grad([&](Vs v) { return gather(v[0], 1, idx); }, {a});
  expect_grad([&](Vs v) { return gather(v[0], -1, idx); }, {a});
  auto b = R({2, 1, 4}, 10);
  expect_grad([](Vs v) { std::vector<V> p{v[0], v[1], v[0]}; return concat<double>(p, 1); }, {a, b});
  // Aliased views chained: reshape of a slice of a flat parameter vector.
  auto flat = R({12}, 11);
  expect_grad([](Vs v) { return tanh(reshape(slice(v[0], 0, 2, 8), Shape{2, 3})); }, {flat});
}

TEST(OpsGrad, Reductions) {
  auto a = R({3, 4, 5}, 12, -2, 2);
  expect_grad([](Vs v) { return sum(v[0]); }, {a});
  expect_grad([](Vs v) { return mean(v[0]); }, {a});
  const int ax1[] = {1}, ax02[] = {0, 2}, axneg[] = {-1};
  expect_grad([&](Vs v) { return sum(v[0], ax1); }, {a});
  expect_grad([&](Vs v) { return sum(v[0], ax02, true); }, {a});
  expect_grad([&](Vs v) { return mean(v[0], axneg); }, {a});
  expect_grad([](Vs v) { return max(v[0], 1); }, {a});
  expect_grad([](Vs v) { return max(v[0], 0, true); }, {a});
  for (int ax : {0, 1, 2}) {
    expect_grad([&](Vs v) { return logsumexp(v[0], ax); }, {a});
    expect_grad([&](Vs v) { return softmax(v[0], ax); }, {a});
    expect_grad([&](Vs v) { return log_softmax(v[0], ax); }, {a});
  }
  expect_grad([](Vs v) { return logsumexp(v[0], -1, true); }, {a});
}

TEST(OpsGrad, Products) {
  expect_grad([](Vs v) { return matmul(v[0], v[1]); }, {R({3, 4}, 13), R({4, 5}, 14)});
  expect_grad([](Vs v) { return matmul(v[0], v[1]); }, {R({2, 3, 4}, 15), R({4, 2}, 16)});
  expect_grad([](Vs v) { return matmul(v[0], v[1]); }, {R({2, 3, 4}, 17), R({2, 4, 5}, 18)});
  expect_grad([](Vs v) { return matmul(v[0], v[1]); }, {R({70, 65}, 19), R({65, 80}, 20)});  // OpenBLAS path
  expect_grad([](Vs v) { return dot(v[0], v[1]); }, {R({6}, 21), R({6}, 22)});
  expect_grad([](Vs v) { return linear(v[0], v[1], v[2]); }, {R({5, 3}, 23), R({3, 4}, 24), R({4}, 25)});
  expect_grad([](Vs v) { return linear(v[0], v[1]); }, {R({2, 5, 3}, 26), R({3, 4}, 27)});
  {  // linear agrees with matmul + add
    GradScope<double> s;
    auto x = constant(R({6, 3}, 28)), w = constant(R({3, 2}, 29)), b = constant(R({2}, 30));
    EXPECT_LT(max_abs_diff(linear(x, w, b).value(), (matmul(x, w) + b).value()), 1e-15);
    EXPECT_THROW(linear(x, w, constant(R({3}, 1))), std::invalid_argument);
  }
}

// Fused against reference, tensor by tensor, within tol relative to the reference's largest
// magnitude (at least 1).
template <class T>
void expect_each_close(const std::vector<Tensor<T>>& f, const std::vector<Tensor<T>>& r, std::vector<const char*> what, double tol) {
  ASSERT_EQ(f.size(), r.size());
  for (size_t i = 0; i < f.size(); ++i) {
    double scale = 1;
    for (auto v : r[i].span()) scale = std::max(scale, std::abs(static_cast<double>(v)));
    EXPECT_LE(max_abs_diff(f[i], r[i]), tol * scale) << what[i];
  }
}

// linear(x, W, b, act) is one node; it must equal act(linear(x, W, b)) in value and in every
// gradient, on the small-kernel path (odd widths: masked vector tails) and the OpenBLAS path,
// in double and float, and pass the finite-difference check itself.
template <class T>
void expect_fused_linear_matches(int64_t rows, int64_t k, int64_t n, LinearAct act, bool bias, double tol) {
  SCOPED_TRACE("rows " + std::to_string(rows) + " k " + std::to_string(k) + " n " + std::to_string(n) + " act " +
               std::to_string(static_cast<int>(act)) + (bias ? " bias" : " no bias"));
  auto cast = [](const Tensor<double>& t) {
    Tensor<T> o(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) o.span()[i] = static_cast<T>(t.span()[i]);
    return o;
  };
  const auto x = cast(R({rows, k}, 40, -2, 2)), w = cast(R({k, n}, 41)), b = cast(R({n}, 42)), up = cast(R({rows, n}, 43));
  auto run = [&](bool fused) {
    GradScope<T> s;
    auto xv = variable(x), wv = variable(w), bv = variable(b);
    Var<T> y;
    if (fused) y = bias ? linear(xv, wv, bv, act) : linear(xv, wv, act);
    else {
      y = bias ? linear(xv, wv, bv) : linear(xv, wv);
      if (act == LinearAct::tanh) y = tanh(y);
      if (act == LinearAct::sigmoid) y = sigmoid(y);
      if (act == LinearAct::relu) y = relu(y);
    }
    auto loss = sum(y * constant(up));  // a non-uniform upstream gradient
    s.backward(loss);
    return std::vector<Tensor<T>>{y.value(), y.grad_tensor(), xv.grad_tensor(), wv.grad_tensor(), bv.grad_tensor()};
  };
  expect_each_close(run(true), run(false), {"value", "dL/dy", "dL/dx", "dL/dW", "dL/db"}, tol);
}

TEST(OpsGrad, FusedLinearActivation) {
  for (LinearAct act : {LinearAct::none, LinearAct::tanh, LinearAct::sigmoid, LinearAct::relu}) {
    for (bool bias : {true, false}) {
      expect_fused_linear_matches<double>(100, 20, 20, act, bias, 1e-13);  // the BNN benchmark's layer
      expect_fused_linear_matches<double>(7, 5, 37, act, bias, 1e-13);     // masked tails, two column chunks
      expect_fused_linear_matches<double>(100, 1, 20, act, bias, 1e-13);   // k = 1
      expect_fused_linear_matches<double>(96, 80, 70, act, bias, 1e-12);   // OpenBLAS path
      expect_fused_linear_matches<float>(33, 9, 45, act, bias, 2e-5);
    }
  }
  // The fused node itself, finite differences (relu away from its kink: a small input range).
  expect_grad([](Vs v) { return linear(v[0], v[1], v[2], LinearAct::tanh); }, {R({5, 3}, 44), R({3, 4}, 45), R({4}, 46)});
  expect_grad([](Vs v) { return linear(v[0], v[1], v[2], LinearAct::sigmoid); }, {R({5, 3}, 47), R({3, 4}, 48), R({4}, 49)});
  expect_grad([](Vs v) { return linear(v[0], v[1], LinearAct::tanh); }, {R({2, 5, 3}, 50), R({3, 4}, 51)});
  expect_grad([](Vs v) { return linear(v[0], v[1], v[2], LinearAct::relu); }, {R({5, 3}, 52), R({3, 4}, 53), R({4}, 54, 0.5, 1)});
  {
    GradScope<double> s;
    auto x = constant(R({4, 3}, 55)), w = constant(R({3, 2}, 56));
    EXPECT_STREQ(linear(x, w, LinearAct::tanh).op_name(), "linear+tanh");
    EXPECT_THROW(linear(x, constant(R({2, 2}, 1)), LinearAct::tanh), std::invalid_argument);
  }
}

// mlp (the whole network as one node, rows along the vector lanes) against the chain of
// linear() nodes it replaces: value and every gradient, for widths that exercise every tile
// (12, 8, 4, 2, 1 outputs, split partial sums for narrow ones; W..1 gradient columns with
// their row blocks and the 4/2/1-row remainders, several rows per lane-sum reduction), rows
// that leave one, two or no whole pairs of vectors and a masked remainder, both element
// types, each activation.
template <class T>
void expect_mlp_matches(int64_t rows, std::vector<int64_t> widths, LinearAct act, double tol, bool x_grad = true) {
  std::string ws;
  for (auto w : widths) ws += std::to_string(w) + " ";
  SCOPED_TRACE("rows " + std::to_string(rows) + " widths " + ws + "act " + std::to_string(static_cast<int>(act)));
  int64_t np = 0;
  for (size_t l = 1; l < widths.size(); ++l) np += widths[l - 1] * widths[l] + widths[l];
  auto cast = [](const Tensor<double>& t) {
    Tensor<T> o(t.shape());
    for (int64_t i = 0; i < t.numel(); ++i) o.span()[i] = static_cast<T>(t.span()[i]);
    return o;
  };
  const auto x = cast(R({rows, widths.front()}, 60, -2, 2)), p = cast(R({np}, 61, -0.8, 0.8));
  const auto up = cast(R({rows, widths.back()}, 62));
  auto run = [&](bool fused) {
    GradScope<T> s;
    auto xv = x_grad ? variable(x) : constant(x), pv = variable(p);
    auto y = fused ? mlp(xv, pv, widths, act) : mlp_reference(xv, pv, widths, act);
    // p also reaches the loss directly, so the node's parameter gradient is added to one
    // already written (the other order is the benchmark's: the node first).
    auto loss = sum(y * constant(up)) + dot(pv, pv);
    s.backward(loss);
    std::vector<Tensor<T>> out{y.value(), pv.grad_tensor()};
    if (x_grad) out.push_back(xv.grad_tensor());
    return out;
  };
  expect_each_close(run(true), run(false), {"value", "dL/dparams", "dL/dx"}, tol);
}

TEST(OpsGrad, MlpMatchesLinearChain) {
  for (LinearAct act : {LinearAct::tanh, LinearAct::sigmoid, LinearAct::relu, LinearAct::none}) {
    expect_mlp_matches<double>(100, {1, 20, 20, 1}, act, 1e-13);  // the BNN benchmark's network
    expect_mlp_matches<double>(37, {3, 29, 7, 2}, act, 1e-13);    // tails everywhere: 12+12+4+1, 4+2+1
    expect_mlp_matches<double>(16, {5, 11, 3}, act, 1e-13);       // exactly one pair of vectors
    expect_mlp_matches<double>(3, {2, 6}, act, 1e-13, false);     // one layer, fewer rows than a vector
    expect_mlp_matches<double>(200, {13, 40, 40, 40, 5}, act, 1e-12);
    expect_mlp_matches<double>(45, {3, 11, 1, 4, 1}, act, 1e-13);  // one-output layers, last and inside
    expect_mlp_matches<float>(21, {2, 19, 1}, act, 3e-5);
    expect_mlp_matches<float>(70, {4, 33, 17, 3}, act, 3e-5);
  }
  expect_mlp_matches<double>(50, {3, 200, 2}, LinearAct::tanh, 1e-13);  // wider than the fused node: the chain
  // Finite differences on the node itself (relu away from its kink: positive inputs and weights).
  const std::vector<int64_t> w1 = {3, 5, 4, 2};
  expect_grad([&](Vs v) { return mlp(v[0], v[1], w1, LinearAct::tanh); }, {R({9, 3}, 63), R({54}, 64)});
  expect_grad([&](Vs v) { return mlp(v[0], v[1], w1, LinearAct::sigmoid); }, {R({9, 3}, 65), R({54}, 66)});
  expect_grad([&](Vs v) { return mlp(v[0], v[1], w1, LinearAct::relu); }, {R({9, 3}, 67, 0.2, 1), R({54}, 68, 0.2, 1)});
  expect_grad([&](Vs v) { return mlp(v[0], v[1], w1, LinearAct::none); }, {R({2, 9, 3}, 69), R({54}, 70)});
  {
    GradScope<double> s;
    auto x = constant(R({4, 3}, 71)), p = variable(R({54}, 72));
    EXPECT_STREQ(mlp(x, p, w1, LinearAct::tanh).op_name(), "mlp");
    const std::vector<int64_t> bad = {3, 5, 4, 3};
    EXPECT_NE(message([&] { mlp(x, p, bad, LinearAct::tanh); }).find("expected [59]"), std::string::npos);
    EXPECT_NE(message([&] { mlp(constant(R({4, 2}, 1)), p, w1, LinearAct::tanh); }).find("[4, 2]"), std::string::npos);
    const std::vector<int64_t> one = {3};
    EXPECT_NE(message([&] { mlp(x, p, one, LinearAct::tanh); }).find("widths {3}"), std::string::npos);
  }
  {  // backward reuses the node's activations as gradient buffers: a second pass is refused
    GradScope<double> s;
    auto loss = sum(mlp(constant(R({4, 3}, 73)), variable(R({54}, 74)), w1, LinearAct::tanh));
    s.backward(loss);
    EXPECT_THROW(s.backward(loss), std::logic_error);
  }
}

// normal_lpdf: the value against the density written out in long double, and the gradient
// of every argument by finite differences, for each way of sharing one element among the
// terms (x, mu, sigma each n elements or one) and for the number overloads.
TEST(OpsGrad, NormalLpdf) {
  auto reference = [](const Tensor<double>& x, const Tensor<double>& mu, const Tensor<double>& sigma) {
    const int64_t n = std::max({x.numel(), mu.numel(), sigma.numel()});
    auto at = [](const Tensor<double>& t, int64_t i) { return static_cast<long double>(t.span()[t.numel() == 1 ? 0 : i]); };
    long double s = 0;
    for (int64_t i = 0; i < n; ++i) {
      const long double z = (at(x, i) - at(mu, i)) / at(sigma, i);
      s += -0.5L * z * z - std::log(at(sigma, i)) - 0.5L * std::log(2 * 3.14159265358979323846264338327950288L);
    }
    return static_cast<double>(s);
  };
  for (int k = 0; k < 8; ++k) {
    SCOPED_TRACE("sharing pattern " + std::to_string(k));
    const Shape full{3, 7}, one{1};
    const auto x = R(k & 4 ? full : one, 80, -2, 2), mu = R(k & 2 ? full : one, 81, -1, 1), sg = R(k & 1 ? full : one, 82, 0.3, 2);
    {
      GradScope<double> s;
      EXPECT_NEAR(normal_lpdf(constant(x), constant(mu), constant(sg)).item(), reference(x, mu, sg), 1e-12 * 21);
    }
    expect_grad([](Vs v) { return normal_lpdf(v[0], v[1], v[2]); }, {x, mu, sg});
  }
  const auto x = R({4, 5}, 83, -2, 2), mu = R({4, 5}, 84);
  expect_grad([](Vs v) { return normal_lpdf(v[0], v[1], 0.7); }, {x, mu});
  expect_grad([](Vs v) { return normal_lpdf(v[0], 0.3, 1.5); }, {x});
  expect_grad([](Vs v) { return normal_lpdf(v[0], v[0], v[1]); }, {x, R({4, 5}, 85, 0.5, 1)});  // one node twice
  expect_grad([](Vs v) { return normal_lpdf(v[0], 0.0, 1.0) * 2.0 + dot(v[0], v[0]); }, {x});     // gradient added to
  {
    GradScope<double> s;
    Tensor<double> one(Shape{1}, std::vector<double>{1.0}), sd(Shape{1}, std::vector<double>{0.7});
    EXPECT_NEAR(normal_lpdf(constant(x), 0.3, 1.5).item(), reference(x, Tensor<double>(Shape{1}, std::vector<double>{0.3}),
                                                                     Tensor<double>(Shape{1}, std::vector<double>{1.5})), 1e-12 * 20);
    EXPECT_NEAR(normal_lpdf(constant(x), constant(mu), 0.7).item(), reference(x, mu, sd), 1e-12 * 20);
    EXPECT_STREQ(normal_lpdf(constant(x), 0.0, 1.0).op_name(), "normal_lpdf");
    EXPECT_NE(message([&] { normal_lpdf(constant(x), constant(R({5, 4}, 1)), 1.0); }).find("mu [5, 4] does not match [4, 5]"),
              std::string::npos);
    EXPECT_NE(message([&] { normal_lpdf(constant(x), 0.0, -1.0); }).find("sigma = -1"), std::string::npos);
    auto bad = R({4, 5}, 86, 0.5, 1);
    bad.span()[7] = 0;
    EXPECT_NE(message([&] { normal_lpdf(constant(x), constant(mu), constant(bad)); }).find("sigma[7] = 0"), std::string::npos);
  }
}

TEST(OpsGrad, ShapeErrorsNameShapes) {
  GradScope<double> s;
  auto a = variable(R({2, 3}, 1)), b = variable(R({4, 5}, 2));
  try {
    matmul(a, b);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3] and [4, 5]"), std::string::npos) << e.what();
  }
  EXPECT_THROW(a + b, std::invalid_argument);
  EXPECT_THROW(reshape(a, Shape{5}), std::invalid_argument);
  EXPECT_THROW(slice(a, 1, 2, 1), std::invalid_argument);
  const int64_t bad[] = {3};
  EXPECT_THROW(gather(a, 1, bad), std::invalid_argument);
  EXPECT_THROW(sum(a, std::vector<int>{2}), std::invalid_argument);
  EXPECT_THROW(clamp(a, 1.0, -1.0), std::invalid_argument);
}

TEST(OpsGrad, FloatAgreesWithDouble) {
  // Same graph in float and double: values agree to float precision, gradients too.
  auto xd = R({8, 5}, 23);
  Tensor<float> xf(xd.shape());
  for (int64_t i = 0; i < xd.numel(); ++i) xf.span()[static_cast<size_t>(i)] = static_cast<float>(xd.span()[static_cast<size_t>(i)]);
  auto graph = [](auto x) { return sum(log_softmax(tanh(x) * softplus(x), -1)); };
  std::vector<Tensor<double>> gd(1);
  std::vector<Tensor<float>> gf(1);
  double vd = value_and_grad<double>([&](std::span<const Var<double>> v) { return graph(v[0]); }, std::vector{xd}, gd);
  float vf = value_and_grad<float>([&](std::span<const Var<float>> v) { return graph(v[0]); }, std::vector{xf}, gf);
  EXPECT_NEAR(vd, vf, 1e-5 * std::abs(vd));
  for (int64_t i = 0; i < xd.numel(); ++i)
    EXPECT_NEAR(gd[0].span()[static_cast<size_t>(i)], gf[0].span()[static_cast<size_t>(i)], 1e-5);
}
