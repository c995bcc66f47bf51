// ChainDraws: one chain's output, laid out as Stan writes it (the meeting point of the
// samplers, the diagnostics and the Stan CSV writer/reader).
#pragma once
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/Dense>

namespace trusty::mcmc {

struct ChainDraws {
  // Constrained parameter names, Stan style ("theta.1", "sigma").
  std::vector<std::string> param_names;
  // One entry per saved draw (warmup draws excluded unless save_warmup).
  std::vector<double> lp, accept_stat, stepsize, energy;
  std::vector<int> treedepth, n_leapfrog, divergent;
  Eigen::MatrixXd params;        // n_draws × n_params, constrained values
  int64_t n_warmup_saved = 0;    // leading rows that are warmup draws

  // Adaptation result, as Stan reports it after warmup.
  std::string metric = "diag_e";  // "unit_e", "diag_e" or "dense_e"
  double step_size = 0;
  Eigen::MatrixXd inv_metric;    // diag_e: d × 1; dense_e: d × d; unit_e: empty

  // Configuration for the CSV header comment ("algorithm" -> "hmc", "engine" -> "nuts", ...).
  std::vector<std::pair<std::string, std::string>> config;
  int chain_id = 1;
  double seconds_warmup = 0, seconds_sampling = 0;
  int64_t gradient_evaluations = 0;

  int64_t n_draws() const { return params.rows(); }
};

}  // namespace trusty::mcmc
