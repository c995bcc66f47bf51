#include "trusty/nn/baselines.hpp"

#include <Eigen/Dense>
#include <cmath>
#include <stdexcept>

#include "trusty/core/ops.hpp"
#include "trusty/nn/losses.hpp"
#include "trusty/optim/optimizer.hpp"

namespace trusty::nn {

using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

std::vector<double> LinearModel::predict(const core::Tensor<double>& x) const {
  if (x.rank() != 2 || x.dim(1) != static_cast<int64_t>(coef.size()))
    throw std::invalid_argument("LinearModel::predict: input " + x.shape().str() + " for " + std::to_string(coef.size()) + " features");
  auto xc = x.contiguous();
  std::vector<double> out(static_cast<size_t>(x.dim(0)), intercept);
  for (int64_t i = 0; i < x.dim(0); ++i)
    for (size_t j = 0; j < coef.size(); ++j) out[static_cast<size_t>(i)] += xc.data()[i * x.dim(1) + static_cast<int64_t>(j)] * coef[j];
  return out;
}

LinearModel least_squares(const core::Tensor<double>& x0, std::span<const double> y, bool intercept) {
  if (x0.rank() != 2 || x0.dim(0) != static_cast<int64_t>(y.size()))
    throw std::invalid_argument("least_squares: design " + x0.shape().str() + " for " + std::to_string(y.size()) + " targets");
  auto x = x0.contiguous();
  const int64_t n = x.dim(0), p = x.dim(1), q = p + (intercept ? 1 : 0);
  Mat X(n, q);
  for (int64_t i = 0; i < n; ++i) {
    if (intercept) X(i, 0) = 1;
    for (int64_t j = 0; j < p; ++j) X(i, j + (intercept ? 1 : 0)) = x.data()[i * p + j];
  }
  Eigen::VectorXd Y = Eigen::Map<const Eigen::VectorXd>(y.data(), n);
  // The lecture's θ = (XᵀX)⁺ Xᵀ y, through a complete orthogonal decomposition.
  Mat XtX = X.transpose() * X;
  Eigen::VectorXd beta = XtX.completeOrthogonalDecomposition().pseudoInverse() * (X.transpose() * Y);
  LinearModel m;
  m.intercept = intercept ? beta(0) : 0;
  for (int64_t j = 0; j < p; ++j) m.coef.push_back(beta(j + (intercept ? 1 : 0)));
  return m;
}

std::vector<double> LogisticModel::predict_proba(const core::Tensor<double>& x) const {
  auto z = linear.predict(x);
  for (auto& v : z) v = 1 / (1 + std::exp(-v));
  return z;
}

std::vector<int64_t> LogisticModel::predict(const core::Tensor<double>& x) const {
  std::vector<int64_t> out;
  for (double p : predict_proba(x)) out.push_back(p > 0.5);
  return out;
}

double LogisticModel::accuracy(const core::Tensor<double>& x, std::span<const int64_t> labels) const {
  auto p = predict(x);
  int64_t ok = 0;
  for (size_t i = 0; i < p.size(); ++i) ok += p[i] == labels[i];
  return static_cast<double>(ok) / static_cast<double>(p.size());
}

LogisticModel logistic_regression(const core::Tensor<double>& x0, std::span<const int64_t> labels, LogisticOptions opt) {
  auto x = x0.contiguous();
  if (x.rank() != 2 || x.dim(0) != static_cast<int64_t>(labels.size()))
    throw std::invalid_argument("logistic_regression: design " + x.shape().str() + " for " + std::to_string(labels.size()) + " labels");
  const int64_t n = x.dim(0), p = x.dim(1);
  core::Tensor<double> t(core::Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    if (labels[static_cast<size_t>(i)] != 0 && labels[static_cast<size_t>(i)] != 1)
      throw std::invalid_argument("logistic_regression: label " + std::to_string(labels[static_cast<size_t>(i)]) + " at row " + std::to_string(i) + " is not 0 or 1");
    t.at({i, 0}) = static_cast<double>(labels[static_cast<size_t>(i)]);
  }
  std::vector<double> theta(static_cast<size_t>(p + 1), 0.0);  // weights, then intercept (not penalised)
  auto objective = [&](std::span<const double> th, std::span<double> g) {
    return core::value_and_grad<double>(
        [&](core::Var<double> v) {
          auto w = core::reshape(core::slice(v, 0, 0, p), core::Shape{p, 1});
          auto b = core::slice(v, 0, p, p + 1);
          auto z = core::linear(core::constant(x), w, b);
          auto nll = core::sum(core::softplus(z) - z * core::constant(t));
          if (opt.c <= 0) return nll;
          return core::dot(core::slice(v, 0, 0, p), core::slice(v, 0, 0, p)) * 0.5 + nll * opt.c;
        },
        th, g);
  };
  optim::Lbfgs<double> lbfgs({.lr = 1, .max_iter = opt.max_iter, .tolerance_grad = 1e-9, .history_size = 20, .strong_wolfe = true});
  lbfgs.step(objective, theta);
  LogisticModel m;
  m.linear.coef.assign(theta.begin(), theta.begin() + p);
  m.linear.intercept = theta[static_cast<size_t>(p)];
  return m;
}

}  // namespace trusty::nn
