// Bayesian linear regression as a BayesianNetwork (one Dense layer, Gaussian noise of known
// σ, N(0, s²) priors): its posterior is Gaussian and known exactly, precision
// Λ = ΦᵀΦ/σ² + I/s², mean m = Λ⁻¹Φᵀy/σ² with Φ = [x, 1] — the target whose answer the
// predictive and variational tests know.
#pragma once
#include <Eigen/Dense>

#include "density_check.hpp"
#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/core/rng.hpp"
#include "trusty/nn/layers.hpp"

namespace trusty::test {

struct LinearRegression {
  static constexpr double sigma = 0.5;
  double prior_sd;
  core::Tensor<double> x, y;
  Eigen::MatrixXd precision, cov;
  Eigen::VectorXd mean;
  std::unique_ptr<bayes::BayesianNetwork> model;

  // n examples of d features, y = x·w + b + noise; θ = (w_1..w_d, b), the Dense layout.
  LinearRegression(int64_t n, int64_t d, uint64_t seed, double prior_scale = 2.0) : prior_sd(prior_scale) {
    x = uniform_tensor(core::Shape{n, d}, seed, -1, 1);
    y = core::Tensor<double>(core::Shape{n, 1});
    core::Rng rng(seed, 7);
    Eigen::MatrixXd phi(n, d + 1);
    for (int64_t i = 0; i < n; ++i) {
      double t = 0.3;
      for (int64_t j = 0; j < d; ++j) {
        phi(i, j) = x.data()[i * d + j];
        t += (j % 2 ? -1.0 : 1.0) * static_cast<double>(j + 1) * phi(i, j);
      }
      phi(i, d) = 1;
      y.data()[i] = t + sigma * rng.normal();
    }
    precision = phi.transpose() * phi / (sigma * sigma) + Eigen::MatrixXd::Identity(d + 1, d + 1) / (prior_sd * prior_sd);
    cov = precision.inverse();
    mean = cov * phi.transpose() * Eigen::Map<const Eigen::VectorXd>(y.data(), n) / (sigma * sigma);
    auto net = std::make_unique<nn::Sequential<double>>();
    net->emplace<nn::Dense<double>>(d, 1);
    net->finalize(seed);
    model = std::make_unique<bayes::BayesianNetwork>(std::move(net), x, y,
                                                     bayes::BayesianNetworkOptions{.sigma = sigma, .prior = {.scale = prior_sd}});
  }

  // S exact posterior draws, one per row.
  Eigen::MatrixXd exact_draws(int64_t S, uint64_t seed) const {
    const Eigen::MatrixXd L = cov.llt().matrixL();
    core::Rng rng(seed, 3);
    Eigen::MatrixXd draws(S, mean.size());
    Eigen::VectorXd z(mean.size());
    for (int64_t s = 0; s < S; ++s) {
      for (auto& v : z) v = rng.normal();
      draws.row(s) = (mean + L * z).transpose();
    }
    return draws;
  }
};

}  // namespace trusty::test
