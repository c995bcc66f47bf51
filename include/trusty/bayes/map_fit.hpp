// The maximum a posteriori point of any mcmc::LogDensity: the plain trained network, the
// "delta function" P(w | data) = δ(w − w_MAP) that a Bayesian network replaces (Neal 1996).
// L-BFGS with a strong-Wolfe line search (full batch), or Adam steps, on −ln π(θ).
//
//   auto map = bayes::fit_map(bnn, bnn.initial_theta(), {.optimizer = "lbfgs"});
//   std::vector<double> row(bnn.constrained_dim());
//   bnn.constrain(map.theta, row);   // one draw: posterior_predictive gives zero network spread
#pragma once
#include <span>
#include <string>
#include <vector>

#include "trusty/mcmc/log_density.hpp"

namespace trusty::bayes {

struct MapOptions {
  std::string optimizer = "lbfgs";  // "lbfgs" or "adam"
  int64_t max_iterations = 2000;    // L-BFGS iterations, or Adam steps
  double lr = 1e-2;                 // Adam's step size (L-BFGS takes unit steps, line-searched)
  double tolerance = 1e-6;          // converged when max_i |∂ln π/∂θ_i| ≤ tolerance
  int history_size = 20;            // L-BFGS memory
};

struct MapResult {
  std::vector<double> theta;  // the unconstrained maximiser
  double log_density = 0;     // ln π there
  double max_abs_gradient = 0;
  int64_t iterations = 0;
  bool converged = false;     // max_abs_gradient ≤ tolerance
};

MapResult fit_map(const mcmc::LogDensity& density, std::span<const double> theta0, const MapOptions& opt = {});

}  // namespace trusty::bayes
