// Fisher statistics and the IMNN loss: the regularisation rate, the statistics against a
// plain (explicit-inverse) reference, the loss gradient with respect to network weights
// through the finite-difference checker, and a clear error when C is not positive definite.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

#include "trusty/core/grad_check.hpp"
#include "trusty/imnn/fisher.hpp"
#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/imnn/simulation_set.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/optimizer.hpp"
#include "trusty/sim/gaussian.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;
using Mat = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

namespace {
Tensor<double> random(Shape s, uint64_t seed) {
  core::Rng r(seed);
  Tensor<double> t(s);
  for (auto& v : t.span()) v = r.normal();
  return t;
}
}  // namespace

TEST(ImnnLoss, RegularisationRateIsTheReferenceValue) {
  EXPECT_NEAR(imnn::regularisation_rate(10, 0.1), 0.953102, 5e-7);
  EXPECT_THROW(imnn::regularisation_rate(1, 0.1), std::invalid_argument);
  EXPECT_THROW(imnn::regularisation_rate(10, 0), std::invalid_argument);
}

TEST(ImnnLoss, StatisticsMatchAnExplicitReference) {
  const int64_t ns = 50, m = 3, p = 2;
  auto x = random({ns, m}, 1), d = random({p, m}, 2);
  core::GradScope<double> scope;
  auto v = imnn::fisher_statistics(core::constant(x), core::constant(d), {});
  auto s = imnn::summarise(v);
  Mat X = Eigen::Map<const Mat>(x.data(), ns, m), D = Eigen::Map<const Mat>(d.data(), p, m);
  Eigen::RowVectorXd mu = X.colwise().mean();
  Mat xc = X.rowwise() - mu;
  Mat C = xc.transpose() * xc / static_cast<double>(ns - 1), Ci = C.inverse(), F = D * Ci * D.transpose();
  const Mat I = Mat::Identity(m, m);
  const double l2 = (C - I).norm() + (Ci - I).norm(), alpha = 0.953101798043249;
  const double r = 10 * l2 / (l2 + std::exp(-alpha * l2));
  for (int64_t a = 0; a < m; ++a) EXPECT_NEAR(s.mu.data()[a], mu(a), 1e-13);
  for (int64_t a = 0; a < m * m; ++a) EXPECT_NEAR(s.cov.data()[a], C.data()[a], 1e-13);
  for (int64_t a = 0; a < m * m; ++a) EXPECT_NEAR(s.inv_cov.data()[a], Ci.data()[a], 1e-12);
  for (int64_t a = 0; a < p * p; ++a) EXPECT_NEAR(s.fisher.data()[a], F.data()[a], 1e-12);
  EXPECT_NEAR(s.det_fisher, F.determinant(), 1e-12 * std::abs(F.determinant()));
  EXPECT_NEAR(s.det_cov, C.determinant(), 1e-12);
  EXPECT_NEAR(s.det_inv_cov, 1 / C.determinant(), 1e-11);
  EXPECT_NEAR(s.lambda2, l2, 1e-12);
  EXPECT_NEAR(s.r, r, 1e-12);
  EXPECT_NEAR(s.loss, -std::log(F.determinant()) + r * l2, 1e-11);
}

TEST(ImnnLoss, SeedMatchedDerivativeIsTheMeanCentralDifference) {
  // [n_d = 2, 2, p = 2, m = 1]: x⁻, x⁺ per simulation and parameter.
  Tensor<double> x(Shape{2, 2, 2, 1}, {0.0, 1.0, 0.5, 2.0, 1.0, 1.0, 1.5, 3.0});
  core::GradScope<double> scope;
  const std::vector<double> delta{0.5, 2.0};
  auto dmu = imnn::seed_matched_mean_derivative(core::constant(x), delta).value();
  ASSERT_EQ(dmu.shape(), (Shape{2, 1}));
  EXPECT_DOUBLE_EQ(dmu.at({0, 0}), ((0.5 - 0.0) + (1.5 - 1.0)) / 2 / 0.5);
  EXPECT_DOUBLE_EQ(dmu.at({1, 0}), ((2.0 - 1.0) + (3.0 - 1.0)) / 2 / 2.0);
}

// The loss of mode 1 (seed-matched derivatives) as a function of the weights of a small MLP
// run as the fused mlp op (nn::Dense's layout), checked by central differences.
TEST(ImnnLoss, GradientWithRespectToWeightsPassesTheChecker) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  auto set = imnn::simulate_set(g, theta, delta, 5, 0, 40, 20);
  const auto batch = set.batch();
  const std::vector<int64_t> widths{10, 6, 2};
  const int64_t nw = 10 * 6 + 6 + 6 * 2 + 2;
  auto w = random({nw}, 3);
  for (auto& v : w.span()) v *= 0.4;
  auto f = [&](std::span<const Var<double>> in) {
    auto x = core::mlp(core::constant(batch), in[0], widths, core::LinearAct::tanh);
    auto xd = core::reshape(core::slice(x, 0, 40, batch.dim(0)), Shape{20, 2, 2, 2});
    return imnn::fisher_statistics(core::slice(x, 0, 0, 40), imnn::seed_matched_mean_derivative(xd, delta), {}).loss;
  };
  auto r = core::check_gradient(f, {w}, {.eps = 1e-6, .tol = 1e-6});
  EXPECT_TRUE(r.ok) << r.str();
}

// The trainer's own gradient (nn::Sequential, flat gradient buffer) against central
// differences of its loss, for every weight.
TEST(ImnnLoss, TrainerGradientMatchesFiniteDifferences) {
  sim::GaussianVariance g(10);
  const std::vector<double> theta{1.0}, delta{0.1};
  auto set = imnn::simulate_set(g, theta, delta, 9, 0, 30, 15);
  auto net = nn::make_mlp<double>({10, 5, 2}, {.activation = "tanh"});
  net->finalize(4);
  optim::Adam<double> opt({});
  imnn::TrainOptions o;
  o.theta_fid = theta;
  imnn::ImnnTrainer t(*net, opt, o);
  t.step_statistics(set, true);
  std::vector<double> grad(net->gradients().begin(), net->gradients().end());
  auto w = net->parameters();
  double worst = 0;
  for (size_t i = 0; i < w.size(); ++i) {
    const double w0 = w[i], h = 1e-6 * std::max(1.0, std::abs(w0));
    w[i] = w0 + h;
    const double lp = t.step_statistics(set, false).loss;
    w[i] = w0 - h;
    const double lm = t.step_statistics(set, false).loss;
    w[i] = w0;
    const double num = (lp - lm) / (2 * h);
    worst = std::max(worst, std::abs(num - grad[i]) / std::max({1.0, std::abs(num), std::abs(grad[i])}));
  }
  EXPECT_LT(worst, 1e-6);
}

TEST(ImnnLoss, NonPositiveDefiniteCovarianceIsAClearError) {
  auto x = random({20, 3}, 7);
  for (int64_t i = 0; i < 20; ++i) x.at({i, 2}) = x.at({i, 0}) + x.at({i, 1});  // rank 2
  core::GradScope<double> scope;
  try {
    imnn::fisher_statistics(core::constant(x), core::constant(random({2, 3}, 8)), {});
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("covariance of the summaries C"), std::string::npos) << msg;
    EXPECT_NE(msg.find("condition number"), std::string::npos) << msg;
  }
  auto y = random({20, 2}, 9);
  for (int64_t i = 0; i < 20; ++i) y.at({i, 1}) = std::nan("");
  EXPECT_THROW(imnn::fisher_statistics(core::constant(y), core::constant(random({1, 2}, 8)), {}), std::invalid_argument);
}
