#include "trusty/imnn/estimator.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <numbers>
#include <stdexcept>

namespace trusty::imnn {

namespace {
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
using CMap = Eigen::Map<const Mat>;

Eigen::LLT<Mat> spd(const Tensor<double>& a, const char* what) {
  const auto t = a.contiguous();
  Mat m = CMap(t.data(), a.dim(0), a.dim(1));
  Eigen::LLT<Mat> llt(Mat((m + m.transpose()) * 0.5));
  if (llt.info() != Eigen::Success) throw std::invalid_argument(std::string("Estimator: the ") + what + " is not positive definite");
  return llt;
}
Tensor<double> to_tensor(const Mat& m) {
  Tensor<double> t(Shape{m.rows(), m.cols()});
  Eigen::Map<Mat>(t.data(), m.rows(), m.cols()) = m;
  return t;
}
}  // namespace

Estimator::Estimator(std::vector<double> theta_fid, const FisherSummary& s) : theta_fid_(std::move(theta_fid)), mu_(s.mu.clone()) {
  const int64_t p = s.fisher.dim(0), m = s.cov.dim(0);
  if (static_cast<int64_t>(theta_fid_.size()) != p)
    throw std::invalid_argument("Estimator: theta_fid has " + std::to_string(theta_fid_.size()) + " values, F is " + s.fisher.shape().str());
  const auto dmu = s.dmu.contiguous();
  const Mat d = CMap(dmu.data(), p, m);
  auto lc = spd(s.cov, "covariance C");
  auto lf = spd(s.fisher, "Fisher matrix F");
  const Mat dcinv = lc.solve(d.transpose()).transpose();  // D C⁻¹ [p, m]
  compress_ = to_tensor(lf.solve(dcinv));
  inv_fisher_ = to_tensor(lf.solve(Mat::Identity(p, p)));
  fisher_ = s.fisher.clone();
  logdet_fisher_ = 2 * Mat(lf.matrixL()).diagonal().array().log().sum();
}

Tensor<double> Estimator::estimate(const Tensor<double>& x) const {
  const int64_t p = n_params(), m = mu_.numel();
  const auto xc = x.contiguous();
  if (xc.numel() % m != 0 || xc.shape().dim(-1) != m)
    throw std::invalid_argument("Estimator::estimate: expected summaries [n, " + std::to_string(m) + "], got " + x.shape().str());
  const int64_t n = xc.numel() / m;
  Mat dx = CMap(xc.data(), n, m);
  dx.rowwise() -= Eigen::Map<const Eigen::RowVectorXd>(mu_.data(), m);
  Mat est = dx * CMap(compress_.data(), p, m).transpose();
  est.rowwise() += Eigen::Map<const Eigen::RowVectorXd>(theta_fid_.data(), p);
  return to_tensor(est);
}

std::vector<double> Estimator::marginal_errors() const {
  std::vector<double> e(theta_fid_.size());
  for (size_t a = 0; a < e.size(); ++a) e[a] = std::sqrt(inv_fisher_.data()[a * e.size() + a]);
  return e;
}

double Estimator::log_density(std::span<const double> theta, std::span<const double> theta_hat) const {
  const int64_t p = n_params();
  if (static_cast<int64_t>(theta.size()) != p || static_cast<int64_t>(theta_hat.size()) != p)
    throw std::invalid_argument("Estimator::log_density: expected " + std::to_string(p) + " parameters");
  double q = 0;
  for (int64_t a = 0; a < p; ++a)
    for (int64_t b = 0; b < p; ++b)
      q += (theta[static_cast<size_t>(a)] - theta_hat[static_cast<size_t>(a)]) * fisher_.data()[a * p + b] *
           (theta[static_cast<size_t>(b)] - theta_hat[static_cast<size_t>(b)]);
  return -0.5 * q + 0.5 * logdet_fisher_ - 0.5 * static_cast<double>(p) * std::log(2 * std::numbers::pi);
}

}  // namespace trusty::imnn
