#include "trusty/mcmc/metric.hpp"

#include <cmath>
#include <stdexcept>

namespace trusty::mcmc {

MetricKind parse_metric(const std::string& name, const std::string& what) {
  if (name == "unit_e") return MetricKind::unit_e;
  if (name == "diag_e") return MetricKind::diag_e;
  if (name == "dense_e") return MetricKind::dense_e;
  throw std::invalid_argument(what + ": expected \"unit_e\", \"diag_e\" or \"dense_e\", got \"" + name + "\"");
}

std::string metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::unit_e: return "unit_e";
    case MetricKind::diag_e: return "diag_e";
    case MetricKind::dense_e: return "dense_e";
  }
  return "?";
}

Metric::Metric(MetricKind kind, int64_t dim) : kind_(kind), dim_(dim) {
  if (dim <= 0) throw std::invalid_argument("Metric: dimension must be positive, got " + std::to_string(dim));
  inv_diag_ = Eigen::VectorXd::Ones(dim);
  sqrt_inv_diag_ = Eigen::VectorXd::Ones(dim);
  if (kind == MetricKind::dense_e) {
    inv_dense_ = Eigen::MatrixXd::Identity(dim, dim);
    scratch_ = Eigen::VectorXd::Zero(dim);
    chol_upper_ = Eigen::MatrixXd::Identity(dim, dim);
  }
}

void Metric::set_inv_diag(const Eigen::VectorXd& inv_diag, const std::string& what) {
  if (inv_diag.size() != dim_)
    throw std::invalid_argument(what + ": expected " + std::to_string(dim_) + " diagonal entries, got " +
                                std::to_string(inv_diag.size()));
  for (int64_t i = 0; i < dim_; ++i)
    if (!(inv_diag[i] > 0) || !std::isfinite(inv_diag[i]))
      throw std::invalid_argument(what + ": the inverse metric must be positive definite; diagonal entry " +
                                  std::to_string(i + 1) + " is " + std::to_string(inv_diag[i]));
  inv_diag_ = inv_diag;
  sqrt_inv_diag_ = inv_diag.array().sqrt();
}

void Metric::set_inv_dense(const Eigen::MatrixXd& inv_dense, const std::string& what) {
  if (inv_dense.rows() != dim_ || inv_dense.cols() != dim_)
    throw std::invalid_argument(what + ": expected a " + std::to_string(dim_) + " x " + std::to_string(dim_) +
                                " matrix, got " + std::to_string(inv_dense.rows()) + " x " +
                                std::to_string(inv_dense.cols()));
  if (!inv_dense.allFinite()) throw std::invalid_argument(what + ": the inverse metric has non-finite entries");
  if (!inv_dense.isApprox(inv_dense.transpose(), 1e-10))
    throw std::invalid_argument(what + ": the inverse metric must be symmetric");
  Eigen::LLT<Eigen::MatrixXd> llt(inv_dense);
  if (llt.info() != Eigen::Success)
    throw std::invalid_argument(what + ": the inverse metric must be positive definite (Cholesky failed)");
  inv_dense_ = inv_dense;
  chol_upper_ = llt.matrixU();
}

Eigen::MatrixXd Metric::inv_metric() const {
  switch (kind_) {
    case MetricKind::unit_e: return {};
    case MetricKind::diag_e: return inv_diag_;
    case MetricKind::dense_e: return inv_dense_;
  }
  return {};
}

void Metric::set_inv_metric(const Eigen::MatrixXd& m, const std::string& what) {
  switch (kind_) {
    case MetricKind::unit_e:
      if (m.size() != 0) throw std::invalid_argument(what + ": unit_e takes no inverse metric");
      return;
    case MetricKind::diag_e:
      if (m.cols() != 1) throw std::invalid_argument(what + ": diag_e expects a d x 1 inverse metric");
      set_inv_diag(m.col(0), what);
      return;
    case MetricKind::dense_e: set_inv_dense(m, what); return;
  }
}

double Metric::kinetic(const Eigen::VectorXd& p) const {
  switch (kind_) {
    case MetricKind::unit_e: return 0.5 * p.squaredNorm();
    case MetricKind::diag_e: return 0.5 * (p.array().square() * inv_diag_.array()).sum();
    case MetricKind::dense_e:
      scratch_.noalias() = inv_dense_ * p;
      return 0.5 * p.dot(scratch_);
  }
  return 0;
}

void Metric::velocity(const Eigen::VectorXd& p, Eigen::VectorXd& out) const {
  switch (kind_) {
    case MetricKind::unit_e: out = p; return;
    case MetricKind::diag_e: out.array() = inv_diag_.array() * p.array(); return;
    case MetricKind::dense_e: out.noalias() = inv_dense_ * p; return;
  }
}

void Metric::sample_momentum(core::Rng& rng, Eigen::VectorXd& p) const {
  for (int64_t i = 0; i < dim_; ++i) p[i] = rng.normal();
  switch (kind_) {
    case MetricKind::unit_e: return;
    case MetricKind::diag_e: p.array() /= sqrt_inv_diag_.array(); return;
    case MetricKind::dense_e: chol_upper_.triangularView<Eigen::Upper>().solveInPlace(p); return;
  }
}

}  // namespace trusty::mcmc
