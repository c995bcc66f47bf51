// Summary of a set of chains: per-quantity statistics and convergence diagnostics (as the R
// package posterior's summarise_draws and CmdStan's stansummary report them), per-chain sampler
// diagnostics, and the warnings CmdStan's diagnose would give.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "trusty/mcmc/chain.hpp"

namespace trusty::mcmc {

// One quantity (lp__ or a parameter) over all chains' post-warmup draws. NaN where the
// diagnostics are undefined (see diagnostics.hpp), e.g. for a constant quantity.
struct ParameterSummary {
  std::string name;
  double mean = 0, median = 0, sd = 0, mad = 0, q5 = 0, q95 = 0;
  double rhat = 0, ess_bulk = 0, ess_tail = 0, mcse_mean = 0, mcse_sd = 0;
};

// One chain's sampler diagnostics over its post-warmup draws.
struct ChainSummary {
  int chain_id = 0;
  int64_t n_draws = 0;
  int64_t divergences = 0;
  int64_t max_treedepth_hits = 0;  // draws with treedepth__ ≥ max_treedepth
  double e_bfmi = 0;
  double mean_accept_stat = 0;
  double step_size = 0;  // the adapted step size
  int64_t gradient_evaluations = 0;
  double seconds_warmup = 0, seconds_sampling = 0;
};

struct Summary {
  int64_t n_draws_per_chain = 0;
  int max_treedepth = 10;
  std::vector<ParameterSummary> parameters;  // lp__ first, then the parameters in order
  std::vector<ChainSummary> chains;
  std::vector<std::string> warnings;  // empty when no problem was detected
};

// Thresholds of the warnings (Vehtari et al. 2021; Betancourt 2016).
inline constexpr double kRhatThreshold = 1.01;
inline constexpr double kEssThreshold = 400;
inline constexpr double kEbfmiThreshold = 0.3;

// Summarises the post-warmup draws (the first n_warmup_saved rows of each chain are left out).
// Throws std::invalid_argument when there are no chains, when the chains disagree on the
// parameter names or the number of post-warmup draws, or when a chain's columns have
// inconsistent lengths.
Summary summarize(const std::vector<ChainDraws>& chains, int max_treedepth = 10);

// A fixed-width table in the manner of CmdStan's stansummary, then the per-chain diagnostics
// and the warnings.
std::string format_summary(const Summary& summary);

// The content of summary.json (NaN becomes null).
nlohmann::json to_json(const Summary& summary);

}  // namespace trusty::mcmc
