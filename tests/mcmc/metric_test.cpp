// Metric: momenta p ~ N(0, M) for M⁻¹ = Σ, the kinetic energy ½ pᵀΣp and the velocity Σp,
// for each kind; bad metrics refused.
#include <gtest/gtest.h>

#include <cmath>

#include "trusty/mcmc/metric.hpp"

namespace trusty::mcmc {
namespace {

// Cov(p) = Σ⁻¹ = M and E[K] = d/2, from 40000 draws: each entry of the sample covariance
// has standard error ≈ sqrt((M_ii M_jj + M_ij²)/n) ≤ 0.008·|M|; tolerance 5 of them.
TEST(Metric, MomentaHaveCovarianceM) {
  Eigen::Matrix3d sigma;
  sigma << 2.0, 0.6, -0.3, 0.6, 1.0, 0.2, -0.3, 0.2, 0.5;
  for (MetricKind kind : {MetricKind::unit_e, MetricKind::diag_e, MetricKind::dense_e}) {
    Metric m(kind, 3);
    Eigen::Matrix3d inv = Eigen::Matrix3d::Identity();
    if (kind == MetricKind::diag_e) {
      m.set_inv_diag(sigma.diagonal());
      inv = sigma.diagonal().asDiagonal();
    }
    if (kind == MetricKind::dense_e) {
      m.set_inv_dense(sigma);
      inv = sigma;
    }
    const Eigen::Matrix3d M = inv.inverse();
    core::Rng rng(61);
    const int n = 40000;
    Eigen::Matrix3d cov = Eigen::Matrix3d::Zero();
    Eigen::VectorXd p(3), v(3);
    double k = 0;
    for (int i = 0; i < n; ++i) {
      m.sample_momentum(rng, p);
      cov += p * p.transpose();
      k += m.kinetic(p);
      m.velocity(p, v);
      ASSERT_TRUE(v.isApprox(inv * p, 1e-12));
      ASSERT_NEAR(m.kinetic(p), 0.5 * p.dot(inv * p), 1e-12);
    }
    cov /= n;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        const double se = std::sqrt((M(i, i) * M(j, j) + M(i, j) * M(i, j)) / n);
        EXPECT_NEAR(cov(i, j), M(i, j), 5 * se) << metric_name(kind) << " (" << i << ", " << j << ")";
      }
    EXPECT_NEAR(k / n, 1.5, 5 * std::sqrt(1.5 / n));  // K ~ χ²₃/2: variance 3/4·2 = 1.5
  }
}

TEST(Metric, NonPositiveDefiniteRefused) {
  Metric dense(MetricKind::dense_e, 2);
  EXPECT_THROW(dense.set_inv_dense((Eigen::Matrix2d() << 1, 2, 2, 1).finished()), std::invalid_argument);
  EXPECT_THROW(dense.set_inv_dense((Eigen::Matrix2d() << 1, 0.5, 0.4, 1).finished()), std::invalid_argument);
  Metric diag(MetricKind::diag_e, 2);
  EXPECT_THROW(diag.set_inv_diag(Eigen::Vector2d(1, -1)), std::invalid_argument);
  EXPECT_THROW(diag.set_inv_diag(Eigen::Vector2d(1, NAN)), std::invalid_argument);
  EXPECT_THROW(parse_metric("riemann"), std::invalid_argument);
}

}  // namespace
}  // namespace trusty::mcmc
