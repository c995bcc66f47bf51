// Chains as Stan CSV files, in CmdStan's layout, so that rstan::read_stan_csv, cmdstanpy and
// ArviZ read trusty's chains, and trusty reads CmdStan's.
//
// Layout (one file per chain):
//   # model = ...                     configuration comments, "key = value", CmdStan's tree:
//   # method = sample                 sample { num_samples, num_warmup, save_warmup, thin,
//   #   sample                        adapt {...}, algorithm = hmc { engine = nuts { max_depth },
//   #     num_samples = 1000          metric, stepsize, stepsize_jitter } }, id, random { seed },
//   ...                               then any other ChainDraws::config pairs, flat
//   lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,<params>
//   <n_warmup_saved warmup rows>
//   # Adaptation terminated
//   # Step size = 0.893542
//   # Diagonal elements of inverse mass matrix:     (dense_e: "# Elements of inverse mass
//   # 0.483503, 1.2                                  matrix:" and one row per line; unit_e:
//   <post-warmup rows>                               "# No free parameters for unit metric")
//   #
//   #  Elapsed Time: 0.005 seconds (Warm-up)
//   #                0.014 seconds (Sampling)
//   #                0.019 seconds (Total)
//   #
// Numbers are written in the shortest form that reads back to the same double; the timings
// in fixed point with microseconds (rstan reads them by deleting every character but digits
// and points, so no exponents there).
#pragma once
#include <filesystem>

#include "trusty/mcmc/chain.hpp"

namespace trusty::mcmc {

// Writes one chain atomically (a temporary file in the same directory, then rename).
// num_samples, num_warmup and thin come from chain.config when given there (they must agree
// with the rows: 1 + (num_samples − 1)/thin post-warmup rows, and 1 + (num_warmup − 1)/thin
// warmup rows when warmup is saved, which is how rstan checks them), else they are derived
// from the rows. id, metric and save_warmup always come from the ChainDraws fields.
// gradient_evaluations is written as a comment "# gradient_evaluations = N" (not CmdStan's;
// other readers ignore it). Throws std::invalid_argument for a chain whose columns disagree
// in length, std::runtime_error when the file cannot be written.
void write_stan_csv(const std::filesystem::path& path, const ChainDraws& chain);

// Reads one chain (trusty's or CmdStan's files). Strict: every cell must be one complete
// number (nan and inf allowed), every row as long as the header, the seven sampler columns
// lp__ ... energy__ present, treedepth__/n_leapfrog__/divergent__ integral; otherwise
// std::invalid_argument naming the file, the line and the column. Configuration comments
// become ChainDraws::config pairs in file order, "(Default)" stripped, except id (chain_id),
// metric, save_warmup and gradient_evaluations, which fill their fields. Rows before
// "# Adaptation terminated" are warmup rows (n_warmup_saved).
ChainDraws read_stan_csv(const std::filesystem::path& path);

}  // namespace trusty::mcmc
