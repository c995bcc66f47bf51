// fit_map: on Bayesian linear regression the posterior is Gaussian, so its mode is the
// exact posterior mean m = Λ⁻¹Φᵀy/σ²; both optimisers must reach it.
#include <gtest/gtest.h>

#include "linear_regression.hpp"
#include "trusty/bayes/map_fit.hpp"

namespace trusty::test {
namespace {

TEST(MapFit, LbfgsAndAdamReachTheGaussianPosteriorsMode) {
  const LinearRegression lr(50, 3, 11);
  const std::vector<double> start(4, 0.0);
  const auto a = bayes::fit_map(*lr.model, start, {.optimizer = "lbfgs", .tolerance = 1e-6});
  EXPECT_TRUE(a.converged) << a.max_abs_gradient;
  EXPECT_LT(a.iterations, 50);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(a.theta[static_cast<size_t>(i)], lr.mean[i], 1e-8);
  // Adam: |grad| ≤ 1e-4 at a mode with curvature ≥ λ_min(Λ) puts θ within 1e-4/λ_min.
  const auto b = bayes::fit_map(*lr.model, start, {.optimizer = "adam", .max_iterations = 20000, .lr = 0.02, .tolerance = 1e-4});
  EXPECT_TRUE(b.converged) << b.max_abs_gradient << " after " << b.iterations;
  const double lam_min = Eigen::SelfAdjointEigenSolver<Eigen::MatrixXd>(lr.precision).eigenvalues().minCoeff();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(b.theta[static_cast<size_t>(i)], lr.mean[i], 2e-4 / lam_min);
  EXPECT_NEAR(a.log_density, b.log_density, 1e-6);
}

TEST(MapFit, OptionsAreValidated) {
  const LinearRegression lr(10, 1, 1);
  const std::vector<double> start(2, 0.0);
  try {
    bayes::fit_map(*lr.model, start, {.optimizer = "sgd"});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("option optimizer"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bayes::fit_map(*lr.model, std::vector<double>(3), {}), std::invalid_argument);
  EXPECT_THROW(bayes::fit_map(*lr.model, start, {.max_iterations = 0}), std::invalid_argument);
}

}  // namespace
}  // namespace trusty::test
