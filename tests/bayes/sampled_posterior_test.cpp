// End to end: NUTS (mcmc::sample) on a BayesianNetwork whose posterior is known exactly —
// Bayesian linear regression — and the posterior predictive of its chains against the exact
// predictive. Monte Carlo standard errors use an effective sample size of at least a quarter
// of the 4000 draws (NUTS on a 3-D Gaussian typically gives about all of them); tolerances
// are 4 of those errors.
#include <gtest/gtest.h>

#include <cmath>

#include "linear_regression.hpp"
#include "trusty/bayes/posterior_predictive.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::test {
namespace {

TEST(SampledPosterior, NutsOnABayesianNetworkMatchesTheExactLinearRegressionPosterior) {
  const LinearRegression lr(30, 2, 21);
  const auto chains = mcmc::sample(*lr.model, {.num_warmup = 500, .num_samples = 1000, .chains = 4, .seed = 3});
  Eigen::MatrixXd all(4000, 3);
  for (int c = 0; c < 4; ++c) all.middleRows(1000 * c, 1000) = chains[static_cast<size_t>(c)].params;
  const double ess = 1000;
  for (int64_t i = 0; i < 3; ++i) {
    const double sd = std::sqrt(lr.cov(i, i)), mean = all.col(i).mean();
    const double sd_hat = std::sqrt((all.col(i).array() - mean).square().mean());
    EXPECT_NEAR(mean, lr.mean[i], 4 * sd / std::sqrt(ess)) << i;
    EXPECT_NEAR(sd_hat, sd, 4 * sd / std::sqrt(2 * ess)) << i;
  }
  const core::Tensor<double> xt = uniform_tensor(core::Shape{5, 2}, 22, -2, 2);
  const auto p = bayes::posterior_predictive(*lr.model, chains, xt);
  for (int64_t i = 0; i < 5; ++i) {
    const Eigen::Vector3d phi(xt.data()[2 * i], xt.data()[2 * i + 1], 1);
    const double var_f = phi.dot(lr.cov * phi);
    EXPECT_NEAR(p.mean(i, 0), phi.dot(lr.mean), 4 * std::sqrt(var_f / ess)) << i;
    EXPECT_NEAR(p.sd(i, 0) * p.sd(i, 0), var_f + lr.sigma * lr.sigma, 4 * var_f * std::sqrt(2 / ess)) << i;
  }
}

}  // namespace
}  // namespace trusty::test
