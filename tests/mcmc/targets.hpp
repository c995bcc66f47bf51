// Targets with known answers for the sampler tests.
#pragma once
#include <cmath>
#include <memory>
#include <vector>

#include <Eigen/Dense>
#include <gtest/gtest.h>

#include "mcmc/test_util.hpp"
#include "trusty/mcmc/log_density.hpp"

namespace trusty::test {

// Independent Gaussian N(mu_i, sigma_i²).
inline std::unique_ptr<mcmc::FunctionDensity> diag_gaussian(const Eigen::VectorXd& mu, const Eigen::VectorXd& sigma) {
  const Eigen::VectorXd prec = sigma.array().square().inverse();
  return std::make_unique<mcmc::FunctionDensity>(mu.size(), [mu, prec](std::span<const double> th, std::span<double> g) {
    double lp = 0;
    for (size_t i = 0; i < th.size(); ++i) {
      const double r = th[i] - mu[static_cast<int64_t>(i)];
      g[i] = -r * prec[static_cast<int64_t>(i)];
      lp += 0.5 * r * g[i];
    }
    return lp;
  });
}

// Gaussian N(mu, cov).
inline std::unique_ptr<mcmc::FunctionDensity> gaussian(const Eigen::VectorXd& mu, const Eigen::MatrixXd& cov) {
  const Eigen::MatrixXd prec = cov.inverse();
  return std::make_unique<mcmc::FunctionDensity>(mu.size(), [mu, prec](std::span<const double> th, std::span<double> g) {
    Eigen::Map<const Eigen::VectorXd> x(th.data(), mu.size());
    Eigen::Map<Eigen::VectorXd> gm(g.data(), mu.size());
    gm.noalias() = -prec * (x - mu);
    return 0.5 * (x - mu).dot(gm);
  });
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
