// Helpers for the sampler tests: effective sample size, split R̂ and Monte Carlo standard
// errors of means and variances, computed over chains as Stan does (Vehtari, Gelman,
// Simpson, Carpenter & Bürkner 2021, without the rank normalisation: the targets here have
// finite variance), and a few known targets.
#pragma once
#include <algorithm>
#include <cmath>
#include <vector>

#include <Eigen/Dense>

#include "trusty/mcmc/chain.hpp"

namespace trusty::test {

// Chains split in halves: an n × m matrix becomes (n/2) × 2m.
inline Eigen::MatrixXd split_chains(const Eigen::MatrixXd& x) {
  const int64_t h = x.rows() / 2, m = x.cols();
  Eigen::MatrixXd s(h, 2 * m);
  for (int64_t c = 0; c < m; ++c) {
    s.col(2 * c) = x.col(c).head(h);
    s.col(2 * c + 1) = x.col(c).segment(x.rows() - h, h);
  }
  return s;
}

// Effective sample size of draws (iterations × chains), on split chains, with Geyer's initial
// monotone sequence (Stan's compute_effective_sample_size).
inline double ess(const Eigen::MatrixXd& draws) {
  const Eigen::MatrixXd x = split_chains(draws);
  const int64_t n = x.rows(), m = x.cols();
  const Eigen::RowVectorXd means = x.colwise().mean();
  const Eigen::MatrixXd c = x.rowwise() - means;
  auto mean_acov = [&](int64_t lag) {
    double s = 0;
    for (int64_t j = 0; j < m; ++j) s += c.col(j).head(n - lag).dot(c.col(j).tail(n - lag)) / n;
    return s / m;
  };
  const double mean_var = mean_acov(0) * n / (n - 1.0);
  double var_plus = mean_var * (n - 1.0) / n;
  if (m > 1) var_plus += (means.array() - means.mean()).square().sum() / (m - 1.0);
  if (!(var_plus > 0)) return 0;
  auto rho = [&](int64_t lag) { return 1 - (mean_var - mean_acov(lag)) / var_plus; };
  std::vector<double> r(static_cast<size_t>(n + 2), 0.0);
  double even = 1, odd = rho(1);
  r[0] = even, r[1] = odd;
  int64_t s = 1;
  while (s < n - 4 && even + odd > 0) {
    even = rho(s + 1), odd = rho(s + 2);
    if (even + odd >= 0) r[s + 1] = even, r[s + 2] = odd;
    s += 2;
  }
  const int64_t max_s = s;
  if (even > 0) r[max_s + 1] = even;
  for (int64_t k = 1; k <= max_s - 3; k += 2)
    if (r[k + 1] + r[k + 2] > r[k - 1] + r[k]) r[k + 1] = r[k + 2] = (r[k - 1] + r[k]) / 2;
  double tau = -1 + r[max_s + 1];
  for (int64_t k = 0; k < max_s; ++k) tau += 2 * r[k];
  const double total = static_cast<double>(n * m);
  return total / std::max(tau, 1 / std::log10(total));
}

// Split R̂ (Gelman et al. 2013, BDA3 eq. 11.4, on split chains).
inline double split_rhat(const Eigen::MatrixXd& draws) {
  const Eigen::MatrixXd x = split_chains(draws);
  const double n = static_cast<double>(x.rows()), m = static_cast<double>(x.cols());
  const Eigen::RowVectorXd means = x.colwise().mean();
  const double B = n / (m - 1) * (means.array() - means.mean()).square().sum();
  const double W = ((x.rowwise() - means).array().square().colwise().sum() / (n - 1)).mean();
  return std::sqrt(((n - 1) / n * W + B / n) / W);
}

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

// Mean and variance with their MCSEs: sd/√ESS for the mean; for the variance the MCSE of the
// mean of (x − x̄)², with that quantity's own ESS.
inline Moments moments(const Eigen::MatrixXd& x) {
  Moments r;
  const double n = static_cast<double>(x.size());
  r.mean = x.mean();
  const Eigen::MatrixXd sq = (x.array() - r.mean).square().matrix();
  r.var = sq.sum() / (n - 1);
  r.mcse_mean = std::sqrt(r.var / ess(x));
  const double var_sq = (sq.array() - sq.mean()).square().sum() / (n - 1);
  r.mcse_var = std::sqrt(var_sq / ess(sq));
  r.rhat = split_rhat(x);
  return r;
}

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
