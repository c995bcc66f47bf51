#include "trusty/imnn/fisher.hpp"

#include <Eigen/Dense>
#include <array>
#include <cmath>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "trusty/core/linalg.hpp"

namespace trusty::imnn {

using core::constant;

void LossOptions::validate() const {
  if (!(lambda > 1) || !std::isfinite(lambda))
    throw std::invalid_argument("IMNN loss: lambda (regularisation coupling) must be a finite number > 1, got " + std::to_string(lambda));
  if (!(epsilon > 0) || !std::isfinite(epsilon))
    throw std::invalid_argument("IMNN loss: epsilon (closeness criterion) must be a positive number, got " + std::to_string(epsilon));
}

double regularisation_rate(double lambda, double epsilon) {
  LossOptions{lambda, epsilon}.validate();
  return -std::log(epsilon * (lambda - 1) + epsilon * epsilon / (1 + epsilon)) / epsilon;
}

Var<double> seed_matched_mean_derivative(const Var<double>& x, std::span<const double> delta_theta) {
  const Shape& s = x.shape();
  const auto p = static_cast<int64_t>(delta_theta.size());
  if (s.rank() != 4 || s[1] != 2 || s[2] != p)
    throw std::invalid_argument("seed_matched_mean_derivative: expected summaries [n_d, 2, n_params=" + std::to_string(p) +
                                ", n_summaries], got " + s.str());
  Tensor<double> inv(Shape{p, 1});
  for (int64_t a = 0; a < p; ++a) inv.data()[a] = 1.0 / delta_theta[static_cast<size_t>(a)];
  auto diff = core::slice(x, 1, 1, 2) - core::slice(x, 1, 0, 1);  // [n_d, 1, p, m]
  const std::array<int, 2> axes{0, 1};
  return core::mean(diff, axes) * constant(inv);
}

Var<double> mean_derivative(const Var<double>& dx) {
  if (dx.rank() != 3) throw std::invalid_argument("mean_derivative: expected [n_d, n_summaries, n_params], got " + dx.shape().str());
  const std::array<int, 1> axes{0};
  return core::transpose(core::mean(dx, axes));
}

namespace {
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

// Cholesky factor of the named matrix, or an error with its condition number.
Var<double> factor(const Var<double>& a, const char* what) {
  const int64_t n = a.dim(0);
  Eigen::Map<const Mat> A(a.data(), n, n);
  bool finite = A.allFinite();
  if (finite) {
    try {
      auto l = core::cholesky(a);
      // A pivot ratio below √(1000 ε) is a numerically singular matrix (rank-deficient
      // summaries factor "successfully" on rounding noise): treat it as not PD.
      double lo = INFINITY, hi = 0;
      for (int64_t i = 0; i < n; ++i) lo = std::min(lo, l.data()[i * n + i]), hi = std::max(hi, l.data()[i * n + i]);
      if (lo > std::sqrt(1000 * std::numeric_limits<double>::epsilon()) * hi) return l;
    } catch (const core::NotPositiveDefinite&) {
    }
  }
  std::ostringstream os;
  os << "IMNN: the " << what << " [" << n << ", " << n << "] is not positive definite";
  if (!finite) {
    os << " (it has non-finite entries: the network produced NaN or infinite summaries)";
  } else {
    Eigen::SelfAdjointEigenSolver<Mat> es(Mat((A + A.transpose()) * 0.5), Eigen::EigenvaluesOnly);
    const double lo = es.eigenvalues().minCoeff(), hi = es.eigenvalues().maxCoeff();
    os << " (eigenvalues " << lo << " to " << hi << ", condition number " << (lo > 0 ? hi / lo : INFINITY)
       << "); the summaries are degenerate or constant: check the network, its initialisation and n_s";
  }
  throw core::NotPositiveDefinite(os.str());
}

Var<double> frobenius_from_identity(const Var<double>& a) {
  const int64_t n = a.dim(0);
  Tensor<double> eye(Shape{n, n});
  for (int64_t i = 0; i < n; ++i) eye.data()[i * n + i] = 1;
  return core::sqrt(core::sum(core::square(a - constant(eye))));
}
}  // namespace

FisherVars fisher_statistics(const Var<double>& x, const Var<double>& dmu, const LossOptions& opt) {
  opt.validate();
  if (x.rank() != 2 || x.dim(0) < 2) throw std::invalid_argument("fisher_statistics: expected summaries [n_s >= 2, n_summaries], got " + x.shape().str());
  const int64_t ns = x.dim(0), m = x.dim(1);
  if (dmu.rank() != 2 || dmu.dim(1) != m)
    throw std::invalid_argument("fisher_statistics: expected dmu/dtheta [n_params, " + std::to_string(m) + "], got " + dmu.shape().str());
  FisherVars v;
  const std::array<int, 1> rows{0};
  v.mu = core::mean(x, rows);
  auto xc = x - v.mu;
  v.cov = core::matmul(core::transpose(xc), xc) * (1.0 / static_cast<double>(ns - 1));
  v.dmu = dmu;
  auto l = factor(v.cov, "covariance of the summaries C");
  auto y = core::solve_triangular(l, core::transpose(dmu));  // L⁻¹ Dᵀ  [m, p]
  v.fisher = core::matmul(core::transpose(y), y);
  factor(v.fisher, "Fisher matrix F");  // a clear error before logdet_spd's own
  v.logdet_fisher = core::logdet_spd(v.fisher);
  v.logdet_cov = core::logdet_spd(v.cov);
  v.inv_cov = core::inverse_spd(v.cov);  // Λ₂ needs C⁻¹ itself
  v.lambda2 = frobenius_from_identity(v.cov) + frobenius_from_identity(v.inv_cov);
  const double alpha = regularisation_rate(opt.lambda, opt.epsilon);
  v.r = opt.lambda * v.lambda2 / (v.lambda2 + core::exp(v.lambda2 * -alpha));
  v.loss = v.r * v.lambda2 - v.logdet_fisher;
  return v;
}

FisherSummary summarise(const FisherVars& v) {
  FisherSummary s;
  s.mu = v.mu.value();
  s.cov = v.cov.value();
  s.inv_cov = v.inv_cov.value();
  s.dmu = v.dmu.value();
  s.fisher = v.fisher.value();
  s.logdet_fisher = v.logdet_fisher.item();
  s.det_fisher = std::exp(s.logdet_fisher);
  s.det_cov = std::exp(v.logdet_cov.item());
  s.det_inv_cov = 1.0 / s.det_cov;
  s.lambda2 = v.lambda2.item();
  s.r = v.r.item();
  s.loss = v.loss.item();
  return s;
}

}  // namespace trusty::imnn
