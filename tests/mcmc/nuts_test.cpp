// NUTS with Stan's warmup on targets with known answers. Tolerances: every mean and variance
// within 4 Monte Carlo standard errors (MCSE from the split-chain ESS, Stan's estimator in
// test_util.hpp; for a variance, from the ESS of (x − x̄)²); split R̂ < 1.01 over 4 chains.
// With ~200 checks per target the chance that a correct sampler fails one is ~1%, and the
// seeds are fixed.
#include <gtest/gtest.h>

#include <cmath>

#include "mcmc/targets.hpp"
#include "trusty/mcmc/targets.hpp"
#include "mcmc/test_util.hpp"
#include "trusty/core/rng.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::mcmc {
namespace {

using test::expect_moments;

double mean_accept(const std::vector<ChainDraws>& chains) {
  double s = 0;
  int64_t n = 0;
  for (const auto& c : chains)
    for (size_t i = static_cast<size_t>(c.n_warmup_saved); i < c.accept_stat.size(); ++i, ++n) s += c.accept_stat[i];
  return s / static_cast<double>(n);
}

TEST(Nuts, Gaussian100DLogScalesDiagE) {
  const int64_t d = 100;
  const Eigen::VectorXd sigma = test::log_spaced(d, 0.01, 100);
  Eigen::VectorXd mu(d);
  for (int64_t i = 0; i < d; ++i) mu[i] = sigma[i] * static_cast<double>(i % 3 - 1);
  const auto density = test::diag_gaussian(mu, sigma);
  const auto chains = sample(*density, {.seed = 11, .metric = "diag_e"});
  ASSERT_EQ(chains.size(), 4u);
  expect_moments(chains, mu, sigma.array().square());
  EXPECT_EQ(test::count_divergent(chains), 0);
  // The adapted inverse metric estimates the variances: the last window has ~500 draws of
  // ESS ≥ ~100 each, so a relative error of 35% is > 3 standard errors.
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(chains[0].inv_metric(i, 0) / (sigma[i] * sigma[i]), 1.0, 0.35) << i;
  EXPECT_GT(mean_accept(chains), 0.75);
  EXPECT_GT(chains[0].gradient_evaluations, 2000 * 3);  // recorded (≥ a few steps per iteration)
}

TEST(Nuts, Gaussian2DCorrelation099DenseE) {
  Eigen::Vector2d mu(1.0, -2.0);
  Eigen::Matrix2d cov;
  cov << 1.0, 0.99 * 2.0, 0.99 * 2.0, 4.0;
  const auto density = test::gaussian(mu, cov);
  const auto chains = sample(*density, {.seed = 12, .metric = "dense_e"});
  expect_moments(chains, mu, cov.diagonal());
  EXPECT_EQ(test::count_divergent(chains), 0);
  // The adapted metric has learnt the correlation.
  const Eigen::MatrixXd& m = chains[0].inv_metric;
  EXPECT_NEAR(m(0, 1) / std::sqrt(m(0, 0) * m(1, 1)), 0.99, 0.005);
}

// Bayesian linear regression with known noise: y = Xβ + N(0, σ²), β ~ N(0, τ² I). The
// posterior is Gaussian, Σ = (XᵀX/σ² + I/τ²)⁻¹, m = Σ Xᵀy/σ². Means, variances and the
// covariances within 4 MCSE (a covariance's MCSE from the ESS of (x_i − x̄_i)(x_j − x̄_j)).
TEST(Nuts, LinearRegressionMatchesConjugatePosterior) {
  const int64_t n = 40, k = 3;
  const double sigma = 0.5, tau = 10;
  Eigen::MatrixXd X(n, k);
  Eigen::VectorXd y(n);
  core::Rng data(99);
  const Eigen::Vector3d beta(1.0, -2.0, 0.5);
  for (int64_t i = 0; i < n; ++i) {
    X(i, 0) = 1;
    X(i, 1) = data.normal();
    X(i, 2) = X(i, 1) * 0.6 + 0.8 * data.normal();  // correlated regressors
    y[i] = X.row(i).dot(beta) + sigma * data.normal();
  }
  const LinearRegressionTarget f(X, y, sigma, tau);
  const Eigen::MatrixXd cov = f.posterior_covariance();
  const Eigen::VectorXd mean = f.posterior_mean();
  const auto chains = sample(f, {.seed = 13, .metric = "dense_e"});
  expect_moments(chains, mean, cov.diagonal());
  for (int64_t i = 0; i < k; ++i)
    for (int64_t j = i + 1; j < k; ++j) {
      const Eigen::MatrixXd xi = test::param(chains, i), xj = test::param(chains, j);
      const Eigen::MatrixXd prod = ((xi.array() - xi.mean()) * (xj.array() - xj.mean())).matrix();
      const double c = prod.mean(), se = std::sqrt(test::moments(prod).var / test::ess(prod));
      EXPECT_LT(std::abs(c - cov(i, j)), 4 * se) << "cov(" << i << ", " << j << ") " << c << " vs " << cov(i, j);
    }
}

// Neal's funnel in 10 dimensions: v ~ N(0, 3²), x_k ~ N(0, e^v), k = 1..9. The neck cannot be
// integrated with one step size: NUTS must report divergences, not hide them.
TEST(Nuts, FunnelReportsDivergences) {
  const FunnelTarget f(10);
  const auto chains = sample(f, {.seed = 14});
  const int64_t div = test::count_divergent(chains);
  EXPECT_GT(div, 0);  // 24 of 4000 with this seed (4 to 24 over seeds 14-17)
  // Every divergent transition is flagged in its own row and the rows are consistent.
  for (const auto& c : chains) {
    ASSERT_EQ(c.divergent.size(), static_cast<size_t>(c.n_draws()));
    for (size_t i = 0; i < c.divergent.size(); ++i) EXPECT_TRUE(c.divergent[i] == 0 || c.divergent[i] == 1);
  }
}

}  // namespace
}  // namespace trusty::mcmc
