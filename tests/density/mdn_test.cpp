// Mixture density networks: the element-wise normal log density, the log-sum-exp mixture,
// both MDN forms (general and the seed's intensity form): values against direct formulas,
// normalisation by quadrature, gradients by the repository's finite-difference checker,
// sampling against the mixture's moments.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "test_util.hpp"
#include "trusty/density/intensity_mdn.hpp"
#include "trusty/density/mdn.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;
using density::Covariance;
using density::MdnSpec;
using test::expect_grad;
using test::random_tensor;
using Vs = std::span<const Var<double>>;

namespace {
double log_normal_pdf(double x, double m, double s) {
  const double z = (x - m) / s;
  return -0.5 * z * z - std::log(s) - 0.5 * std::log(2 * std::numbers::pi);
}
}  // namespace

TEST(NormalLogProb, ElementWiseValuesAndSumMatchNormalLpdf) {
  core::GradScope<double> scope;
  const auto x = random_tensor({4, 3}, 1), mu = random_tensor({4, 3}, 2), s = random_tensor({4, 3}, 3, 0.5, 2);
  const auto lp = core::normal_log_prob(core::constant(x), core::constant(mu), core::constant(s));
  ASSERT_EQ(lp.shape(), (Shape{4, 3}));
  for (int64_t i = 0; i < 12; ++i) EXPECT_NEAR(lp.data()[i], log_normal_pdf(x.data()[i], mu.data()[i], s.data()[i]), 1e-14);
  const double total = core::normal_lpdf(core::constant(x), core::constant(mu), core::constant(s)).item();
  EXPECT_NEAR(core::sum(lp).item(), total, 1e-12);
}

TEST(NormalLogProb, GradientWithBroadcasting) {
  // x [N, 1] against components μ [N, K] and a shared σ [K]: the shapes of a mixture.
  expect_grad([](Vs v) { return core::normal_log_prob(v[0], v[1], v[2]); },
              {random_tensor({5, 1}, 4), random_tensor({5, 3}, 5), random_tensor({3}, 6, 0.5, 2)});
  expect_grad([](Vs v) { return core::normal_log_prob(v[0], v[1], v[2]); },
              {random_tensor({2, 3}, 7), random_tensor({}, 8), random_tensor({2, 3}, 9, 0.5, 2)});
}

TEST(NormalLogProb, RejectsNonPositiveSigma) {
  core::GradScope<double> scope;
  Tensor<double> s(Shape{3}, {1.0, 0.0, 2.0});
  const auto msg = test::invalid_argument_message(
      [&] { core::normal_log_prob(core::constant(Tensor<double>(Shape{3})), core::constant(0.0), core::constant(s)); });
  EXPECT_NE(msg.find("sigma[1]"), std::string::npos) << msg;
}

TEST(MixtureLogProb, IsLogSumExpAndGradientChecks) {
  core::GradScope<double> scope;
  const auto w = random_tensor({3, 4}, 10), c = random_tensor({3, 4}, 11, -800, -700);  // would underflow as exp
  const auto lp = density::mixture_log_prob(core::constant(w), core::constant(c));
  for (int64_t r = 0; r < 3; ++r) {
    double top = -1e300, acc = 0;
    for (int64_t k = 0; k < 4; ++k) top = std::max(top, w.data()[r * 4 + k] + c.data()[r * 4 + k]);
    for (int64_t k = 0; k < 4; ++k) acc += std::exp(w.data()[r * 4 + k] + c.data()[r * 4 + k] - top);
    EXPECT_NEAR(lp.data()[r], top + std::log(acc), 1e-12);
  }
  expect_grad([](Vs v) { return density::mixture_log_prob(v[0], v[1]); }, {random_tensor({3, 4}, 12), random_tensor({3, 4}, 13)});
}

TEST(Mdn, DiagonalMatchesDirectFormulaAndGradientChecks) {
  for (bool softplus : {false, true}) {
    const MdnSpec spec{.components = 3, .dims = 2, .softplus_sigma = softplus};
    ASSERT_EQ(spec.output_size(), 3 * (1 + 2 + 2));
    const auto out = random_tensor({4, spec.output_size()}, 20), y = random_tensor({4, 2}, 21);
    core::GradScope<double> scope;
    const auto lp = density::mdn_log_prob(core::constant(out), core::constant(y), spec);
    for (int64_t n = 0; n < 4; ++n) {
      const double* o = out.data() + n * spec.output_size();
      double z = 0, p = 0;
      for (int k = 0; k < 3; ++k) z += std::exp(o[k]);
      for (int k = 0; k < 3; ++k) {
        double l = 0;
        for (int d = 0; d < 2; ++d) {
          const double r = o[3 + 6 + 2 * k + d], s = softplus ? std::log1p(std::exp(r)) : std::exp(r);
          l += log_normal_pdf(y.data()[n * 2 + d], o[3 + 2 * k + d], s);
        }
        p += std::exp(o[k]) / z * std::exp(l);
      }
      EXPECT_NEAR(lp.data()[n], std::log(p), 1e-12);
    }
    expect_grad([&](Vs v) { return density::mdn_log_prob(v[0], v[1], spec); }, {out, y});
  }
}

TEST(Mdn, FullCovarianceMatchesExplicitInverseAndGradientChecks) {
  // D = 2: U = [[e^a, b], [0, e^c]], Σ⁻¹ = UᵀU; the density written with Σ⁻¹ and det Σ⁻¹.
  const MdnSpec spec{.components = 2, .dims = 2, .covariance = Covariance::full};
  ASSERT_EQ(spec.output_size(), 2 * (1 + 2 + 3));
  const auto out = random_tensor({3, spec.output_size()}, 30), y = random_tensor({3, 2}, 31);
  core::GradScope<double> scope;
  const auto lp = density::mdn_log_prob(core::constant(out), core::constant(y), spec);
  for (int64_t n = 0; n < 3; ++n) {
    const double* o = out.data() + n * spec.output_size();
    const double z = std::exp(o[0]) + std::exp(o[1]);
    double p = 0;
    for (int k = 0; k < 2; ++k) {
      const double* r = o + 2 + 4 + 3 * k;
      const double u00 = std::exp(r[0]), u01 = r[1], u11 = std::exp(r[2]);
      const double p00 = u00 * u00, p01 = u00 * u01, p11 = u01 * u01 + u11 * u11;  // UᵀU
      const double d0 = y.data()[2 * n] - o[2 + 2 * k], d1 = y.data()[2 * n + 1] - o[2 + 2 * k + 1];
      const double q = p00 * d0 * d0 + 2 * p01 * d0 * d1 + p11 * d1 * d1, det = p00 * p11 - p01 * p01;
      p += std::exp(o[k]) / z * std::sqrt(det) / (2 * std::numbers::pi) * std::exp(-0.5 * q);
    }
    EXPECT_NEAR(lp.data()[n], std::log(p), 1e-12);
  }
  expect_grad([&](Vs v) { return density::mdn_log_prob(v[0], v[1], spec); }, {out, y});
  const MdnSpec three{.components = 2, .dims = 3, .covariance = Covariance::full};
  expect_grad([&](Vs v) { return density::mdn_nll(v[0], v[1], three); },
              {random_tensor({4, three.output_size()}, 32), random_tensor({4, 3}, 33)});
}

TEST(Mdn, DensityIntegratesToOne) {
  // Midpoint rule on [−12, 12] with 4000 points: error far below 1e-8 for these widths.
  const MdnSpec spec{.components = 3, .dims = 1};
  Tensor<double> row(Shape{1, spec.output_size()}, {0.3, -1.0, 0.5, -2.0, 0.5, 3.0, -0.5, 0.2, 0.0});
  const int m = 4000;
  Tensor<double> out(Shape{m, spec.output_size()}), y(Shape{m, 1});
  for (int i = 0; i < m; ++i) {
    for (int64_t j = 0; j < spec.output_size(); ++j) out.data()[i * spec.output_size() + j] = row.data()[j];
    y.data()[i] = -12 + 24.0 * (i + 0.5) / m;
  }
  core::GradScope<double> scope;
  const auto lp = density::mdn_log_prob(core::constant(out), core::constant(y), spec);
  double total = 0;
  for (int i = 0; i < m; ++i) total += std::exp(lp.data()[i]) * 24.0 / m;
  EXPECT_NEAR(total, 1.0, 1e-8);
}

TEST(Mdn, SamplesHaveTheMixtureMoments) {
  // 2-D, two components with full covariance; 40000 draws of one row. Tolerance: 5 standard
  // errors of the sample mean (sd ≤ 3 here, so 5·3/√40000 = 0.075) and of the covariance.
  const MdnSpec spec{.components = 2, .dims = 2, .covariance = Covariance::full};
  const std::vector<double> row = {0.2, -0.4, 1.0, -1.0, -2.0, 0.5, 0.1, 0.4, -0.3, -0.6, -0.8, 0.2};
  const auto mix = density::mdn_mixture(row, spec);
  // Exact moments: Σ_k = (U_kᵀU_k)⁻¹.
  double mean[2] = {0, 0}, second[2][2] = {{0, 0}, {0, 0}};
  for (int k = 0; k < 2; ++k) {
    const auto& u = mix.scale[static_cast<size_t>(k)];
    const double p00 = u[0] * u[0], p01 = u[0] * u[1], p11 = u[1] * u[1] + u[3] * u[3], det = p00 * p11 - p01 * p01;
    const double c[2][2] = {{p11 / det, -p01 / det}, {-p01 / det, p00 / det}};
    const auto& m = mix.means[static_cast<size_t>(k)];
    for (int i = 0; i < 2; ++i) {
      mean[i] += mix.weights[static_cast<size_t>(k)] * m[static_cast<size_t>(i)];
      for (int j = 0; j < 2; ++j)
        second[i][j] += mix.weights[static_cast<size_t>(k)] * (c[i][j] + m[static_cast<size_t>(i)] * m[static_cast<size_t>(j)]);
    }
  }
  const int n = 40000;
  Tensor<double> out(Shape{n, spec.output_size()});
  for (int i = 0; i < n; ++i)
    for (size_t j = 0; j < row.size(); ++j) out.data()[i * spec.output_size() + static_cast<int64_t>(j)] = row[j];
  core::Rng rng(7);
  const auto y = density::mdn_sample(out, spec, rng);
  double sm[2] = {0, 0}, ss[2][2] = {{0, 0}, {0, 0}};
  for (int i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a) {
      sm[a] += y.data()[2 * i + a] / n;
      for (int b = 0; b < 2; ++b) ss[a][b] += y.data()[2 * i + a] * y.data()[2 * i + b] / n;
    }
  for (int a = 0; a < 2; ++a) {
    EXPECT_NEAR(sm[a], mean[a], 0.075);
    for (int b = 0; b < 2; ++b) EXPECT_NEAR(ss[a][b], second[a][b], 0.15);
  }
}

TEST(Mdn, RejectsWrongShapesNamingThem) {
  core::GradScope<double> scope;
  const MdnSpec spec{.components = 2, .dims = 1};
  auto msg = test::invalid_argument_message([&] {
    density::mdn_log_prob(core::constant(Tensor<double>(Shape{3, 5})), core::constant(Tensor<double>(Shape{3, 1})), spec);
  });
  EXPECT_NE(msg.find("expected [N, 6]"), std::string::npos) << msg;
  msg = test::invalid_argument_message([] { MdnSpec{.components = 0}.validate(); });
  EXPECT_NE(msg.find("components"), std::string::npos) << msg;
}

TEST(IntensityMdn, OffsetsOrderingAndLayout) {
  // θ = 0: α = softplus(ln 10⁻³), μ_0 = ln(2×10¹²), μ_1 = μ_0 + ReLU(0), σ = softplus(ln 10³).
  core::GradScope<double> scope;
  const auto psi = random_tensor({6, 1}, 40, 0, 3);
  auto p = density::intensity_mdn(core::constant(psi), core::constant(Tensor<double>(Shape{12})), 2);
  for (int64_t i = 0; i < 12; ++i) {
    EXPECT_NEAR(p.alpha.data()[i], std::log1p(1e-3), 1e-15);
    EXPECT_NEAR(p.mu.data()[i], std::log(2e12), 1e-12);
    EXPECT_NEAR(p.sigma.data()[i], std::log1p(1e3), 1e-12);
  }
  // Component 2's μ weight and bias: μ_1 − μ_0 = ReLU(w ψ + b) ≥ 0 for any θ.
  const auto theta = random_tensor({12}, 41, -2, 2);
  p = density::intensity_mdn(core::constant(psi), core::constant(theta), 2);
  const double* t = theta.data();
  for (int64_t v = 0; v < 6; ++v) {
    const double x = psi.data()[v];
    EXPECT_NEAR(p.alpha.data()[2 * v + 1], std::log1p(std::exp(t[6] * x + t[7] + std::log(1e-3))), 1e-12);
    EXPECT_NEAR(p.mu.data()[2 * v], t[2] * x + t[3] + std::log(2e12), 1e-12);
    EXPECT_NEAR(p.mu.data()[2 * v + 1] - p.mu.data()[2 * v], std::max(0.0, t[8] * x + t[9]), 1e-12);
    EXPECT_NEAR(p.sigma.data()[2 * v], std::log1p(std::exp(t[4] * x + t[5] + std::log(1e3))), 1e-12);
  }
  EXPECT_EQ(density::intensity_mdn_names(1, 2).size(), 12u);
  EXPECT_EQ(density::intensity_mdn_names(1, 2)[8], "mu.w.2");
}

TEST(IntensityMdn, GradientChecks) {
  // Zero offsets keep the values O(1) so the relative error is meaningful; three components
  // and two features exercise the cumulative sum and the layout. ψ avoids the ReLU kink.
  const density::IntensityOffsets zero{0, 0, 0};
  expect_grad(
      [&](Vs v) {
        const auto p = density::intensity_mdn(v[0], v[1], 3, zero);
        return density::intensity_log_density(p, v[2]);
      },
      {random_tensor({5, 2}, 50, 0.5, 1.5), random_tensor({27}, 51, 0.2, 1), random_tensor({5}, 52)});
}
