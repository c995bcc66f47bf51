// Gaussian Fisher statistics of network summaries and the IMNN loss, as autodiff-tape ops so
// that the loss is differentiable with respect to the network weights.
// (Charnock, Lavaux & Wandelt 2018; regularised loss of Makinen, Charnock, Alsing & Wandelt 2021.)
//
//   μ = mean of the n_s fiducial summaries, C = their unbiased covariance (1/(n_s − 1)),
//   ∂μ/∂θ = mean of the n_d summary derivatives, stored here as D [n_params, n_summaries],
//   F = D C⁻¹ Dᵀ through the Cholesky factor of C (F = YᵀY, Y = L⁻¹Dᵀ; no inverse),
//   Λ = −ln|F| + r(Λ₂)Λ₂,  Λ₂ = ‖C − I‖_F + ‖C⁻¹ − I‖_F,  r = λΛ₂/(Λ₂ + exp(−αΛ₂)),
//   α = −ln(ε(λ − 1) + ε²/(1 + ε))/ε.
// Every statistic is a sum over the simulation axis in index order: given the same
// summaries the result is the same bit for bit whoever computed them (MPI gathers the
// summaries, which are small, in index order and runs this unchanged).
#pragma once
#include <span>
#include <vector>

#include "trusty/core/linalg.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::imnn {

using core::Shape;
using core::Tensor;
using core::Var;

struct LossOptions {
  double lambda = 10;   // coupling strength of the covariance regularisation
  double epsilon = 0.1;  // closeness to the identity at which the coupling turns off
  void validate() const;  // throws naming the option
};

// α(λ, ε) = −ln(ε(λ − 1) + ε²/(1 + ε))/ε; α(10, 0.1) = 0.953102.
double regularisation_rate(double lambda, double epsilon);

// ∂μ/∂θ [n_params, n_summaries] from seed-matched summaries [n_d, 2, n_params, n_summaries]
// (index 0 = θ − δθ/2, 1 = θ + δθ/2): mean over i of (x⁺ − x⁻)/δθ.
Var<double> seed_matched_mean_derivative(const Var<double>& x, std::span<const double> delta_theta);

// ∂μ/∂θ [n_params, n_summaries] from per-simulation derivatives [n_d, n_summaries, n_params].
Var<double> mean_derivative(const Var<double>& dx_dtheta);

// The statistics of one step, all on the tape.
struct FisherVars {
  Var<double> mu, cov, inv_cov, dmu, fisher;   // [m], [m,m], [m,m], [p,m], [p,p]
  Var<double> logdet_fisher, logdet_cov, lambda2, r, loss;  // scalars
};

// summaries [n_s, m] (n_s ≥ 2), dmu [p, m]. Throws core::NotPositiveDefinite (an
// std::invalid_argument) with the condition number when C or F is not positive definite.
FisherVars fisher_statistics(const Var<double>& summaries, const Var<double>& dmu, const LossOptions& opt);

// The same numbers as plain values, for histories, results and estimators.
struct FisherSummary {
  Tensor<double> mu, cov, inv_cov, dmu, fisher;
  double det_fisher = 0, logdet_fisher = 0, det_cov = 0, det_inv_cov = 0, lambda2 = 0, r = 0, loss = 0;
};
FisherSummary summarise(const FisherVars& v);

}  // namespace trusty::imnn
