// The seed's contrast on a 1-D regression with a gap in the training inputs:
// x ∈ [−1, −0.3] ∪ [0.3, 1], y = sin(3x) + N(0, 0.1²), a 1-20-20-1 tanh network with
// N(0, 1) priors and σ = 0.1. The trained (MAP) network is a delta function — its predictive
// has no spread beyond the noise — while variational inference widens its predictive in the
// gap, where no data constrain the weights.
#include <gtest/gtest.h>

#include <cmath>

#include "gap_regression.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/bayes/posterior_predictive.hpp"
#include "trusty/bayes/variational.hpp"

namespace trusty::test {
namespace {

TEST(GapRegression, MapIsADeltaFunctionAndVariationalWidensInTheGap) {
  GapRegression g(1);
  const auto map = bayes::fit_map(*g.model, g.model->initial_theta(), {.optimizer = "lbfgs", .max_iterations = 3000, .tolerance = 1e-3});
  std::printf("[ gap ] MAP: ln pi %.2f after %lld L-BFGS iterations, max |grad| %.1e\n", map.log_density,
              static_cast<long long>(map.iterations), map.max_abs_gradient);
  Eigen::MatrixXd map_row(1, g.model->constrained_dim());
  g.model->constrain(map.theta, std::span<double>(map_row.data(), static_cast<size_t>(map_row.cols())));
  const auto pm = bayes::posterior_predictive(*g.model, map_row, g.x_grid);
  EXPECT_EQ(pm.sd_network.norm(), 0.0);               // a delta function over the weights
  EXPECT_LT(g.rms_error(pm.mean, g.x_train_like), 0.05);  // and a good fit where the data are
  std::printf("[ gap ] MAP: rms error over the data %.3f\n", g.rms_error(pm.mean, g.x_train_like));
  EXPECT_NEAR(pm.sd.maxCoeff(), GapRegression::sigma, 1e-15);  // the noise alone

  const auto vi = bayes::fit_variational(*g.model, map.theta, {.iterations = 20000, .mc_samples = 2, .lr = 1e-2, .init_sd = 1e-3, .seed = 2});
  const mcmc::ChainDraws d = bayes::variational_draws(*g.model, vi.q, 1000, 3);
  const auto pv = bayes::posterior_predictive(*g.model, std::vector<mcmc::ChainDraws>{d}, g.x_grid);
  const double in = g.mean_over(pv.sd_network, true), out = g.mean_over(pv.sd_network, false);
  const double rmse = g.rms_error(pv.mean, g.x_train_like);
  std::printf("[ gap ] VI: network-output sd in the gap %.4f, over the data %.4f (ratio %.2f); mean's rms error over the data %.3f\n",
              in, out, in / out, rmse);
  // Measured: ratio 3.5 (seed 2); the claim tested is the qualitative one, with margin.
  EXPECT_GT(in, 1.5 * out);
  EXPECT_LT(rmse, 0.15);  // still a fit (MAP's: < 0.05)
  // And the observation noise is on top of the weights' spread.
  EXPECT_GT(pv.sd.minCoeff(), GapRegression::sigma);
}

}  // namespace
}  // namespace trusty::test
