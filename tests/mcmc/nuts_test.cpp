// NUTS with Stan's warmup on targets with known answers. Tolerances: every mean and variance
// within 4 Monte Carlo standard errors (MCSE from the split-chain ESS, Stan's estimator in
// test_util.hpp; for a variance, from the ESS of (x − x̄)²); split R̂ < 1.01 over 4 chains.
// With ~200 checks per target the chance that a correct sampler fails one is ~1%, and the
// seeds are fixed.
#include <gtest/gtest.h>

#include <cmath>

#include "mcmc/targets.hpp"
#include "mcmc/test_util.hpp"
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
  // The adapted inverse metric estimates the variances (within 25% on 1/... of warmup draws).
  for (int64_t i = 0; i < d; ++i) EXPECT_NEAR(chains[0].inv_metric(i, 0) / (sigma[i] * sigma[i]), 1.0, 0.35) << i;
  std::printf("100-D: step %.3f, accept %.3f, grad evals %ld\n", chains[0].step_size, mean_accept(chains),
              static_cast<long>(chains[0].gradient_evaluations));
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

}  // namespace
}  // namespace trusty::mcmc
