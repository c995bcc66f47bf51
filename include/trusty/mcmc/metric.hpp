// Metric: the Euclidean kinetic energy of HMC, K(p) = ½ pᵀ M⁻¹ p, with momenta p ~ N(0, M).
// The sampler adapts and stores the inverse metric M⁻¹ (an estimate of the posterior
// covariance), as Stan does (Betancourt 2017, §4.2; Stan reference manual, "HMC algorithm
// parameters"):
//   unit_e   M⁻¹ = I
//   diag_e   M⁻¹ = diag(m)          p_i = z_i / √m_i
//   dense_e  M⁻¹ = Σ = L Lᵀ         p = L⁻ᵀ z  (Cov p = L⁻ᵀ L⁻¹ = Σ⁻¹ = M)
// with z ~ N(0, I). One class with a switch on the kind (no virtual call per leapfrog step);
// nothing allocates after construction or set_*.
#pragma once
#include <string>

#include <Eigen/Dense>

#include "trusty/core/rng.hpp"

namespace trusty::mcmc {

enum class MetricKind { unit_e, diag_e, dense_e };

// "unit_e" | "diag_e" | "dense_e"; anything else throws std::invalid_argument naming `what`.
MetricKind parse_metric(const std::string& name, const std::string& what = "metric");
std::string metric_name(MetricKind kind);

class Metric {
 public:
  Metric() = default;
  // Identity inverse metric of dimension d.
  Metric(MetricKind kind, int64_t dim);

  MetricKind kind() const { return kind_; }
  int64_t dim() const { return dim_; }

  // Replace M⁻¹. diag_e: a d-vector of positive finite entries; dense_e: a symmetric positive-
  // definite d × d matrix. Otherwise std::invalid_argument (naming `what`, e.g. "inv_metric").
  void set_inv_diag(const Eigen::VectorXd& inv_diag, const std::string& what = "inv_metric");
  void set_inv_dense(const Eigen::MatrixXd& inv_dense, const std::string& what = "inv_metric");
  // The same as a matrix as Stan reports it: diag_e d × 1, dense_e d × d, unit_e empty.
  Eigen::MatrixXd inv_metric() const;
  // Sets from that layout (the inverse of inv_metric()); validated as above.
  void set_inv_metric(const Eigen::MatrixXd& m, const std::string& what = "inv_metric");

  // ½ pᵀ M⁻¹ p.
  double kinetic(const Eigen::VectorXd& p) const;
  // out = M⁻¹ p (Stan's dtau_dp, the "sharp" momentum p♯ of Betancourt 2017).
  void velocity(const Eigen::VectorXd& p, Eigen::VectorXd& out) const;
  // p ~ N(0, M).
  void sample_momentum(core::Rng& rng, Eigen::VectorXd& p) const;

 private:
  MetricKind kind_ = MetricKind::diag_e;
  int64_t dim_ = 0;
  Eigen::VectorXd inv_diag_, sqrt_inv_diag_;  // diag_e
  Eigen::MatrixXd inv_dense_;                 // dense_e: Σ
  Eigen::MatrixXd chol_upper_;                // dense_e: Lᵀ (upper triangular)
  mutable Eigen::VectorXd scratch_;           // dense_e: M⁻¹p in kinetic() (one Metric per chain)
};

}  // namespace trusty::mcmc
