// Static HMC and HMCLET mode on Gaussians with known moments (4 MCSE, split R̂ < 1.01 on 4
// chains, as in nuts_test.cpp).
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mcmc/targets.hpp"
#include "mcmc/test_util.hpp"
#include "trusty/mcmc/hmclet.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::mcmc {
namespace {

using test::expect_moments;

Eigen::VectorXd mean_of(const Eigen::VectorXd& sigma) {
  Eigen::VectorXd mu(sigma.size());
  for (int64_t i = 0; i < sigma.size(); ++i) mu[i] = sigma[i] * static_cast<double>(i % 3 - 1);
  return mu;
}

struct Correlated {
  Eigen::Vector2d mu{1.0, -2.0};
  Eigen::Matrix2d cov;
  Correlated() { cov << 1.0, 1.98, 1.98, 4.0; }  // correlation 0.99
};

// Static HMC with a fixed integration time (Stan's default 2π would be a full period of the
// unit-scale coordinates after adaptation: use a time that is not a multiple of it).
TEST(StaticHmc, Gaussian20DLogScalesDiagE) {
  const Eigen::VectorXd sigma = test::log_spaced(20, 0.01, 100), mu = mean_of(sigma);
  const auto density = test::diag_gaussian(mu, sigma);
  const auto chains = sample(*density, {.algorithm = "hmc", .seed = 31, .hmc_int_time = 2.3});
  expect_moments(chains, mu, sigma.array().square());
  EXPECT_EQ(chains[0].config[1].second, "static");
}

// Fixed L: after dense adaptation the target is whitened and ε ≈ 0.85, so L = 7 would
// integrate for ≈ 2π, a full period that returns near the start (R̂ 1.09 in a trial run),
// and L = 4 for ≈ π, which maps x to about −x and leaves |x| stuck (tail R̂ 1.03); L = 3
// (≈ 0.8π) avoids both resonances.
TEST(StaticHmc, Gaussian2DCorrelatedDenseEFixedSteps) {
  const Correlated t;
  const auto density = test::gaussian(t.mu, t.cov);
  const auto chains = sample(*density, {.algorithm = "hmc", .seed = 32, .metric = "dense_e", .hmc_steps = 3});
  expect_moments(chains, t.mu, t.cov.diagonal());
  for (int n : chains[0].n_leapfrog) EXPECT_EQ(n, 3);
}

TEST(Hmclet, Gaussian10DScales01To10Diag) {
  const Eigen::VectorXd sigma = test::log_spaced(10, 0.1, 10), mu = mean_of(sigma);
  const auto density = test::diag_gaussian(mu, sigma);
  const auto chains = sample(*density, {.algorithm = "hmclet", .seed = 33});
  expect_moments(chains, mu, sigma.array().square());
  EXPECT_EQ(test::count_divergent(chains), 0);  // ε_max stays below the stability limit
  // ε is drawn in (0, ε_max] and L in [1, L_max] every iteration.
  const double eps_max = chains[0].step_size;
  for (size_t i = 0; i < chains[0].stepsize.size(); ++i) {
    EXPECT_LE(chains[0].stepsize[i], eps_max);
    EXPECT_GE(chains[0].n_leapfrog[i], 1);
    EXPECT_LE(chains[0].n_leapfrog[i], 20);
  }
}

TEST(Hmclet, Gaussian2DCorrelatedDense) {
  const Correlated t;
  const auto density = test::gaussian(t.mu, t.cov);
  const auto chains = sample(*density, {.algorithm = "hmclet", .seed = 34, .metric = "dense_e"});
  expect_moments(chains, t.mu, t.cov.diagonal());
  EXPECT_EQ(test::count_divergent(chains), 0);
}

TEST(Hmclet, QuasiNewtonGaussian10D) {
  const Eigen::VectorXd sigma = test::log_spaced(10, 0.1, 10), mu = mean_of(sigma);
  const auto density = test::diag_gaussian(mu, sigma);
  const auto chains = sample(*density, {.algorithm = "hmclet", .seed = 35, .hmclet_quasi_newton = true});
  expect_moments(chains, mu, sigma.array().square());
  EXPECT_EQ(test::count_divergent(chains), 0);
  EXPECT_EQ(chains[0].metric, "dense_e");
}

// On a Gaussian the BFGS estimate of the inverse Hessian converges to the covariance: the
// frozen metric is close to it.
TEST(Hmclet, QuasiNewtonGaussian2DCorrelated) {
  const Correlated t;
  const auto density = test::gaussian(t.mu, t.cov);
  const auto chains = sample(*density, {.algorithm = "hmclet", .seed = 36, .hmclet_quasi_newton = true});
  expect_moments(chains, t.mu, t.cov.diagonal());
  EXPECT_EQ(test::count_divergent(chains), 0);
  const Eigen::MatrixXd& m = chains[0].inv_metric;
  EXPECT_NEAR(m(0, 1) / std::sqrt(m(0, 0) * m(1, 1)), 0.99, 0.01);
}

// The BFGS inverse update: secant condition H y = s, symmetry and definiteness kept, and
// curvature pairs with sᵀy ≤ 0 skipped.
TEST(Hmclet, BfgsInverseUpdate) {
  core::Rng rng(37);
  Eigen::MatrixXd A(3, 3);
  A << 4, 1, 0.5, 1, 2, 0.3, 0.5, 0.3, 1;  // Hessian of a quadratic U
  Eigen::MatrixXd H = Eigen::MatrixXd::Identity(3, 3);
  Eigen::VectorXd hy(3);
  for (int k = 0; k < 6; ++k) {
    Eigen::VectorXd s(3);
    for (int i = 0; i < 3; ++i) s[i] = rng.normal();
    const Eigen::VectorXd y = A * s;
    ASSERT_TRUE(mcmc::bfgs_inverse_update(H, s, y, hy));
    EXPECT_TRUE((H * y).isApprox(s, 1e-12));
    EXPECT_TRUE(H.isApprox(H.transpose(), 1e-14));
    EXPECT_EQ(Eigen::LLT<Eigen::MatrixXd>(H).info(), Eigen::Success);
  }
  const Eigen::MatrixXd before = H;
  Eigen::Vector3d s(1, 0, 0), y(-1, 0.2, 0);  // sᵀy < 0
  EXPECT_FALSE(mcmc::bfgs_inverse_update(H, s, y, hy));
  EXPECT_TRUE(H == before);
}

// The learned path length on a Gaussian whitened by its metric. A probe from q0 with
// momentum p0 follows q(t) = q0 cos t + p0 sin t, so (q − q0)·q̇ = d sin t + O(√d) (|q0|² and
// |p0|² are about d, q0·p0 about ±√d): it turns back at t ≈ π, and L_max = 2·median(T_u)/ε_max
// ≈ 2π/ε_max. With d = 200 the turn of one probe is off π by about ±0.07 (q0·p0/d), and the
// median of 100 probes by far less; 5 % allows that and the leapfrog's O(ε²) phase error.
TEST(Hmclet, LearnedPathLengthIsTwiceTheUTurnTimeOnAGaussian) {
  const int64_t d = 200;
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(d), Eigen::VectorXd::Ones(d));
  Metric metric(MetricKind::unit_e, d);
  Hamiltonian h(*density, metric);
  const double eps_max = 0.05;
  Hmclet hmclet(h, {.eps_max = eps_max, .window = 100, .update_every = 25, .num_warmup = 200});
  EXPECT_EQ(hmclet.L_max(), 20);  // until the first update
  PhasePoint z(d);
  core::Rng rng(39);
  for (int64_t i = 0; i < d; ++i) z.q[i] = rng.normal();
  h.update(z);
  hmclet.initialize(z, rng);
  const int64_t grads0 = h.gradient_evaluations();
  for (int i = 0; i < 200; ++i) {
    double eps;
    hmclet.transition(z, true, rng, eps);
  }
  hmclet.end_warmup();
  const double expected = 2 * std::numbers::pi / eps_max;
  EXPECT_NEAR(static_cast<double>(hmclet.L_max()), expected, 0.05 * expected);
  // The probes' gradients are counted: each runs about π/ε_max steps.
  EXPECT_GT(h.gradient_evaluations() - grads0, 200 * static_cast<int64_t>(0.9 * std::numbers::pi / eps_max));
  // Sampling iterations keep it.
  const int64_t frozen = hmclet.L_max();
  for (int i = 0; i < 20; ++i) {
    double eps;
    const Transition t = hmclet.transition(z, false, rng, eps);
    EXPECT_LE(t.n_leapfrog, frozen);
  }
  EXPECT_EQ(hmclet.L_max(), frozen);
}

// During burn-in with the preconditioner: after every rejection the metric is the covariance
// metric again; after every accepted move with positive curvature it satisfies the secant
// condition for that move. A large fixed ε_max makes rejections frequent.
TEST(Hmclet, QuasiNewtonResetOnRejectionSecantOnAcceptance) {
  const Correlated t;
  const auto density = test::gaussian(t.mu, t.cov);
  Metric metric(MetricKind::dense_e, 2);
  Hamiltonian h(*density, metric);
  Hmclet hmclet(h, {.eps_max = 1.2, .L_max = 5, .window = 50, .update_every = 10, .quasi_newton = true});
  PhasePoint z(2);
  z.q = t.mu;
  h.update(z);
  core::Rng rng(38);
  hmclet.initialize(z, rng);
  int rejected = 0, secant = 0;
  for (int i = 0; i < 300; ++i) {
    const Eigen::VectorXd q0 = z.q, g0 = z.g;
    double eps;
    hmclet.transition(z, true, rng, eps);
    const Eigen::MatrixXd m = metric.inv_metric();
    if (z.q == q0) {
      ++rejected;
      EXPECT_TRUE(m == hmclet.cov_inv_metric_) << "iteration " << i;
    } else {
      const Eigen::VectorXd s = z.q - q0, y = -(z.g - g0);
      if (s.dot(y) > 0) {
        ++secant;
        EXPECT_TRUE((m * y).isApprox(s, 1e-8)) << "iteration " << i;
      }
    }
  }
  EXPECT_GT(rejected, 10);
  EXPECT_GT(secant, 10);
  // Sampling iterations leave the metric alone.
  const Eigen::MatrixXd frozen = metric.inv_metric();
  for (int i = 0; i < 50; ++i) {
    double eps;
    hmclet.transition(z, false, rng, eps);
    EXPECT_LE(eps, 1.2);
  }
  EXPECT_TRUE(metric.inv_metric() == frozen);
}

}  // namespace
}  // namespace trusty::mcmc
