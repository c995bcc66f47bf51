// Quasi-ML estimates θ̂ = θ_fid + F⁻¹ D C⁻¹ (x − μ) against a hand computation, marginal errors and
// the normalised Gaussian approximation N(θ̂, F⁻¹).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "trusty/imnn/estimator.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;

TEST(Estimator, EstimatesFollowTheScoreCompressionFormula) {
  imnn::FisherSummary s;
  s.mu = Tensor<double>(Shape{2}, {1.0, -1.0});
  s.cov = Tensor<double>(Shape{2, 2}, {2.0, 0.0, 0.0, 0.5});
  s.dmu = Tensor<double>(Shape{2, 2}, {1.0, 0.0, 0.0, 2.0});  // [n_params, n_summaries]
  // F = D C⁻¹ Dᵀ = diag(1/2, 8)
  s.fisher = Tensor<double>(Shape{2, 2}, {0.5, 0.0, 0.0, 8.0});
  imnn::Estimator est({0.3, 0.7}, s);
  Tensor<double> x(Shape{2, 2}, {3.0, -1.0, 1.0, 0.0});
  auto th = est.estimate(x);
  // θ̂ = θ_fid + F⁻¹ D C⁻¹ (x − μ): row 0: dx = (2, 0) → (0.3 + 2·(1/2)/(1/2), 0.7) = (2.3, 0.7)
  EXPECT_NEAR(th.at({0, 0}), 2.3, 1e-14);
  EXPECT_NEAR(th.at({0, 1}), 0.7, 1e-14);
  // row 1: dx = (0, 1) → (0.3, 0.7 + (1/8)·2·2·1) = (0.3, 1.2)
  EXPECT_NEAR(th.at({1, 0}), 0.3, 1e-14);
  EXPECT_NEAR(th.at({1, 1}), 1.2, 1e-14);
  auto e = est.marginal_errors();
  EXPECT_NEAR(e[0], std::sqrt(2.0), 1e-14);
  EXPECT_NEAR(e[1], std::sqrt(1.0 / 8), 1e-14);
  const std::vector<double> a{0.3, 0.7}, b{1.3, 0.7};
  EXPECT_NEAR(est.log_density(a, a), 0.5 * std::log(4.0) - std::log(2 * std::numbers::pi), 1e-14);
  EXPECT_NEAR(est.log_density(b, a) - est.log_density(a, a), -0.25, 1e-14);  // −½ · 1² · F₀₀
  EXPECT_THROW(est.estimate(Tensor<double>(Shape{2, 3})), std::invalid_argument);
}
