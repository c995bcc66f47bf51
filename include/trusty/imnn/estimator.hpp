// What a trained IMNN gives: quasi-maximum-likelihood estimates
//   θ̂ = θ_fid + F⁻¹ (∂μ/∂θ)ᵀ C⁻¹ (x − μ)
// (score compression of the network summaries x), the Gaussian approximation N(θ̂, F⁻¹) of
// the posterior (Cramér–Rao: Cov[θ̂] ≥ F⁻¹), and Fisher forecasts (marginal errors
// √(F⁻¹)_αα). All through Cholesky solves of C and F.
#pragma once
#include <span>
#include <vector>

#include "trusty/imnn/fisher.hpp"

namespace trusty::imnn {

class Estimator {
 public:
  Estimator(std::vector<double> theta_fid, const FisherSummary& s);
  // summaries [n, n_summaries] (or [n_summaries]) → estimates [n, n_params].
  Tensor<double> estimate(const Tensor<double>& summaries) const;
  const Tensor<double>& inverse_fisher() const { return inv_fisher_; }  // covariance of N(θ̂, F⁻¹)
  std::vector<double> marginal_errors() const;                          // √diag F⁻¹
  // ln N(θ | θ̂, F⁻¹), normalised.
  double log_density(std::span<const double> theta, std::span<const double> theta_hat) const;
  int64_t n_params() const { return static_cast<int64_t>(theta_fid_.size()); }

 private:
  std::vector<double> theta_fid_;
  Tensor<double> mu_, fisher_, inv_fisher_, compress_;  // compress_ = F⁻¹ D C⁻¹ [p, m]
  double logdet_fisher_ = 0;
};

}  // namespace trusty::imnn
