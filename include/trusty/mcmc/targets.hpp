// Built-in log densities whose answers are known exactly: the targets a sampler is tested
// on, and what `trusty sample` runs with a [target] table (docs/sample.md).
//
//   GaussianTarget g(mean, scales);            // independent N(mean_i, scale_i²)
//   MultiNormalTarget c(mean, covariance);     // N(mean, Σ), Σ symmetric positive definite
//   FunnelTarget f(10);                        // Neal (2003): v ~ N(0, 3²), x_i | v ~ N(0, e^v)
//   LinearRegressionTarget r(X, y, sigma, prior_scale);  // conjugate: r.posterior_mean()
#pragma once
#include <Eigen/Dense>
#include <vector>

#include "trusty/mcmc/log_density.hpp"

namespace trusty::mcmc {

class GaussianTarget : public LogDensity {
 public:
  GaussianTarget(std::vector<double> mean, std::vector<double> scales);
  int64_t dim() const override { return static_cast<int64_t>(mean_.size()); }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& scales() const { return scales_; }

 private:
  std::vector<double> mean_, scales_, inv_var_;
};

class MultiNormalTarget : public LogDensity {
 public:
  MultiNormalTarget(Eigen::VectorXd mean, Eigen::MatrixXd covariance);
  int64_t dim() const override { return mean_.size(); }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  const Eigen::VectorXd& mean() const { return mean_; }
  const Eigen::MatrixXd& covariance() const { return cov_; }

 private:
  Eigen::VectorXd mean_;
  Eigen::MatrixXd cov_, precision_;
};

// θ = (v, x_1, ..., x_{d-1}); the neck (v ≪ 0) defeats any single step size, so a correct
// sampler reports divergences there.
class FunnelTarget : public LogDensity {
 public:
  explicit FunnelTarget(int64_t dim, double v_scale = 3);
  int64_t dim() const override { return dim_; }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  std::vector<std::string> param_names() const override;

 private:
  int64_t dim_;
  double v_scale_;
};

// y ~ N(X β, σ²) with β ~ N(0, s² I), σ known: the posterior is Gaussian with precision
// XᵀX/σ² + I/s² and mean Σ Xᵀy/σ².
class LinearRegressionTarget : public LogDensity {
 public:
  LinearRegressionTarget(Eigen::MatrixXd x, Eigen::VectorXd y, double sigma, double prior_scale);
  int64_t dim() const override { return x_.cols(); }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  std::vector<std::string> param_names() const override;
  Eigen::VectorXd posterior_mean() const;
  Eigen::MatrixXd posterior_covariance() const;

 private:
  Eigen::MatrixXd x_, xtx_;
  Eigen::VectorXd y_, xty_;
  double sigma_, prior_scale_;
};

}  // namespace trusty::mcmc
