#include "trusty/mcmc/targets.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace trusty::mcmc {

namespace {
constexpr double kHalfLog2Pi = 0.91893853320467274178;

void check_sizes(std::span<const double> theta, std::span<double> grad, int64_t d, const char* who) {
  if (static_cast<int64_t>(theta.size()) != d || static_cast<int64_t>(grad.size()) != d)
    throw std::invalid_argument(std::string(who) + ": theta and grad must have " + std::to_string(d) + " elements, got " +
                                std::to_string(theta.size()) + " and " + std::to_string(grad.size()));
}
}  // namespace

GaussianTarget::GaussianTarget(std::vector<double> mean, std::vector<double> scales)
    : mean_(std::move(mean)), scales_(std::move(scales)) {
  if (mean_.empty() || mean_.size() != scales_.size())
    throw std::invalid_argument("GaussianTarget: mean and scales must be non-empty and of one length, got " +
                                std::to_string(mean_.size()) + " and " + std::to_string(scales_.size()));
  for (size_t i = 0; i < scales_.size(); ++i) {
    if (!(scales_[i] > 0) || !std::isfinite(scales_[i]))
      throw std::invalid_argument("GaussianTarget: scales[" + std::to_string(i) + "] must be positive and finite, got " +
                                  std::to_string(scales_[i]));
    inv_var_.push_back(1 / (scales_[i] * scales_[i]));
  }
}

double GaussianTarget::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  check_sizes(theta, grad, dim(), "GaussianTarget");
  double lp = 0;
  for (size_t i = 0; i < mean_.size(); ++i) {
    const double r = theta[i] - mean_[i];
    lp -= 0.5 * r * r * inv_var_[i] + std::log(scales_[i]) + kHalfLog2Pi;
    grad[i] = -r * inv_var_[i];
  }
  return lp;
}

MultiNormalTarget::MultiNormalTarget(Eigen::VectorXd mean, Eigen::MatrixXd covariance)
    : mean_(std::move(mean)), cov_(std::move(covariance)) {
  if (mean_.size() == 0 || cov_.rows() != mean_.size() || cov_.cols() != mean_.size())
    throw std::invalid_argument("MultiNormalTarget: covariance must be " + std::to_string(mean_.size()) + "×" +
                                std::to_string(mean_.size()) + ", got " + std::to_string(cov_.rows()) + "×" +
                                std::to_string(cov_.cols()));
  Eigen::LLT<Eigen::MatrixXd> llt(cov_);
  if (llt.info() != Eigen::Success || !(cov_ - cov_.transpose()).isZero(1e-12 * cov_.norm()))
    throw std::invalid_argument("MultiNormalTarget: covariance is not symmetric positive definite");
  precision_ = llt.solve(Eigen::MatrixXd::Identity(mean_.size(), mean_.size()));
}

double MultiNormalTarget::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  check_sizes(theta, grad, dim(), "MultiNormalTarget");
  Eigen::Map<const Eigen::VectorXd> x(theta.data(), dim());
  Eigen::Map<Eigen::VectorXd> g(grad.data(), dim());
  const Eigen::VectorXd r = x - mean_;
  g.noalias() = -precision_ * r;
  return 0.5 * r.dot(g);  // up to the normalising constant
}

FunnelTarget::FunnelTarget(int64_t dim, double v_scale) : dim_(dim), v_scale_(v_scale) {
  if (dim < 2) throw std::invalid_argument("FunnelTarget: dimension must be at least 2, got " + std::to_string(dim));
  if (!(v_scale > 0)) throw std::invalid_argument("FunnelTarget: v_scale must be positive");
}

double FunnelTarget::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  check_sizes(theta, grad, dim_, "FunnelTarget");
  const double v = theta[0], e = std::exp(-v);
  const double n = static_cast<double>(dim_ - 1);
  double lp = -0.5 * v * v / (v_scale_ * v_scale_), ss = 0;
  for (int64_t i = 1; i < dim_; ++i) {
    ss += theta[i] * theta[i];
    grad[i] = -theta[i] * e;
  }
  lp += -0.5 * ss * e - 0.5 * n * v;  // x_i ~ N(0, e^v): log σ = v/2 each
  grad[0] = -v / (v_scale_ * v_scale_) + 0.5 * ss * e - 0.5 * n;
  return lp;
}

std::vector<std::string> FunnelTarget::param_names() const {
  std::vector<std::string> names{"v"};
  for (int64_t i = 1; i < dim_; ++i) names.push_back("x." + std::to_string(i));
  return names;
}

LinearRegressionTarget::LinearRegressionTarget(Eigen::MatrixXd x, Eigen::VectorXd y, double sigma, double prior_scale)
    : x_(std::move(x)), y_(std::move(y)), sigma_(sigma), prior_scale_(prior_scale) {
  if (x_.rows() != y_.size() || x_.rows() == 0 || x_.cols() == 0)
    throw std::invalid_argument("LinearRegressionTarget: X is " + std::to_string(x_.rows()) + "×" + std::to_string(x_.cols()) +
                                ", y has " + std::to_string(y_.size()) + " rows");
  if (!(sigma > 0) || !(prior_scale > 0)) throw std::invalid_argument("LinearRegressionTarget: sigma and prior_scale must be positive");
  xtx_ = x_.transpose() * x_;
  xty_ = x_.transpose() * y_;
}

double LinearRegressionTarget::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  check_sizes(theta, grad, dim(), "LinearRegressionTarget");
  Eigen::Map<const Eigen::VectorXd> b(theta.data(), dim());
  Eigen::Map<Eigen::VectorXd> g(grad.data(), dim());
  const Eigen::VectorXd r = y_ - x_ * b;
  const double is2 = 1 / (sigma_ * sigma_), ip2 = 1 / (prior_scale_ * prior_scale_);
  g.noalias() = is2 * (x_.transpose() * r) - ip2 * b;
  return -0.5 * is2 * r.squaredNorm() - 0.5 * ip2 * b.squaredNorm();
}

std::vector<std::string> LinearRegressionTarget::param_names() const {
  std::vector<std::string> names;
  for (int64_t i = 1; i <= dim(); ++i) names.push_back("beta." + std::to_string(i));
  return names;
}

Eigen::MatrixXd LinearRegressionTarget::posterior_covariance() const {
  const int64_t d = dim();
  Eigen::MatrixXd prec = xtx_ / (sigma_ * sigma_) + Eigen::MatrixXd::Identity(d, d) / (prior_scale_ * prior_scale_);
  return prec.llt().solve(Eigen::MatrixXd::Identity(d, d));
}

Eigen::VectorXd LinearRegressionTarget::posterior_mean() const {
  return posterior_covariance() * xty_ / (sigma_ * sigma_);
}

}  // namespace trusty::mcmc
