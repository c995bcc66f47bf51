// The seed's contrast on a 1-D regression with a gap in the training inputs:
// x ∈ [−1, −0.3] ∪ [0.3, 1], y = sin(3x) + N(0, 0.1²), a 1-20-20-1 tanh network with
// N(0, 1) priors and σ = 0.1. The trained (MAP) network is a delta function — its predictive
// has no spread beyond the noise — while variational inference widens its predictive in the
// gap, where no data constrain the weights.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

#include "gap_regression.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/bayes/posterior_predictive.hpp"
#include "trusty/bayes/variational.hpp"
#include "trusty/mcmc/sampler.hpp"

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

// HMC (NUTS) on the same posterior: held-out points from the data's distribution fall in
// the 90 % predictive intervals 88–92 % of the time, and the network-output sd in the gap is
// at least 3× that over the data.
TEST(GapRegression, HmcPredictiveCoversHeldOutPointsAndWidensInTheGap) {
  GapRegression g(1);
  const auto map = bayes::fit_map(*g.model, g.model->initial_theta(), {.optimizer = "lbfgs", .max_iterations = 3000, .tolerance = 1e-3});
  mcmc::SamplerOptions o{.num_warmup = 400, .num_samples = 400, .chains = 2, .seed = 11, .max_depth = 8};
  o.init = map.theta;
  const auto t0 = std::chrono::steady_clock::now();
  const auto chains = mcmc::sample(*g.model, o);
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  int64_t grads = 0, div = 0;
  double depth = 0;
  for (const auto& c : chains) {
    grads += c.gradient_evaluations;
    for (int v : c.divergent) div += v;
    for (int v : c.treedepth) depth += v;
  }
  std::printf("[ gap ] NUTS: %.1f s, %lld gradients (%.0f/s), %lld divergences, mean tree depth %.1f\n", secs, static_cast<long long>(grads),
              static_cast<double>(grads) / secs, static_cast<long long>(div), depth / 800);
  const auto pg = bayes::posterior_predictive(*g.model, chains, g.x_grid, {.quantiles = {}});
  const double in = g.mean_over(pg.sd_network, true), out = g.mean_over(pg.sd_network, false);
  // Held-out points: 1000 from the training distribution.
  const int64_t n = 1000;
  core::Tensor<double> xh(core::Shape{n, 1});
  std::vector<double> yh(static_cast<size_t>(n));
  core::Rng rng(99, 1);
  for (int64_t i = 0; i < n; ++i) {
    xh.data()[i] = (rng.uniform() < 0.5 ? -1 : 1) * (GapRegression::gap + (1 - GapRegression::gap) * rng.uniform());
    yh[static_cast<size_t>(i)] = std::sin(3 * xh.data()[i]) + GapRegression::sigma * rng.normal();
  }
  const auto ph = bayes::posterior_predictive(*g.model, chains, xh, {.quantiles = {0.05, 0.95}});
  int64_t inside = 0;
  for (int64_t i = 0; i < n; ++i) inside += yh[static_cast<size_t>(i)] >= ph.quantiles[0](i, 0) && yh[static_cast<size_t>(i)] <= ph.quantiles[1](i, 0);
  const double coverage = static_cast<double>(inside) / n;
  std::printf("[ gap ] NUTS: network-output sd in the gap %.4f, over the data %.4f (ratio %.2f); 90%% interval coverage %.3f\n", in, out,
              in / out, coverage);
  // Coverage: binomial sd sqrt(0.9·0.1/1000) = 0.0095, so 88–92 % is ±2.1 sd around a correct 90 %.
  EXPECT_GE(coverage, 0.88);
  EXPECT_LE(coverage, 0.92);
  EXPECT_GE(in, 3 * out);
}

}  // namespace
}  // namespace trusty::test
