// The gap-regression problem shared by the VI and HMC tests (see gap_regression_test.cpp).
#pragma once
#include <cmath>

#include <Eigen/Dense>

#include "density_check.hpp"
#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/core/rng.hpp"
#include "trusty/nn/layers.hpp"

namespace trusty::test {

struct GapRegression {
  static constexpr double sigma = 0.1, gap = 0.3;
  core::Tensor<double> x, y;
  core::Tensor<double> x_grid;          // 81 points on [−1, 1]
  std::vector<bool> grid_in_gap;        // |x| < 0.2: well inside the gap
  std::vector<bool> x_train_like;       // 0.3 ≤ |x| ≤ 1: where the data are
  std::unique_ptr<bayes::BayesianNetwork> model;

  // n training points, half on each side of the gap, with noise from `seed`.
  explicit GapRegression(uint64_t seed, int64_t n = 60) {
    core::Rng rng(seed, 5);
    x = core::Tensor<double>(core::Shape{n, 1});
    y = core::Tensor<double>(core::Shape{n, 1});
    for (int64_t i = 0; i < n; ++i) {
      const double u = (static_cast<double>(i / 2) + 0.5) / static_cast<double>(n / 2);  // stratified in (0, 1)
      x.data()[i] = (i % 2 ? 1.0 : -1.0) * (gap + (1 - gap) * u);
      y.data()[i] = std::sin(3 * x.data()[i]) + sigma * rng.normal();
    }
    x_grid = core::Tensor<double>(core::Shape{81, 1});
    for (int64_t i = 0; i < 81; ++i) {
      const double v = -1 + 2.0 * static_cast<double>(i) / 80;
      x_grid.data()[i] = v;
      grid_in_gap.push_back(std::abs(v) < 0.2);
      x_train_like.push_back(std::abs(v) >= gap);
    }
    auto net = nn::make_mlp<double>({1, 20, 20, 1}, {.activation = "tanh"});
    net->finalize(seed);
    model = std::make_unique<bayes::BayesianNetwork>(std::move(net), x, y,
                                                     bayes::BayesianNetworkOptions{.sigma = sigma, .prior = {.scale = 1}});
  }

  // Mean of a grid column over the gap (in_gap) or over the data region.
  double mean_over(const Eigen::MatrixXd& v, bool in_gap) const {
    double s = 0;
    int n = 0;
    for (int64_t i = 0; i < 81; ++i)
      if (in_gap ? grid_in_gap[static_cast<size_t>(i)] : x_train_like[static_cast<size_t>(i)]) {
        s += v(i, 0);
        ++n;
      }
    return s / n;
  }

  // RMS of (prediction − sin 3x) over the grid points selected by `mask`.
  double rms_error(const Eigen::MatrixXd& mean, const std::vector<bool>& mask) const {
    double s = 0;
    int n = 0;
    for (int64_t i = 0; i < 81; ++i)
      if (mask[static_cast<size_t>(i)]) {
        s += std::pow(mean(i, 0) - std::sin(3 * x_grid.data()[i]), 2);
        ++n;
      }
    return std::sqrt(s / n);
  }
};

}  // namespace trusty::test
