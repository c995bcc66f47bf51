// The built-in targets: gradients by finite differences, and the closed forms they promise.
#include <gtest/gtest.h>

#include <cmath>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/targets.hpp"

using namespace trusty;

namespace {
std::vector<double> random_point(int64_t d, uint64_t seed, double scale = 1) {
  core::Rng rng(seed);
  std::vector<double> x(static_cast<size_t>(d));
  for (auto& v : x) v = scale * rng.normal();
  return x;
}
}  // namespace

TEST(Targets, GradientsMatchFiniteDifferences) {
  mcmc::GaussianTarget g({1, -2, 0.5}, {0.1, 1, 30});
  Eigen::MatrixXd cov(2, 2);
  cov << 1, 0.99, 0.99, 1;
  mcmc::MultiNormalTarget c(Eigen::Vector2d(0.3, -0.1), cov);
  mcmc::FunnelTarget f(10);
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(20, 3);
  Eigen::VectorXd y = Eigen::VectorXd::Random(20);
  mcmc::LinearRegressionTarget r(x, y, 0.5, 2);
  const mcmc::LogDensity* targets[] = {&g, &c, &f, &r};
  for (const auto* t : targets) {
    auto th = random_point(t->dim(), 7);
    auto res = mcmc::check_gradient(*t, th);
    EXPECT_TRUE(res.ok) << res.str();
  }
}

TEST(Targets, GaussianValueIsTheNormalisedDensity) {
  mcmc::GaussianTarget g({1}, {2});
  std::vector<double> th{3}, gr(1);
  const double lp = g.log_density_and_gradient(th, gr);
  EXPECT_NEAR(lp, -0.5 - std::log(2.0) - 0.5 * std::log(2 * M_PI), 1e-14);
  EXPECT_NEAR(gr[0], -0.5, 1e-15);
}

TEST(Targets, FunnelDensityIsNealsFunnel) {
  // ln p(v, x) = ln N(v | 0, 3²) + Σ ln N(x_i | 0, e^{v/2}), up to constants.
  mcmc::FunnelTarget f(3);
  std::vector<double> a{0.7, 0.2, -1.1}, b{-1.3, 0.4, 0.9}, g(3);
  auto exact = [](const std::vector<double>& t) {
    double lp = -0.5 * t[0] * t[0] / 9;
    for (size_t i = 1; i < t.size(); ++i) lp += -0.5 * t[i] * t[i] * std::exp(-t[0]) - 0.5 * t[0];
    return lp;
  };
  EXPECT_NEAR(f.log_density_and_gradient(a, g) - f.log_density_and_gradient(b, g), exact(a) - exact(b), 1e-13);
}

TEST(Targets, LinearRegressionClosedFormIsTheMode) {
  // The posterior is Gaussian, so its mean is where the gradient vanishes.
  Eigen::MatrixXd x = Eigen::MatrixXd::Random(30, 4);
  Eigen::VectorXd y = Eigen::VectorXd::Random(30);
  mcmc::LinearRegressionTarget r(x, y, 0.3, 1.5);
  Eigen::VectorXd m = r.posterior_mean();
  std::vector<double> th(m.data(), m.data() + 4), g(4);
  r.log_density_and_gradient(th, g);
  for (double v : g) EXPECT_NEAR(v, 0, 1e-10);
  // Its covariance is the inverse of the negative Hessian (finite differences of the gradient).
  Eigen::MatrixXd h(4, 4);
  for (int j = 0; j < 4; ++j) {
    auto tp = th, tm = th;
    tp[j] += 1e-4;
    tm[j] -= 1e-4;
    std::vector<double> gp(4), gm(4);
    r.log_density_and_gradient(tp, gp);
    r.log_density_and_gradient(tm, gm);
    for (int i = 0; i < 4; ++i) h(i, j) = -(gp[i] - gm[i]) / 2e-4;
  }
  EXPECT_LT((h.inverse() - r.posterior_covariance()).norm(), 1e-8 * r.posterior_covariance().norm());
}

TEST(Targets, BadInputIsNamed) {
  EXPECT_THROW(mcmc::GaussianTarget({0, 0}, {1, -1}), std::invalid_argument);
  Eigen::MatrixXd notpd(2, 2);
  notpd << 1, 2, 2, 1;
  EXPECT_THROW(mcmc::MultiNormalTarget(Eigen::Vector2d::Zero(), notpd), std::invalid_argument);
  EXPECT_THROW(mcmc::FunnelTarget(1), std::invalid_argument);
}
