// The IMNN on a 2-D Gaussian random field (Charnock, Lavaux & Wandelt 2018, §IV): a small CNN
// trained with seed-matched derivatives must reach the analytic Fisher information on a
// held-out set of fresh simulations.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/optimizer.hpp"
#include "trusty/sim/gaussian_field.hpp"

using namespace trusty;

namespace {
int64_t env(const char* name, int64_t def) {
  const char* v = std::getenv(name);
  return v ? std::atoll(v) : def;
}
double envd(const char* name, double def) {
  const char* v = std::getenv(name);
  return v ? std::atof(v) : def;
}
}  // namespace

// 64×64 periodic grid, θ_fid = (A, B) = (1, 0.5) (docs/imnn.md, "A Gaussian random field with
// a CNN"). Network: periodic 3×3 conv (8 channels) → softplus → global average → dense 8 → 2;
// its best quadratic summaries keep det F / det F_analytic = 0.993 (Gaussian approximation of
// the summaries). Held out: 10,000 fresh simulations with 10,000 seed-matched derivatives
// (seed 3). Monte Carlo error of the ratio there: for the optimal summaries a numpy Monte
// Carlo of 20 such sets gave a standard deviation of 0.024 (√(2p/n_s) = 0.020 from the
// sample covariance, the rest from the mean derivatives), so the acceptance bound 0.97 is
// 1.2σ below 1 and the upper bound 1 + 3σ = 1.072 catches information from nowhere.
// The G_* environment variables override the training settings (for tuning only).
// DISABLED: not tuned yet. The one run so far (60 steps of 100 + 100 simulations, 2,000 held
// out) reached det F / det F_analytic = 0.18, with det F still rising; the default settings
// below (200 steps of 200 + 200) have not been run, nor the time budget measured.
// Run it with --gtest_also_run_disabled_tests.
TEST(ImnnField, DISABLED_GaussianRandomField64ReachesTheAnalyticFisher) {
  const int64_t n = 64, channels = env("G_C", 8), iterations = env("G_IT", 200), ns = env("G_NS", 200);
  sim::GaussianField g(n);
  const std::vector<double> theta{1.0, 0.5}, delta{envd("G_DA", 0.1), envd("G_DB", 0.02)};
  nn::Sequential<double> net;
  net.emplace<nn::Reshape<double>>(std::vector<int64_t>{1, n, n});
  net.emplace<nn::Conv<double>>(1, channels, 3, nn::ConvOptions{.padding = core::Padding::periodic, .weight_init = {nn::Init::xavier_uniform}});
  net.emplace<nn::Activation<double>>(nn::parse_activation(std::getenv("G_ACT") ? std::getenv("G_ACT") : "softplus"));
  net.emplace<nn::Pool<double>>(false, 2, n);
  net.emplace<nn::Flatten<double>>();
  net.emplace<nn::Dense<double>>(channels, 2);
  net.finalize(1);
  optim::Adam<double> opt(optim::AdamOptions{.lr = envd("G_LR", 1e-2)});
  imnn::TrainOptions o;
  o.theta_fid = theta;
  o.max_iterations = iterations;
  o.min_iterations = iterations;
  o.patience = iterations;
  o.keep_best = false;
  o.schedule.kind = optim::Schedule::cosine;
  o.schedule.t_max = static_cast<int>(iterations);
  o.n_s = o.n_d = ns;
  o.delta_theta = delta;
  o.seed = 1;
  imnn::ImnnTrainer trainer(net, opt, o);
  trainer.set_simulator(g);
  {
    // The summaries are means over n² pixels: their initial spread is ~1e-3, so C⁻¹ ≈ 1e6 I
    // and the regulariser would dominate for thousands of steps. Scale the output layer
    // (the last channels·2 + 2 parameters) once so that the initial C has unit diagonal mean.
    auto x = trainer.summaries(sim::simulate_batch(g, theta, 7, 0, 200));
    double var = 0;
    for (int64_t j = 0; j < 2; ++j) {
      double m = 0, v = 0;
      for (int64_t i = 0; i < 200; ++i) m += x.at({i, j}) / 200;
      for (int64_t i = 0; i < 200; ++i) v += (x.at({i, j}) - m) * (x.at({i, j}) - m) / 199;
      var += v / 2;
    }
    auto w = net.parameters();
    for (size_t i = w.size() - static_cast<size_t>(channels * 2 + 2); i < w.size(); ++i) w[i] /= std::sqrt(var);
  }
  auto t0 = std::chrono::steady_clock::now();
  trainer.fit();
  const double train_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const auto fa = *g.fisher(theta);
  const double analytic = fa.at({0, 0}) * fa.at({1, 1}) - fa.at({0, 1}) * fa.at({1, 0});
  for (size_t i = 0; i < trainer.history().size(); i += trainer.history().size() / 10)
    std::printf("step %zu det F %.1f loss %.3f\n", i, trainer.history()[i].det_fisher, trainer.history()[i].loss);
  t0 = std::chrono::steady_clock::now();
  auto held = imnn::simulate_set(g, theta, delta, 3, 0, env("G_HS", 10000), env("G_HD", 10000));
  const double sim_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  t0 = std::chrono::steady_clock::now();
  const double det = trainer.evaluate(held).det_fisher;
  const double eval_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf("[ figures  ] GRF 64²: training %.1f s, held-out sims %.1f s, eval %.1f s; det F %.1f / analytic %.1f = %.4f\n", train_s, sim_s,
              eval_s, det, analytic, det / analytic);
  EXPECT_GE(det / analytic, 0.97);
  EXPECT_LE(det / analytic, 1.0 + 3 * 0.024);  // no information from nowhere
}
