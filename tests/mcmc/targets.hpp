// Targets with known answers for the sampler tests.
#pragma once
#include <cmath>
#include <memory>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "mcmc/test_util.hpp"
#include "trusty/mcmc/log_density.hpp"
#include "trusty/mcmc/targets.hpp"

namespace trusty::test {

// Independent Gaussian N(mu_i, sigma_i²) (the library's built-in target).
inline std::unique_ptr<mcmc::LogDensity> diag_gaussian(const Eigen::VectorXd& mu, const Eigen::VectorXd& sigma) {
  return std::make_unique<mcmc::GaussianTarget>(std::vector<double>(mu.data(), mu.data() + mu.size()),
                                                std::vector<double>(sigma.data(), sigma.data() + sigma.size()));
}

// Gaussian N(mu, cov).
inline std::unique_ptr<mcmc::LogDensity> gaussian(const Eigen::VectorXd& mu, const Eigen::MatrixXd& cov) {
  return std::make_unique<mcmc::MultiNormalTarget>(mu, cov);
}

// Scales log-spaced from lo to hi.
inline Eigen::VectorXd log_spaced(int64_t d, double lo, double hi) {
  Eigen::VectorXd s(d);
  for (int64_t i = 0; i < d; ++i) s[i] = lo * std::pow(hi / lo, d == 1 ? 0.0 : static_cast<double>(i) / (d - 1));
  return s;
}

// Every mean and variance within `k` MCSE of the truth, split R̂ below rhat_max.
inline void expect_moments(const std::vector<mcmc::ChainDraws>& chains, const Eigen::VectorXd& mu,
                           const Eigen::VectorXd& var, double k = 4, double rhat_max = 1.01) {
  for (int64_t j = 0; j < mu.size(); ++j) {
    const Moments m = moments(param(chains, j));
    EXPECT_LT(std::abs(m.mean - mu[j]), k * m.mcse_mean) << "mean of parameter " << j << ": " << m.mean << " vs " << mu[j];
    EXPECT_LT(std::abs(m.var - var[j]), k * m.mcse_var) << "variance of parameter " << j << ": " << m.var << " vs " << var[j];
    EXPECT_LT(m.rhat, rhat_max) << "R-hat of parameter " << j;
  }
}

}  // namespace trusty::test
