// sample(): runs independent Markov chains on a LogDensity, each on its own thread, and
// returns their draws laid out as Stan writes them.
//
//   SamplerOptions o{.num_warmup = 1000, .num_samples = 1000, .chains = 4, .seed = 7,
//                    .metric = "dense_e"};
//   std::vector<ChainDraws> chains = sample(density, o);
//
// Algorithms: "nuts" (Stan's NUTS, nuts.hpp), "hmc" (static HMC, static_hmc.hpp), both with
// Stan's warmup (adaptation.hpp); "hmclet" (hmclet.hpp).
// Reproducibility: chain c (0-based; chain_id c + 1) draws all its random numbers from
// core::Rng(seed, c), its own Philox stream, so the draws of a chain do not depend on the
// number of threads or on the other chains. With more than one chain thread the core's
// kernel-level fork-join is switched to serial for the run (core::kernels::
// set_parallel_threads(1), restored afterwards): the chains already use the cores.
// Initialisation (Stan's): each element of θ uniform in (−init_radius, init_radius) on the
// unconstrained space, redrawn up to 100 times until ln π and its gradient are finite; or the
// user's θ0 (`init`), which must have a finite ln π and gradient. Otherwise
// std::invalid_argument naming the problem.
// Checkpoints: with checkpoint_path set, chain c's full state (θ, ε, metric, dual-averaging
// and window state, RNG state, draws so far, counters) is written atomically to
// "<checkpoint_path>.chain<c+1>" every checkpoint_every iterations, when the run completes and
// when it is stopped by the progress callback. With resume = true a chain whose file exists
// continues from it and produces bit-identical draws to an uninterrupted run (timings aside);
// a chain without a file starts afresh.
#pragma once
#include <cstdint>
#include <functional>
#include <numbers>
#include <string>
#include <vector>

#include <Eigen/Dense>

#include "trusty/mcmc/chain.hpp"
#include "trusty/mcmc/log_density.hpp"

namespace trusty::mcmc {

struct SamplerOptions {
  std::string algorithm{"nuts"};   // "nuts" | "hmc" | "hmclet"
  int64_t num_warmup = 1000;         // warmup (burn-in) iterations, adaptation on
  int64_t num_samples = 1000;        // iterations kept after warmup
  int chains = 4;
  int threads = 0;                   // 0: one per chain, at most the hardware's
  uint64_t seed = 0;
  // NUTS
  int max_depth = 10;
  // Step size: initial value (used as is when num_warmup = 0) and dual averaging (Stan's
  // defaults).
  double step_size = 1;
  double delta = 0.8, gamma = 0.05, kappa = 0.75, t0 = 10;
  // Metric: "unit_e" | "diag_e" | "dense_e"; inv_metric: initial M⁻¹ (diag_e d × 1, dense_e
  // d × d), empty for the identity.
  std::string metric = "diag_e";
  Eigen::MatrixXd inv_metric{};
  int64_t init_buffer = 75, term_buffer = 50, window = 25;
  // Initial point.
  double init_radius = 2;
  std::vector<double> init{};         // unconstrained θ0 for every chain; empty: random
  bool save_warmup = false;
  // Static HMC: steps per transition, or (steps = 0) the integration time ε·L.
  int64_t hmc_steps = 0;
  double hmc_int_time = 2 * std::numbers::pi;
  // HMCLET: ε_max (0: adapted; required > 0 without burn-in), L_max (0: learned in burn-in from
  // U-turn probes; required > 0 without burn-in), covariance window and its
  // update period, quasi-Newton preconditioner (forces a dense metric). term_buffer above
  // also ends HMCLET's covariance updates before the end of burn-in.
  double hmclet_eps_max = 0;
  int64_t hmclet_L_max = 0, hmclet_window = 100, hmclet_update_every = 25;
  bool hmclet_quasi_newton = false;
  // Checkpoints.
  std::string checkpoint_path{};
  int64_t checkpoint_every = 0;      // 0: only on completion and on a stop
  bool resume = false;
};

// Throws std::invalid_argument naming the first bad option and what it expects.
void validate(const SamplerOptions& options, int64_t dim);

// Called after each iteration of each chain (from that chain's thread: must be thread-safe)
// with the chain index (0-based), the iterations done and the total. Returning false stops
// every chain after its current iteration; their draws so far are returned (fewer rows than
// requested: resume from the checkpoints, saved when checkpoint_path is set, to complete
// them). An exception from the callback or the density stops every chain and is rethrown.
using ProgressFn = std::function<bool(int chain, int64_t iteration, int64_t total)>;

std::vector<ChainDraws> sample(const LogDensity& density, const SamplerOptions& options,
                               const ProgressFn& progress = {});

}  // namespace trusty::mcmc
