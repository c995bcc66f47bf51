// The halo catalogue simulator: the field's statistics, the exactness of its draws, purity
// in (options, seed), and its halo count against the model's expected count.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "test_util.hpp"
#include "trusty/density/halo_simulator.hpp"

using namespace trusty;
using density::FieldOptions;

TEST(LognormalField, VarianceMeanAndSupport) {
  // The rms of g is sigma in expectation; one box's variance scatters (few large-scale modes),
  // so compare the mean over 8 seeds with 4 standard errors of that mean, from the seeds' spread.
  const FieldOptions fo{.grid = 16, .box_size = 32, .spectral_index = -1.5, .smoothing = 2, .sigma = 0.6};
  std::vector<double> var, mean_delta;
  for (uint64_t s = 0; s < 8; ++s) {
    const auto g = density::gaussian_field(fo, s);
    const auto d = density::lognormal_field(fo, s);
    double m = 0, v = 0, md = 0;
    for (double x : g.span()) m += x / static_cast<double>(g.numel());
    for (double x : g.span()) v += (x - m) * (x - m) / static_cast<double>(g.numel());
    for (double x : d.span()) {
      md += x / static_cast<double>(d.numel());
      ASSERT_GT(x, -1.0);
    }
    var.push_back(v + m * m);  // the variance about the true mean 0
    mean_delta.push_back(md);
  }
  auto mean_sd = [](const std::vector<double>& x) {
    double m = 0, s = 0;
    for (double v : x) m += v / static_cast<double>(x.size());
    for (double v : x) s += (v - m) * (v - m) / static_cast<double>(x.size() - 1);
    return std::pair{m, std::sqrt(s / static_cast<double>(x.size()))};
  };
  const auto [mv, sv] = mean_sd(var);
  EXPECT_NEAR(mv, 0.36, 4 * sv + 1e-3) << "sd of the mean " << sv;
  const auto [md, sd] = mean_sd(mean_delta);
  EXPECT_NEAR(md, 0.0, 4 * sd + 1e-3) << "sd of the mean " << sd;
  // Same seed, same field; another seed, another field.
  EXPECT_EQ(max_abs_diff(density::lognormal_field(fo, 3), density::lognormal_field(fo, 3)), 0.0);
  EXPECT_GT(max_abs_diff(density::lognormal_field(fo, 3), density::lognormal_field(fo, 4)), 0.1);
}

TEST(HaloSimulator, PoissonDrawsHaveMeanAndVarianceLambda) {
  // 20000 draws: the sample mean within 5 standard errors √(λ/n); the variance within 5·√(2/n)·λ
  // (plus the λ⁻¹ kurtosis term, small here).
  for (double lam : {0.0, 0.7, 5.0, 29.0, 50.0, 500.0}) {
    core::Rng rng(11, static_cast<uint64_t>(lam * 10));
    const int n = 20000;
    double m = 0, s = 0;
    std::vector<double> x(n);
    for (auto& v : x) m += (v = static_cast<double>(density::poisson_draw(lam, rng))) / n;
    for (double v : x) s += (v - m) * (v - m) / (n - 1);
    EXPECT_NEAR(m, lam, 5 * std::sqrt(lam / n) + 1e-12) << lam;
    EXPECT_NEAR(s, lam, 5 * std::sqrt(2.0 / n) * lam + 5 * std::sqrt(lam / n) + 1e-12) << lam;
  }
}

TEST(HaloSimulator, TruncatedNormalHasTheTruncatedMean) {
  // E[x | x ≥ lo] = m + s φ(a) / (1 − Φ(a)), a = (lo − m)/s; 20000 draws, 5 standard errors
  // (the truncated sd is below s).
  for (double a : {-1.0, 0.4, 1.0, 3.0}) {
    core::Rng rng(12, static_cast<uint64_t>(a * 10 + 100));
    const double m = 28.0, s = 0.8, lo = m + a * s;
    const double phi = std::exp(-0.5 * a * a) / std::sqrt(2 * std::numbers::pi), tail = 0.5 * std::erfc(a / std::sqrt(2.0));
    const int n = 20000;
    double mean = 0;
    for (int i = 0; i < n; ++i) {
      const double x = density::truncated_normal_draw(m, s, lo, rng);
      ASSERT_GE(x, lo);
      mean += x / n;
    }
    EXPECT_NEAR(mean, m + s * phi / tail, 5 * s / std::sqrt(n)) << "a = " << a;
  }
}

TEST(HaloSimulator, PureFunctionOfSeedAndCountMatchesTheModel) {
  density::HaloSimulatorOptions o;
  o.field = {.grid = 12, .box_size = 12, .spectral_index = -1.5, .smoothing = 1.5, .sigma = 0.6};
  const auto a = density::simulate_catalogue(o, 5), b = density::simulate_catalogue(o, 5);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(max_abs_diff(a.masses, b.masses), 0.0);
  EXPECT_EQ(max_abs_diff(a.positions, b.positions), 0.0);
  EXPECT_NE(density::simulate_catalogue(o, 6).size(), a.size());
  a.validate();
  // N ~ Poisson(Λ) given the field: within 4 √Λ.
  const density::NeuralBiasModel model(a);
  const double lambda = model.expected_count(density::default_true_theta());
  EXPECT_GT(lambda, 1000);
  EXPECT_NEAR(static_cast<double>(a.size()), lambda, 4 * std::sqrt(lambda));
  const auto msg = test::invalid_argument_message([] {
    density::HaloSimulatorOptions bad;
    bad.theta = {1, 2, 3};
    bad.validate();
  });
  EXPECT_NE(msg.find("theta has 3 values; expected 17"), std::string::npos) << msg;
}
