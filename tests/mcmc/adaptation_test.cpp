// Stan's warmup pieces on their own: the window schedule (the end iterations Stan's
// windowed_adaptation produces), the regularised metric estimate computed independently,
// the short-warmup rule, dual averaging's fixed point and the initial step-size heuristic.
#include <gtest/gtest.h>

#include <cmath>

#include "mcmc/targets.hpp"
#include "trusty/mcmc/adaptation.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::mcmc {
namespace {

// Iterations (0-based) at which learn() replaced the metric.
std::vector<int64_t> window_ends(WindowedAdaptation w, int64_t num_warmup) {
  Metric m(MetricKind::diag_e, 1);
  std::vector<int64_t> ends;
  core::Rng rng(1);
  Eigen::VectorXd q(1);
  for (int64_t i = 0; i < num_warmup; ++i) {
    q[0] = rng.normal();
    if (w.learn(m, q)) ends.push_back(i);
  }
  return ends;
}

TEST(WindowedAdaptation, StanSchedule) {
  // 1000 warmup: 75 | 25 | 50 | 100 | 200 | 500 (stretched) | 50.
  EXPECT_EQ(window_ends(WindowedAdaptation(MetricKind::diag_e, 1, 1000, 75, 50, 25), 1000),
            (std::vector<int64_t>{99, 149, 249, 449, 949}));
  // 2000: 75 | 25 | 50 | 100 | 200 | 400 | 1100 (800 would leave 300 < 1600) | 50.
  EXPECT_EQ(window_ends(WindowedAdaptation(MetricKind::diag_e, 1, 2000, 75, 50, 25), 2000),
            (std::vector<int64_t>{99, 149, 249, 449, 849, 1949}));
  // 150 = 75 + 25 + 50: one window.
  EXPECT_EQ(window_ends(WindowedAdaptation(MetricKind::diag_e, 1, 150, 75, 50, 25), 150),
            (std::vector<int64_t>{99}));
}

TEST(WindowedAdaptation, ShortWarmupScaledOrOff) {
  // 100 < 75 + 25 + 50: 15% / 75% / 10% → init 15, window 75, term 10.
  WindowedAdaptation w(MetricKind::diag_e, 1, 100, 75, 50, 25);
  EXPECT_EQ(w.init_buffer(), 15);
  EXPECT_EQ(w.base_window(), 75);
  EXPECT_EQ(w.term_buffer(), 10);
  EXPECT_EQ(window_ends(w, 100), (std::vector<int64_t>{89}));
  // Below 20 warmup iterations the metric is not adapted.
  EXPECT_TRUE(window_ends(WindowedAdaptation(MetricKind::diag_e, 1, 19, 75, 50, 25), 19).empty());
}

// The metric after the first window: n/(n + 5) Σ̂ + 10⁻³ · 5/(n + 5) · I from the window's
// draws only (iterations 75 … 99), Σ̂ the unbiased sample (co)variance.
TEST(WindowedAdaptation, RegularisedEstimateOfTheWindow) {
  for (MetricKind kind : {MetricKind::diag_e, MetricKind::dense_e}) {
    WindowedAdaptation w(kind, 2, 1000, 75, 50, 25);
    Metric m(kind, 2);
    core::Rng rng(2);
    Eigen::MatrixXd kept(25, 2);
    for (int64_t i = 0; i < 100; ++i) {
      Eigen::VectorXd q(2);
      q[0] = 3 + 2 * rng.normal();
      q[1] = 0.5 * q[0] + rng.normal();
      if (i >= 75) kept.row(i - 75) = q.transpose();
      EXPECT_EQ(w.learn(m, q), i == 99);
    }
    const Eigen::MatrixXd c = kept.rowwise() - kept.colwise().mean();
    const Eigen::MatrixXd cov = c.transpose() * c / 24.0;
    const double n = 25;
    const Eigen::MatrixXd expected = n / (n + 5) * cov + 1e-3 * 5 / (n + 5) * Eigen::MatrixXd::Identity(2, 2);
    if (kind == MetricKind::diag_e) {
      EXPECT_TRUE(m.inv_metric().isApprox(expected.diagonal(), 1e-12)) << m.inv_metric();
    } else {
      EXPECT_TRUE(m.inv_metric().isApprox(expected, 1e-12)) << m.inv_metric();
    }
  }
}

// With a constant acceptance a, s̄ → δ − a and x = μ − s̄√t/γ runs away; with acceptance
// equal to δ the iterate stays at μ.
TEST(StepSizeAdaptation, FixedPointAndDirection) {
  StepSizeAdaptation da;
  da.mu = std::log(10.0);
  for (int i = 0; i < 50; ++i) EXPECT_NEAR(da.learn(0.8), 10.0, 1e-12);
  EXPECT_NEAR(da.final_step_size(), 10.0, 1e-12);
  da.restart();
  const double e1 = da.learn(0.2);  // too few acceptances: the step shrinks
  EXPECT_LT(e1, 10.0);
  // First update by hand: η = 1/11, s̄ = 0.6/11, x = μ − s̄/γ, x̄ = x (weight 1^−κ = 1).
  EXPECT_NEAR(std::log(e1), std::log(10.0) - (0.6 / 11) / 0.05, 1e-12);
  EXPECT_NEAR(da.final_step_size(), e1, 1e-12);
  da.restart();
  EXPECT_GT(da.learn(1.0), 10.0);  // always accepted: the step grows
}

// The heuristic doubles or halves from ε = 1 until the one-step acceptance crosses 0.8: on
// N(0, σ²) it ends within a small factor of σ whatever σ is.
TEST(StepSizeAdaptation, InitialStepSizeFollowsTheScale) {
  for (double sigma : {1e-3, 1.0, 1e3}) {
    const auto f = test::diag_gaussian(Eigen::VectorXd::Zero(1), Eigen::VectorXd::Constant(1, sigma));
    Metric m(MetricKind::unit_e, 1);
    Hamiltonian h(*f, m);
    PhasePoint z(1);
    z.q[0] = sigma;
    h.update(z);
    core::Rng rng(3);
    const double eps = find_initial_step_size(h, z, 1.0, rng);
    EXPECT_GT(eps, sigma / 8) << sigma;
    EXPECT_LT(eps, sigma * 8) << sigma;
    EXPECT_EQ(z.q[0], sigma);  // the point is restored
    EXPECT_EQ(std::log2(eps), std::round(std::log2(eps)));  // a power of two times 1
  }
}

// A window of one draw has no variance estimate: the metric stays as it was.
TEST(WindowedAdaptation, SingleDrawWindowKeepsTheMetric) {
  WindowedAdaptation w(MetricKind::diag_e, 1, 100, 10, 10, 1);  // first window: iteration 10
  Metric m(MetricKind::diag_e, 1);
  m.set_inv_diag(Eigen::VectorXd::Constant(1, 4.0));
  Eigen::VectorXd q(1);
  for (int64_t i = 0; i <= 10; ++i) {
    q[0] = static_cast<double>(i);
    EXPECT_EQ(w.learn(m, q), i == 10);
  }
  EXPECT_EQ(m.inv_metric()(0, 0), 4.0);
}

// term_buffer = 0: the last window ends on the last warmup iteration and restarts dual
// averaging; the final step size is the one re-initialised for that metric, not exp(0) = 1.
TEST(StepSizeAdaptation, NoTerminalBufferKeepsAReinitialisedStep) {
  const auto f = test::diag_gaussian(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Constant(2, 0.01));
  const auto chains = sample(*f, {.num_warmup = 150, .num_samples = 100, .chains = 1, .seed = 6,
                                  .init_buffer = 75, .term_buffer = 0, .window = 25});
  EXPECT_NE(chains[0].step_size, 1.0);
  EXPECT_GT(chains[0].step_size, 0.1);   // the metric has learnt the 0.01 scale: ε ~ 1
  EXPECT_LT(chains[0].step_size, 10.0);
  EXPECT_LT(std::abs(chains[0].inv_metric(0, 0) / 1e-4 - 1), 0.5);
}

}  // namespace
}  // namespace trusty::mcmc
