// Helpers for the sampler tests: Monte Carlo standard errors of means, variances and CDF
// values, and R̂, from the shared diagnostics (Vehtari, Gelman, Simpson, Carpenter & Bürkner
// 2021; diagnostics.hpp); a finite-difference gradient check for a LogDensity.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "trusty/mcmc/chain.hpp"
#include "trusty/mcmc/diagnostics.hpp"

namespace trusty::test {

// Parameter j of every chain as an iterations × chains matrix (sampling draws only).
inline Eigen::MatrixXd param(const std::vector<mcmc::ChainDraws>& chains, int64_t j) {
  const int64_t w = chains[0].n_warmup_saved, n = chains[0].n_draws() - w;
  Eigen::MatrixXd x(n, static_cast<int64_t>(chains.size()));
  for (size_t c = 0; c < chains.size(); ++c) x.col(static_cast<int64_t>(c)) = chains[c].params.col(j).tail(n);
  return x;
}

struct Moments {
  double mean, mcse_mean, var, mcse_var, rhat;
};

// Mean and variance with their MCSEs: sd/√ESS for the mean (mcse_mean); for the variance the
// MCSE of the mean of (x − x̄)², with that quantity's own (split) ESS. R̂: the max of the
// rank-normalised bulk and tail split R̂.
inline Moments moments(const Eigen::MatrixXd& x) {
  Moments r;
  const double n = static_cast<double>(x.size());
  r.mean = x.mean();
  const Eigen::MatrixXd sq = (x.array() - r.mean).square().matrix();
  r.var = sq.sum() / (n - 1);
  r.mcse_mean = mcmc::mcse_mean(x);
  r.mcse_var = mcmc::mcse_mean(sq);
  r.rhat = mcmc::rhat(x);
  return r;
}

inline double ess(const Eigen::MatrixXd& x) { return mcmc::ess_basic(x); }

inline int64_t count_divergent(const std::vector<mcmc::ChainDraws>& chains) {
  int64_t n = 0;
  for (const auto& c : chains)
    for (size_t i = static_cast<size_t>(c.n_warmup_saved); i < c.divergent.size(); ++i) n += c.divergent[i];
  return n;
}

}  // namespace trusty::test

#include "trusty/mcmc/log_density.hpp"

namespace trusty::test {

// Largest relative error |analytic − numeric| / max(1, |analytic|, |numeric|) of a LogDensity's
// gradient at theta against central differences (step h).
inline double gradient_error(const mcmc::LogDensity& f, std::vector<double> theta, double h = 1e-6) {
  std::vector<double> g(theta.size()), scratch(theta.size());
  f.log_density_and_gradient(theta, g);
  double worst = 0;
  for (size_t i = 0; i < theta.size(); ++i) {
    const double t = theta[i];
    theta[i] = t + h;
    const double up = f.log_density_and_gradient(theta, scratch);
    theta[i] = t - h;
    const double down = f.log_density_and_gradient(theta, scratch);
    theta[i] = t;
    const double num = (up - down) / (2 * h);
    worst = std::max(worst, std::abs(g[i] - num) / std::max({1.0, std::abs(g[i]), std::abs(num)}));
  }
  return worst;
}

// P̂(x ≤ x0) over all chains and its MCSE (from the ESS of the indicator).
inline std::pair<double, double> cdf_at(const Eigen::MatrixXd& x, double x0) {
  const Eigen::MatrixXd ind = (x.array() <= x0).cast<double>().matrix();
  const double p = ind.mean();
  return {p, std::sqrt(p * (1 - p) / ess(ind))};
}

}  // namespace trusty::test
