// Convergence diagnostics for one scalar quantity: R-hat, effective sample size (ESS) and
// Monte Carlo standard error (MCSE), defined as in Vehtari, Gelman, Simpson, Carpenter &
// Bürkner (2021), "Rank-normalization, folding, and localization: an improved R-hat for
// assessing convergence of MCMC", Bayesian Analysis 16(2), and computed the way the R package
// `posterior` 1.4.0 computes them (tests/mcmc/golden holds its numbers; the test demands 1e-6
// relative, the largest difference is about 1e-14). Later posterior sources (those with
// pareto_khat) define these functions the same way.
//
// Input: the draws of one quantity as an iterations × chains matrix (one column per chain).
//
// Shared conventions (all follow posterior):
// - "split": every chain is cut into its first and second half (the middle draw of an odd
//   length is dropped), giving 2·chains columns of ⌊n/2⌋ rows.
// - rank normalisation: ranks over all draws jointly (ties get their average rank), mapped to
//   z = Φ⁻¹((r − 3/8) / (S + 1/4)) (Blom's fractional offset 3/8; S = number of draws).
// - folding: |x − median(x)|, so the tail diagnostics see the spread, not the location.
// - ESS: Geyer's (1992) initial positive sequence of paired autocorrelations made monotone,
//   autocorrelations estimated over chains as in Stan; τ is bounded below by 1/log10(S), so ESS
//   never exceeds S·log10(S).
//
// Degenerate input gives NaN (posterior's NA), never an exception:
// - any NaN draw; for the non-rank-based functions (rhat_basic, ess_basic, ess_mean, ess_sd,
//   ess_quantile, mcse_*) also any ±Inf. Rank-based ones (rhat_bulk, ess_bulk, rhat_tail)
//   rank ±Inf like any other value, as posterior does.
// - a constant quantity (max − min < DBL_EPSILON), or a constant transformed quantity
//   (e.g. an indicator x ≤ q that is the same for every draw).
// - ESS functions when the split chains are shorter than 3 draws (fewer than 6 per chain);
//   R-hat when the split chains have fewer than 2 draws.
// Empty input (0 rows or 0 columns) also gives NaN.
#pragma once
#include <span>

#include <Eigen/Dense>

namespace trusty::mcmc {

// Split-R-hat on the raw values (Gelman et al. BDA3), no rank normalisation.
double rhat_basic(const Eigen::MatrixXd& x);
// Split-R-hat on rank-normalised values.
double rhat_bulk(const Eigen::MatrixXd& x);
// Split-R-hat on rank-normalised folded values |x − median|.
double rhat_tail(const Eigen::MatrixXd& x);
// max(rhat_bulk, rhat_tail): the R-hat to report (threshold 1.01).
double rhat(const Eigen::MatrixXd& x);

// Split ESS on the raw values.
double ess_basic(const Eigen::MatrixXd& x);
// Split ESS on rank-normalised values (the centre of the distribution).
double ess_bulk(const Eigen::MatrixXd& x);
// min(ess_quantile(x, 0.05), ess_quantile(x, 0.95)).
double ess_tail(const Eigen::MatrixXd& x);
// ESS for the mean: split ESS on the raw values (same as ess_basic).
double ess_mean(const Eigen::MatrixXd& x);
// ESS for the standard deviation: split ESS of |x − mean(x)|.
double ess_sd(const Eigen::MatrixXd& x);
// ESS for the p-quantile: split ESS of the indicator x ≤ quantile(x, p); p in [0, 1]
// (throws std::invalid_argument otherwise); p = 1 is replaced by (S − 1/2)/S.
double ess_quantile(const Eigen::MatrixXd& x, double p);

// sd(x) / sqrt(ess_mean(x)).
double mcse_mean(const Eigen::MatrixXd& x);
// MCSE of the standard deviation by the delta method on the variance, with the ESS of the
// squared centred draws (posterior 1.4.0's definition).
double mcse_sd(const Eigen::MatrixXd& x);
// Half the distance between the sorted draws at the 15.9% and 84.1% quantiles of the
// Beta(ess·p + 1, ess·(1 − p) + 1) distribution, ess = ess_quantile(x, p).
double mcse_quantile(const Eigen::MatrixXd& x, double p);

// What a summary reports, computed with one sort of the draws instead of one per function;
// the same numbers as the functions above.
struct ConvergenceDiagnostics {
  double rhat_bulk, rhat_tail, rhat, ess_bulk, ess_tail, mcse_mean, mcse_sd;
};
ConvergenceDiagnostics convergence_diagnostics(const Eigen::MatrixXd& x);

// Energy Bayesian fraction of missing information (Betancourt 2016, "Diagnosing suboptimal
// cotangent disintegrations in Hamiltonian Monte Carlo"): Σ(E_n − E_{n−1})² / Σ(E_n − Ē)².
// (ArviZ divides the mean squared difference by the variance instead, N/(N−1) times this.)
// Values below 0.3 indicate the momentum resampling explores the energy poorly. NaN for fewer
// than 2 values, any non-finite value, or constant energy.
double e_bfmi(std::span<const double> energy);

}  // namespace trusty::mcmc
