// The Poisson point-process likelihood: the voxel term against a direct numerical integral
// of the intensity, the whole ln L against a plain loop, gradients by finite differences.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "test_util.hpp"
#include "trusty/density/poisson_likelihood.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;
using test::random_tensor;
using Vs = std::span<const Var<double>>;

namespace {
// Realistic scales: ln M ≈ 28 to 31, σ ≈ 0.5 to 1.2, threshold ln M = 28.5.
constexpr double kLogThreshold = 28.5, kVolume = 8.0;

Tensor<double> make_theta(uint64_t seed) {
  auto t = random_tensor({12}, seed, -0.3, 0.3);
  t.data()[1] += 7.0;    // b^α_1: α ≈ softplus(0.1) ≈ 0.7
  t.data()[7] += 6.5;    // b^α_2
  t.data()[3] += 0.3;    // b^μ_1
  t.data()[9] += 1.2;    // b^μ_2: μ_2 − μ_1 ≈ 1
  t.data()[5] -= 6.5;    // b^σ: σ ≈ softplus(0.4)
  t.data()[11] -= 6.8;
  return t;
}

double log_normal_pdf(double x, double m, double s) {
  const double z = (x - m) / s;
  return -0.5 * z * z - std::log(s) - 0.5 * std::log(2 * std::numbers::pi);
}
}  // namespace

TEST(PoissonLikelihood, VoxelTermIsTheIntegralOfTheIntensity) {
  // λ_j = V ∫_{M_th}^∞ Σ_i α_i e^{−μ_i} N(ln M; μ_i, σ_i) dM, integrated over u = ln M
  // (dM = e^u du) with Simpson's rule on [ln M_th, ln M_th + 25] (the tail beyond is < e^{-100}),
  // 20000 intervals: error ~1e-12 relative.
  core::GradScope<double> scope;
  const auto psi = random_tensor({7, 1}, 1, 0, 2);
  const auto p = density::intensity_mdn(core::constant(psi), core::constant(make_theta(2)), 2);
  const density::PoissonOptions opt{.voxel_volume = kVolume, .log_threshold = kLogThreshold};
  const auto lambda = density::expected_counts(p, opt);
  for (int64_t v = 0; v < 7; ++v) {
    auto n = [&](double u) {
      double s = 0;
      for (int i = 0; i < 2; ++i) {
        const double a = p.alpha.data()[2 * v + i], m = p.mu.data()[2 * v + i], sg = p.sigma.data()[2 * v + i];
        s += a * std::exp(u - m + log_normal_pdf(u, m, sg));
      }
      return s;
    };
    const int m = 20000;
    const double h = 25.0 / m;
    double acc = n(kLogThreshold) + n(kLogThreshold + 25.0);
    for (int k = 1; k < m; ++k) acc += (k % 2 ? 4 : 2) * n(kLogThreshold + k * h);
    const double integral = kVolume * acc * h / 3;
    EXPECT_NEAR(lambda.data()[v], integral, 1e-10 * integral) << "voxel " << v;
    EXPECT_GT(lambda.data()[v], 0.1);
  }
}

TEST(PoissonLikelihood, MatchesAPlainLoop) {
  core::GradScope<double> scope;
  const auto psi = random_tensor({5, 1}, 3, 0, 2);
  const auto p = density::intensity_mdn(core::constant(psi), core::constant(make_theta(4)), 2);
  const std::vector<int64_t> vox = {0, 3, 3, 4, 1, 0};
  const auto lnm = random_tensor({6}, 5, 28.5, 31.0);
  const density::PoissonOptions opt{.voxel_volume = kVolume, .log_threshold = kLogThreshold};
  const double lnl = density::poisson_log_likelihood(p, vox, core::constant(lnm), opt).item();
  double expect = 0;
  for (size_t j = 0; j < vox.size(); ++j) {
    double s = 0;
    for (int i = 0; i < 2; ++i) {
      const int64_t e = 2 * vox[j] + i;
      s += p.alpha.data()[e] * std::exp(-p.mu.data()[e]) *
           std::exp(log_normal_pdf(lnm.data()[j], p.mu.data()[e], p.sigma.data()[e]));
    }
    expect += std::log(s);
  }
  for (int64_t e = 0; e < 10; ++e) {
    const double a = p.alpha.data()[e], m = p.mu.data()[e], s = p.sigma.data()[e];
    expect -= kVolume * a / 2 * std::exp(s * s / 2) * std::erfc((kLogThreshold - m - s * s) / std::sqrt(2 * s * s));
  }
  EXPECT_NEAR(lnl, expect, 1e-9 * std::abs(expect));
}

TEST(PoissonLikelihood, GradientChecksAgainstFiniteDifferences) {
  // With respect to the features, the head parameters and the halo masses.
  const std::vector<int64_t> vox = {0, 2, 2, 1, 3};
  const density::PoissonOptions opt{.voxel_volume = kVolume, .log_threshold = kLogThreshold};
  test::expect_grad(
      [&](Vs v) { return density::poisson_log_likelihood(density::intensity_mdn(v[0], v[1], 2), vox, v[2], opt); },
      {random_tensor({4, 1}, 6, 0.2, 2), make_theta(7), random_tensor({5}, 8, 28.6, 31.0)}, 1e-6);
}

TEST(PoissonLikelihood, NoHalosLeavesTheVoxelTerm) {
  core::GradScope<double> scope;
  const auto p = density::intensity_mdn(core::constant(random_tensor({3, 1}, 9, 0, 1)), core::constant(make_theta(10)), 2);
  const density::PoissonOptions opt{.voxel_volume = kVolume, .log_threshold = kLogThreshold};
  const double lnl = density::poisson_log_likelihood(p, {}, core::constant(Tensor<double>(Shape{0})), opt).item();
  EXPECT_NEAR(lnl, -core::sum(density::expected_counts(p, opt)).item(), 1e-12);
  const auto msg = test::invalid_argument_message([] { density::PoissonOptions{.voxel_volume = -1}.validate(); });
  EXPECT_NE(msg.find("voxel_volume"), std::string::npos) << msg;
}

TEST(PoissonLikelihood, FusedHaloTermMatchesTheCompositeAndChecks) {
  // The fused node (masses constant) against the composite reference: values and the
  // gradients with respect to features and head parameters; and its own finite-difference check.
  const std::vector<int64_t> vox = {0, 2, 2, 1, 3, 3, 3, 0};
  const auto psi = random_tensor({4, 1}, 20, 0.2, 2), theta = make_theta(21), lnm = random_tensor({8}, 22, 28.6, 31.0);
  auto run = [&](bool fused, std::vector<double>& grads) {
    core::GradScope<double> scope;
    auto a = core::variable(psi), t = core::variable(theta);
    const auto p = density::intensity_mdn(a, t, 2);
    auto h = fused ? density::halo_log_intensity(p, vox, core::constant(lnm))
                   : density::halo_log_intensity_reference(p, vox, core::constant(lnm));
    EXPECT_EQ(std::string(h.op_name()), fused ? "halo_log_intensity" : "logsumexp");
    auto total = core::sum(h);
    scope.backward(total);
    grads.assign(a.grad().begin(), a.grad().end());
    grads.insert(grads.end(), t.grad().begin(), t.grad().end());
    return total.item();
  };
  std::vector<double> gf, gr;
  const double vf = run(true, gf), vr = run(false, gr);
  EXPECT_NEAR(vf, vr, 1e-10 * std::abs(vr));
  for (size_t i = 0; i < gf.size(); ++i) EXPECT_NEAR(gf[i], gr[i], 1e-9 * (1 + std::abs(gr[i]))) << i;
  test::expect_grad([&](Vs v) { return density::halo_log_intensity(density::intensity_mdn(v[0], v[1], 2), vox, core::constant(lnm)); },
                    {psi, theta});
}
