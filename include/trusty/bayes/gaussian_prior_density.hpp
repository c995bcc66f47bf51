// GaussianPriorDensity: a log density that says which of its coordinates carry a fixed,
// independent Gaussian prior N(0, sd_i²), and can be evaluated without those prior terms.
// Variational inference uses it to take the KL divergence to that prior in closed form
// (Blundell et al. 2015) and Monte Carlo only for the rest (the likelihood, other priors,
// Jacobians); a plain mcmc::LogDensity gets the entropy + E_q[ln π] form instead.
//
//   if (auto* g = dynamic_cast<const bayes::GaussianPriorDensity*>(&density)) { ... }
#pragma once
#include <span>

#include "trusty/mcmc/log_density.hpp"

namespace trusty::bayes {

class GaussianPriorDensity : public mcmc::LogDensity {
 public:
  // sd[i] > 0: coordinate i has the prior N(0, sd[i]²) inside ln π; sd[i] = 0: it has not
  // (a sampled scale, a noise parameter). sd has dim() elements.
  virtual void prior_sd(std::span<double> sd) const = 0;
  // ln π(θ) − Σ_{i: sd_i > 0} ln N(θ_i | 0, sd_i²), and its gradient into grad. Thread-safe
  // like log_density_and_gradient.
  virtual double log_density_minus_prior(std::span<const double> theta, std::span<double> grad) const = 0;
};

}  // namespace trusty::bayes
