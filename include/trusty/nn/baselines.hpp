// The lecture's baselines: ordinary least squares through the pseudo-inverse, and binary
// logistic regression (L2-regularised like scikit-learn's default: ½‖w‖² + C Σ log-loss,
// fitted by L-BFGS on the tape).
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "trusty/core/tensor.hpp"

namespace trusty::nn {

struct LinearModel {
  std::vector<double> coef;  // one per feature
  double intercept = 0;
  std::vector<double> predict(const core::Tensor<double>& x) const;  // X coef + intercept
};

// β = X⁺ y with X⁺ the Moore–Penrose pseudo-inverse (rank-deficient designs are fine).
LinearModel least_squares(const core::Tensor<double>& x, std::span<const double> y, bool intercept = true);

struct LogisticOptions {
  double c = 1.0;  // inverse regularisation strength; <= 0: none
  int max_iter = 200;
};
struct LogisticModel {
  LinearModel linear;
  std::vector<double> predict_proba(const core::Tensor<double>& x) const;
  std::vector<int64_t> predict(const core::Tensor<double>& x) const;  // p > 0.5
  double accuracy(const core::Tensor<double>& x, std::span<const int64_t> labels) const;
};
LogisticModel logistic_regression(const core::Tensor<double>& x, std::span<const int64_t> labels, LogisticOptions opt = {});

}  // namespace trusty::nn
