// jvp(): tangents against central differences of f along v, and the reverse gradient of a
// function of the tangent (w.r.t. x, v and the weights inside f) with the gradient checker.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"
#include "trusty/core.hpp"
#include "trusty/core/conv.hpp"
#include "trusty/core/jvp.hpp"

using namespace trusty::core;
using trusty::test::random_tensor;
using V = Var<double>;
using Vs = std::span<const V>;
using Fn = std::function<V(const V&)>;

namespace {

Tensor<double> eval(const Fn& f, const Tensor<double>& x) {
  GradScope<double> s;
  return f(constant(x)).value();
}

// max |jvp - (f(x + hv) - f(x - hv)) / 2h| / max(1, |jvp|).
double jvp_error(const Fn& f, const Tensor<double>& x, const Tensor<double>& v) {
  const double h = 1e-6;
  Tensor<double> xp = x.clone(), xm = x.clone();
  for (size_t i = 0; i < xp.span().size(); ++i) {
    xp.span()[i] += h * v.span()[i];
    xm.span()[i] -= h * v.span()[i];
  }
  auto fp = eval(f, xp).to_vector(), fm = eval(f, xm).to_vector();
  GradScope<double> s;
  auto [y, jv] = jvp<double>(f, constant(x), constant(v));
  EXPECT_LT(max_abs_diff(y.value(), eval(f, x)), 1e-14);
  EXPECT_EQ(jv.shape(), y.shape());
  auto j = jv.value().to_vector();
  double err = 0;
  for (size_t i = 0; i < j.size(); ++i)
    err = std::max(err, std::abs(j[i] - (fp[i] - fm[i]) / (2 * h)) / std::max(1.0, std::abs(j[i])));
  return err;
}

// The functions of a test case: ops on x [4, 6] with fixed weights.
struct Named {
  const char* name;
  Fn f;
};

std::vector<Named> functions() {
  auto w = random_tensor({6, 3}, 11), b = random_tensor({3}, 12), c = random_tensor({6}, 13, 0.5, 1.5);
  auto k = random_tensor({4, 4, 2}, 14), k2 = random_tensor({4, 6}, 15);
  return {
      {"elementwise",
       [=](const V& x) {
         auto a = add(mul(exp(scale(x, 0.5)), constant(c)), sigmoid(x));           // broadcast of c
         auto d = div(log(softplus(x)), add_scalar(sqrt(add_scalar(square(x), 1.0)), 0.5));
         return sub(mul(tanh(a), d), pow(add_scalar(x, 3.0), 1.5)) + relu(x) / 3.0 + neg(x * x);
       }},
      {"linear", [=](const V& x) { return linear(x, constant(w), constant(b), LinearAct::tanh); }},
      {"linear_sigmoid_relu",
       [=](const V& x) {
         return add(linear(x, constant(w), constant(b), LinearAct::sigmoid), linear(x, constant(w), LinearAct::relu));
       }},
      {"matmul_dot", [=](const V& x) { return add(sum(matmul(x, constant(w))), dot(x, x)); }},
      {"reductions",
       [=](const V& x) {
         std::vector<int> ax0{0}, ax1{1};
         auto a = add(mul(sum(x, ax0), mean(square(x), ax0)), constant(k2));  // [6] + [4, 6]
         std::vector<int> rep{-1, 1, 1, 1, 1, 1, 1, 1};  // repeated axes count once
         return add(a, sum(reshape(mean(x, ax1, true), Shape{4})) + sum(square(sum(x, rep))));
       }},
      {"shape",
       [=](const V& x) {
         auto r = reshape(x, Shape{6, 4});
         std::vector<V> parts{slice(r, 0, 0, 2), slice(r, 1, 1, 4, 2), transpose(r), slice(x, 0, 1, 3)};
         std::vector<V> flat;
         for (auto& p : parts) flat.push_back(reshape(p, Shape{p.numel()}));
         flat.push_back(constant(Tensor<double>(Shape{3})));  // a part that does not depend on x
         return concat(std::span<const V>(flat), 0);
       }},
      {"fft",
       [=](const V& x) {
         auto X = rfftn(slice(x, 1, 0, 4), 2);  // [4, 3, 2]
         auto y = irfftn(mul(X, slice(constant(k), 1, 0, 3)), 2, 4);
         auto z = ifftn(fftn(reshape(x, Shape{4, 3, 2}), 1), 1);
         return add(sum(square(y)), sum(mul(z, z)));
       }},
  };
}

}  // namespace

TEST(Jvp, TangentsMatchFiniteDifferences) {
  auto x = random_tensor({4, 6}, 1), v = random_tensor({4, 6}, 2);
  for (const auto& [name, f] : functions()) EXPECT_LT(jvp_error(f, x, v), 1e-7) << name;
}

TEST(Jvp, MorePiecewiseAndScalarOps) {
  auto x = random_tensor({5}, 3, 0.2, 0.9), v = random_tensor({5}, 4);
  for (const Fn& f : std::vector<Fn>{
           [](const V& a) { return add(abs(a), leaky_relu(neg(a), 0.1)); },
           [](const V& a) { return add(elu(a), elu(neg(a), 0.7)); },
           [](const V& a) { return add(erf(a), erfc(scale(a, 2.0))); },
           [](const V& a) { return add(clamp(a, 0.0, 0.5), log1p(a)); },
           [](const V& a) { return add(rdiv_scalar(2.0, a), a - 1.0); },
           [](const V& a) {
             Tensor<double> m(Shape{5}, std::vector<double>{1, 0, 0, 1, 0});
             const int64_t idx[] = {4, 0, 2, 2, 1};
             return add(where(m, exp(a), square(a)), gather(a, 0, idx));
           },
       })
    EXPECT_LT(jvp_error(f, x, v), 1e-7);
}

// A trained summary's derivative must itself be trainable: the reverse gradient of
// Σ (J v)² w.r.t. x, v and the weights inside f, against finite differences.
TEST(Jvp, ReverseThroughTheTangent) {
  auto r = check_gradient(
      [](Vs in) {
        const V &w = in[2], &b = in[3], &k = in[4];
        Fn f = [&](const V& x) {
          auto h = linear(x, w, b, LinearAct::tanh);                  // [4, 3]
          auto X = rfftn(reshape(h, Shape{12}), 1);                    // [7, 2]
          auto y = irfftn(mul(X, k), 1, 12);                           // [12]
          return add(softplus(y), mul(sigmoid(y), exp(scale(y, 0.3))));
        };
        auto [y, jv] = jvp<double>(f, in[0], in[1]);
        return add(sum(square(jv)), mean(y));
      },
      {random_tensor({4, 6}, 21), random_tensor({4, 6}, 22), random_tensor({6, 3}, 23), random_tensor({3}, 24),
       random_tensor({7, 2}, 25)});
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(Jvp, ReverseThroughElementwiseAndMatmul) {
  auto r = check_gradient(
      [](Vs in) {
        const V& w = in[2];
        Fn f = [&](const V& x) {
          auto m = matmul(x, w);
          return add(div(log(add_scalar(square(m), 1.0)), add_scalar(sqrt(add_scalar(square(x), 1.0)), 1.0)),
                     pow(add_scalar(square(m), 2.0), 0.7));
        };
        auto jv = jvp<double>(f, in[0], in[1]).second;
        return sum(mul(jv, jv));
      },
      {random_tensor({3, 3}, 31), random_tensor({3, 3}, 32), random_tensor({3, 3}, 33)});
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(Jvp, UnsupportedOpIsNamed) {
  GradScope<double> s;
  auto x = variable(random_tensor({3, 4}, 41)), v = constant(random_tensor({3, 4}, 42));
  try {
    jvp<double>([](const V& a) { return sum(logsumexp(a, 1)); }, x, v);
    FAIL() << "expected std::logic_error";
  } catch (const std::logic_error& e) {
    EXPECT_NE(std::string(e.what()).find("logsumexp"), std::string::npos) << e.what();
  }
  // The same op on weights that do not depend on x needs no tangent.
  auto w = variable(random_tensor({4}, 43));
  auto [y, jv] = jvp<double>([&](const V& a) { return mul(a, logsumexp(w, 0)); }, x, v);
  EXPECT_LT(max_abs_diff(jv.value(), scale(v, logsumexp(w, 0).item()).value()), 1e-14);
}

TEST(Jvp, EdgeCases) {
  GradScope<double> s;
  auto x = constant(random_tensor({2, 3}, 51)), v = constant(random_tensor({2, 3}, 52));
  auto c = constant(random_tensor({5}, 53));
  auto [y0, t0] = jvp<double>([&](const V&) { return exp(c); }, x, v);  // does not depend on x
  EXPECT_EQ(t0.shape(), Shape{5});
  for (double e : t0.values()) EXPECT_EQ(e, 0.0);
  auto [y1, t1] = jvp<double>([](const V& a) { return a; }, x, v);  // identity: the tangent is v
  EXPECT_LT(max_abs_diff(t1.value(), v.value()), 1e-15);
  EXPECT_THROW(jvp<double>([](const V& a) { return a; }, x, constant(Tensor<double>(Shape{3, 2}))),
               std::invalid_argument);
}

// The docs/autodiff.md example: a Gaussian random field f = √A · irfft2(rfft2(z) / k). With
// S = Σ (∂f/∂A)² = Σ f₁² / 4A, the reverse pass through the tangent must give dS/dA = −S/A.
TEST(Jvp, GaussianRandomFieldAmplitude) {
  GradScope<double> scope;
  Tensor<double> z(Shape{8, 8}), pk(Shape{8, 5, 2});
  for (int64_t i = 0; i < 64; ++i) z.span()[static_cast<size_t>(i)] = std::sin(1.3 * static_cast<double>(i));
  for (int64_t i = 0; i < 8; ++i)
    for (int64_t j = 0; j < 5; ++j) {
      const double k2 = static_cast<double>(std::min(i, 8 - i) * std::min(i, 8 - i) + j * j);
      pk.at({i, j, 0}) = pk.at({i, j, 1}) = k2 > 0 ? 1.0 / std::sqrt(k2) : 0.0;
    }
  auto noise = constant(z), spectrum = constant(pk);
  auto field = [&](const V& amp) { return irfftn(mul(mul(rfftn(noise, 2), spectrum), sqrt(amp)), 2, 8); };
  auto amp = variable(Tensor<double>(Shape{1}, {2.0}));
  auto [f, df] = jvp<double>(field, amp, constant(Tensor<double>(Shape{1}, {1.0})));
  auto s = sum(square(df));
  scope.backward(s);
  ASSERT_GT(s.item(), 1e-3);
  EXPECT_NEAR(amp.grad()[0], -s.item() / 2.0, 1e-12);
  auto f1 = field(constant(Tensor<double>(Shape{1}, {1.0}))).value();  // ∂f/∂A = f₁ / (2√A)
  auto d = df.value();
  for (size_t i = 0; i < d.span().size(); ++i) EXPECT_NEAR(d.span()[i], f1.span()[i] / (2 * std::sqrt(2.0)), 1e-14);
}

// jvp of a jvp: the second directional derivative, here of exp: exp(x) v².
TEST(Jvp, NestedGivesSecondDerivative) {
  GradScope<double> s;
  auto x = constant(random_tensor({4}, 61)), v = constant(random_tensor({4}, 62));
  auto inner = [&](const V& y) { return jvp<double>([](const V& a) { return exp(a); }, y, v).second; };
  auto [d1, d2] = jvp<double>(inner, x, v);
  for (size_t i = 0; i < 4; ++i) {
    const double xi = x.values()[i], vi = v.values()[i];
    EXPECT_NEAR(d1.values()[i], std::exp(xi) * vi, 1e-14);
    EXPECT_NEAR(d2.values()[i], std::exp(xi) * vi * vi, 1e-14);
  }
}

// Convolution and pooling (CNN summaries in IMNN derivative modes 2 and 3): the tangent
// along the input, the weights and the bias on every conv path, with fused ReLU and fused
// max pooling, and through max and average pooling, against central differences. Random
// inputs put no ReLU kink or max-pool tie within h of a value.
TEST(Jvp, ConvolutionAndPoolingMatchFiniteDifferences) {
  const auto x = random_tensor({2, 3, 6, 6}, 71), vx = random_tensor({2, 3, 6, 6}, 72);
  const auto w = random_tensor({4, 3, 3, 3}, 73), vw = random_tensor({4, 3, 3, 3}, 74), b = random_tensor({4}, 75);
  struct Case {
    const char* name;
    ConvSpec spec;
  };
  ConvSpec periodic_relu{.padding = Padding::periodic, .relu = true}, pooled{.padding = Padding::periodic, .relu = true, .pool = 2};
  ConvSpec strided{.stride = {2, 2, 1}, .padding = Padding::same}, plain{};
  ConvSpec pooled_plain{.padding = Padding::same, .pool = 2};
  for (ConvPath path : {ConvPath::automatic, ConvPath::direct, ConvPath::im2col, ConvPath::shifted}) {
    conv_path() = path;
    for (const auto& [name, spec] : std::vector<Case>{{"valid", plain}, {"periodic relu", periodic_relu}, {"fused pool", pooled},
                                                      {"fused pool, no relu", pooled_plain}, {"strided", strided}}) {
      const ConvSpec s = spec;
      const std::string where = std::string(name) + ", path " + std::to_string(static_cast<int>(path));
      EXPECT_LT(jvp_error([&](const V& a) { return conv(a, constant(w), constant(b), s); }, x, vx), 1e-7) << "input, " << where;
      EXPECT_LT(jvp_error([&](const V& k) { return conv(constant(x), k, s); }, w, vw), 1e-7) << "weights, " << where;
      EXPECT_LT(jvp_error([&](const V& c) { return conv(constant(x), constant(w), c, s); }, b, random_tensor({4}, 76)), 1e-7)
          << "bias, " << where;
    }
  }
  conv_path() = ConvPath::automatic;
  for (bool reference : {false, true}) {
    max_pool_reference() = reference;
    EXPECT_LT(jvp_error([](const V& a) { return max_pool(a, 2, 2); }, x, vx), 1e-7) << "max_pool 2x2, reference " << reference;
    EXPECT_LT(jvp_error([](const V& a) { return max_pool(a, 2, 3, 2); }, x, vx), 1e-7) << "max_pool 3/2, reference " << reference;
  }
  max_pool_reference() = false;
  EXPECT_LT(jvp_error([](const V& a) { return avg_pool(elu(a), 2, 3); }, x, vx), 1e-7);
  EXPECT_LT(jvp_error([](const V& a) { return avg_pool(reshape(a, Shape{6, 36}), 1, 4, 2); }, x, vx), 1e-7);
}

// A CNN summary's input tangent must be trainable: the reverse gradient of Σ (J v)² with
// respect to the convolution weights and bias (and x, v) through conv, ELU, max and average
// pooling, against finite differences.
TEST(Jvp, ReverseThroughConvolutionTangents) {
  for (ConvPath path : {ConvPath::direct, ConvPath::im2col, ConvPath::shifted}) {
    conv_path() = path;
    auto r = check_gradient(
        [](Vs in) {
          const V &w = in[2], &b = in[3];
          Fn f = [&](const V& x) {
            auto h = elu(conv(x, w, b, ConvSpec{.padding = Padding::periodic}));
            auto p = max_pool(conv(h, w, b, ConvSpec{.padding = Padding::same, .relu = true, .pool = 2}), 2, 2);
            return tanh(avg_pool(p, 2, 2));
          };
          auto [y, jv] = jvp<double>(f, in[0], in[1]);
          return add(sum(square(jv)), mean(y));
        },
        {random_tensor({2, 2, 8, 8}, 81), random_tensor({2, 2, 8, 8}, 82), random_tensor({2, 2, 3, 3}, 83, -0.6, 0.6),
         random_tensor({2}, 84, -0.1, 0.1)});
    EXPECT_TRUE(r.ok) << "path " << static_cast<int>(path) << ": " << r.str();
  }
  conv_path() = ConvPath::automatic;
}
