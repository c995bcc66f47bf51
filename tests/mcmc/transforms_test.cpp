// Constraint transforms: values, names, inverses, the log-Jacobian against a numerical
// determinant, gradients against central differences, and positive parameters sampled
// through their transform (half-normal, Gamma) matching the known marginals.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mcmc/test_util.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/mcmc/sampler.hpp"
#include "trusty/mcmc/transforms.hpp"

namespace trusty::mcmc {
namespace {

ParamSpec all_kinds() {
  return ParamSpec({{.name = "mu"},
                    {.name = "sigma", .kind = TransformKind::positive},
                    {.name = "a", .size = 2, .kind = TransformKind::lower, .lower = -1.5},
                    {.name = "b", .kind = TransformKind::upper, .upper = 3},
                    {.name = "r", .kind = TransformKind::interval, .lower = -2, .upper = 5},
                    {.name = "w", .size = 4, .kind = TransformKind::simplex}});
}
const std::vector<double> kY = {0.3, -0.7, 0.2, 1.1, -0.4, 0.9, -1.3, 0.5, 0.8};

TEST(Transforms, NamesValuesAndInverse) {
  const ParamSpec s = all_kinds();
  EXPECT_EQ(s.unconstrained_dim(), 9);
  EXPECT_EQ(s.constrained_dim(), 10);
  const std::vector<std::string> names = {"mu", "sigma", "a.1", "a.2", "b", "r", "w.1", "w.2", "w.3", "w.4"};
  EXPECT_EQ(s.names(), names);
  std::vector<double> x(10), y(9);
  s.constrain(kY, x);
  EXPECT_DOUBLE_EQ(x[0], 0.3);
  EXPECT_DOUBLE_EQ(x[1], std::exp(-0.7));
  EXPECT_DOUBLE_EQ(x[2], -1.5 + std::exp(0.2));
  EXPECT_DOUBLE_EQ(x[4], 3 - std::exp(-0.4));
  EXPECT_NEAR(x[5], -2 + 7 / (1 + std::exp(-0.9)), 1e-14);
  double total = 0;
  for (size_t i = 6; i < 10; ++i) {
    total += x[i];
    EXPECT_GT(x[i], 0);
  }
  EXPECT_NEAR(total, 1.0, 1e-14);
  // y = 0 maps to the centre of the simplex (Stan's offsets ln(K − k − 1)).
  std::vector<double> y0(9, 0.0);
  s.constrain(y0, x);
  for (int i = 6; i < 10; ++i) EXPECT_NEAR(x[static_cast<size_t>(i)], 0.25, 1e-14);
  s.constrain(kY, x);
  s.unconstrain(x, y);
  for (size_t i = 0; i < 9; ++i) EXPECT_NEAR(y[i], kY[i], 1e-12) << i;
}

// ln|J| against ln|det| of the numerical Jacobian of the free coordinates (the simplex's
// first K − 1 values: its last is 1 minus their sum).
TEST(Transforms, LogJacobianMatchesNumericalDeterminant) {
  const ParamSpec s = all_kinds();
  std::vector<double> x(10), xp(10), xm(10), y = kY;
  const double lj = s.constrain(y, x);
  const std::vector<int> free = {0, 1, 2, 3, 4, 5, 6, 7, 8};  // drops w.4
  Eigen::MatrixXd J(9, 9);
  const double h = 1e-6;
  for (int j = 0; j < 9; ++j) {
    y[static_cast<size_t>(j)] += h;
    s.constrain(y, xp);
    y[static_cast<size_t>(j)] -= 2 * h;
    s.constrain(y, xm);
    y[static_cast<size_t>(j)] += h;
    for (int i = 0; i < 9; ++i)
      J(i, j) = (xp[static_cast<size_t>(free[static_cast<size_t>(i)])] - xm[static_cast<size_t>(free[static_cast<size_t>(i)])]) / (2 * h);
  }
  EXPECT_NEAR(lj, std::log(std::abs(J.determinant())), 1e-7);
}

TEST(Transforms, GradientOfDensityPlusLogJacobian) {
  const ParamSpec s = all_kinds();
  // A constrained density with a non-zero gradient in every coordinate.
  TransformedDensity d(s, [](std::span<const double> x, std::span<double> g) {
    double lp = 0;
    for (size_t i = 0; i < x.size(); ++i) {
      const double c = 0.3 * static_cast<double>(i) - 1;
      lp += c * x[i] - 0.1 * x[i] * x[i];
      g[i] = c - 0.2 * x[i];
    }
    return lp;
  });
  EXPECT_LT(test::gradient_error(d, kY), 1e-7);
  EXPECT_LT(test::gradient_error(d, std::vector<double>(9, -2.0)), 1e-7);
  // The log-Jacobian alone.
  TransformedDensity j(s, [](std::span<const double>, std::span<double>) { return 0.0; });
  EXPECT_LT(test::gradient_error(j, kY), 1e-7);
  std::vector<double> x(10), g(9);
  EXPECT_DOUBLE_EQ(j.log_density_and_gradient(kY, g), s.constrain(kY, x));
}

// A transformed density evaluated inside another one (its scratch is per nesting level).
TEST(Transforms, NestedTransformedDensities) {
  const ParamSpec inner_spec({{.name = "s", .size = 3, .kind = TransformKind::positive}});
  TransformedDensity inner(inner_spec, [](std::span<const double> x, std::span<double> g) {
    double lp = 0;
    for (size_t i = 0; i < x.size(); ++i) lp -= x[i], g[i] = -1;
    return lp;
  });
  TransformedDensity outer(all_kinds(), [&](std::span<const double> x, std::span<double> g) {
    std::vector<double> y = {x[0], x[1], x[2]}, gy(3);
    const double a = inner.log_density_and_gradient(y, gy);  // ln π_inner(exp(y)) + Σy
    for (size_t i = 0; i < x.size(); ++i) g[i] = i < 3 ? gy[i] : 0.0;
    return a;
  });
  EXPECT_LT(test::gradient_error(outer, kY), 1e-7);
}

TEST(Transforms, BadBlocksNamed) {
  auto msg = [](std::vector<ParamBlock> b) {
    try {
      ParamSpec s(std::move(b));
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no exception");
  };
  EXPECT_NE(msg({{.name = "w", .size = 1, .kind = TransformKind::simplex}}).find("\"w\": a simplex needs size >= 2"),
            std::string::npos);
  EXPECT_NE(msg({{.name = "r", .kind = TransformKind::interval, .lower = 1, .upper = 1}}).find("\"r\": interval needs lower < upper"),
            std::string::npos);
}

// Half-normal(scale 2) through the positive transform, a plain density; 4 chains × 1000.
// Mean, variance within 4 MCSE; P̂(σ ≤ q) at the true 10%, 50%, 90% quantiles within 4 MCSE
// of the indicator.
TEST(Transforms, HalfNormalThroughPositiveTransform) {
  const double s = 2;
  TransformedDensity d(ParamSpec({{.name = "sigma", .kind = TransformKind::positive}}),
                       [s](std::span<const double> x, std::span<double> g) {
                         g[0] = -x[0] / (s * s);
                         return -0.5 * x[0] * x[0] / (s * s);
                       });
  const auto chains = sample(d, {.seed = 21});
  EXPECT_EQ(chains[0].param_names, std::vector<std::string>{"sigma"});
  const Eigen::MatrixXd x = test::param(chains, 0);
  EXPECT_GT(x.minCoeff(), 0);
  const test::Moments m = test::moments(x);
  EXPECT_LT(std::abs(m.mean - s * std::sqrt(2 / std::numbers::pi)), 4 * m.mcse_mean);
  EXPECT_LT(std::abs(m.var - s * s * (1 - 2 / std::numbers::pi)), 4 * m.mcse_var);
  EXPECT_LT(m.rhat, 1.01);
  // Quantiles of |N(0, s²)|: s·Φ⁻¹((1 + p)/2).
  for (auto [p, z] : {std::pair{0.1, 0.12566134685507402}, {0.5, 0.6744897501960817}, {0.9, 1.6448536269514722}}) {
    const auto [phat, se] = test::cdf_at(x, s * z);
    EXPECT_LT(std::abs(phat - p), 4 * se) << "quantile " << p;
  }
}

// Gamma(shape 3, rate 2) written with trusty autodiff: ln π = 2 ln x − 2x. CDF for integer
// shape: 1 − e^{−βx}(1 + βx + (βx)²/2).
TEST(Transforms, GammaThroughPositiveTransformAutodiff) {
  const double alpha = 3, beta = 2;
  TransformedDensity d(ParamSpec({{.name = "lambda", .kind = TransformKind::positive}}),
                       TransformedDensity::AutodiffFn([=](core::Var<double> x) {
                         return core::sum(core::scale(core::log(x), alpha - 1) - core::scale(x, beta));
                       }));
  EXPECT_LT(test::gradient_error(d, {0.4}), 1e-7);
  const auto chains = sample(d, {.seed = 22, .metric = "unit_e"});
  const Eigen::MatrixXd x = test::param(chains, 0);
  const test::Moments m = test::moments(x);
  EXPECT_LT(std::abs(m.mean - alpha / beta), 4 * m.mcse_mean);
  EXPECT_LT(std::abs(m.var - alpha / (beta * beta)), 4 * m.mcse_var);
  EXPECT_LT(m.rhat, 1.01);
  for (double x0 : {0.6, 1.3, 2.7}) {
    const double bx = beta * x0, cdf = 1 - std::exp(-bx) * (1 + bx + bx * bx / 2);
    const auto [phat, se] = test::cdf_at(x, x0);
    EXPECT_LT(std::abs(phat - cdf), 4 * se) << "CDF at " << x0;
  }
}

}  // namespace
}  // namespace trusty::mcmc
