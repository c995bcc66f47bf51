// The posterior predictive of a Bayesian network, P(t | d) = ∫ dw L(t | d, w) P(w | data)
// (Neal 1996), estimated from draws of the weights — HMC chains (mcmc::ChainDraws), a
// variational fit's draws, or one MAP point (the trained network: a delta function, whose
// network-output spread is zero).
//
// Regression (Gaussian likelihood): the mean of the network output over draws; the
// predictive sd of y, Var = Var_draws[f] + E_draws[σ²] (or, with observation_noise off, of
// f alone); and quantiles of y, those of the mixture (1/S) Σ_s N(f_s, σ_s²) found by
// bisection on its CDF (or the empirical quantiles of f_s). Classification: the mean class
// probabilities (Bernoulli: P(y = 1) per output) and their sd across draws.
//
//   auto chains = mcmc::sample(bnn, {...});
//   auto pred = bayes::posterior_predictive(bnn, chains, x_test, {.quantiles = {0.05, 0.95}});
//   // pred.mean(i, 0), pred.sd(i, 0), pred.quantiles[0](i, 0) ...
#pragma once
#include <span>
#include <vector>

#include <Eigen/Dense>

#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/mcmc/chain.hpp"

namespace trusty::bayes {

struct PredictiveOptions {
  std::vector<double> quantiles{0.05, 0.5, 0.95};  // levels in (0, 1), regression only
  bool observation_noise = true;  // regression: sd and quantiles of y = f + noise; false: of f
};

struct Predictive {
  Eigen::MatrixXd mean;        // n × outputs: E[f]; classification: mean probabilities
  Eigen::MatrixXd sd;          // predictive sd (see observation_noise); classification: sd of the probabilities
  Eigen::MatrixXd sd_network;  // sd of the network output f across draws (no observation noise)
  std::vector<Eigen::MatrixXd> quantiles;  // one n × outputs matrix per level (regression)
  int64_t n_draws = 0;
};

// draws: one row per draw of the constrained parameters (constrain()'s output, as in
// ChainDraws::params), or of the weights alone when σ is not sampled. x: new inputs, batch first.
Predictive posterior_predictive(const BayesianNetwork& model, const Eigen::MatrixXd& draws, const core::Tensor<double>& x,
                                const PredictiveOptions& opt = {});
// The post-warmup draws of every chain.
Predictive posterior_predictive(const BayesianNetwork& model, std::span<const mcmc::ChainDraws> chains,
                                const core::Tensor<double>& x, const PredictiveOptions& opt = {});

// The q-quantile of the Gaussian mixture (1/S) Σ_s N(mu_s, sd_s²), by bisection to |Δ| < 1e-10 · scale.
double mixture_quantile(std::span<const double> mu, std::span<const double> sd, double q);

}  // namespace trusty::bayes
