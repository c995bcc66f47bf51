// sample(): bad input named, thread-count independence, checkpoint and bit-identical resume.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "mcmc/targets.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/mcmc/sampler.hpp"
#include "trusty/mcmc/stan_csv.hpp"
#include "test_paths.hpp"

namespace trusty::mcmc {
namespace {

template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no std::invalid_argument";
}

#define EXPECT_MESSAGE(call, text) EXPECT_NE(error_of([&] { call; }).find(text), std::string::npos) << error_of([&] { call; })

FunctionDensity normal2() {
  return FunctionDensity(2, [](std::span<const double> q, std::span<double> g) {
    g[0] = -q[0], g[1] = -q[1];
    return -0.5 * (q[0] * q[0] + q[1] * q[1]);
  });
}

TEST(Sampler, BadOptionsNamed) {
  const FunctionDensity f = normal2();
  EXPECT_MESSAGE(sample(f, {.algorithm = "gibbs"}), "SamplerOptions.algorithm: expected \"nuts\", \"hmc\" or \"hmclet\"");
  EXPECT_MESSAGE(sample(f, {.num_warmup = -1}), "SamplerOptions.num_warmup: expected >= 0, got -1");
  EXPECT_MESSAGE(sample(f, {.chains = 0}), "SamplerOptions.chains: expected >= 1");
  EXPECT_MESSAGE(sample(f, {.max_depth = 0}), "SamplerOptions.max_depth");
  EXPECT_MESSAGE(sample(f, {.delta = 1.5}), "SamplerOptions.delta: expected a number in (0, 1)");
  EXPECT_MESSAGE(sample(f, {.step_size = -1}), "SamplerOptions.step_size");
  EXPECT_MESSAGE(sample(f, {.metric = "riemann"}), "SamplerOptions.metric: expected \"unit_e\", \"diag_e\" or \"dense_e\"");
  EXPECT_MESSAGE(sample(f, {.init = {1.0}}), "SamplerOptions.init: expected 2 values");
  EXPECT_MESSAGE(sample(f, {.init_radius = -1}), "SamplerOptions.init_radius");
  EXPECT_MESSAGE(sample(f, {.hmclet_L_max = -1}), "SamplerOptions.hmclet_L_max: expected >= 0");
  EXPECT_MESSAGE(sample(f, {.algorithm = "hmclet", .num_warmup = 0, .hmclet_eps_max = 0.1}),
                 "SamplerOptions.hmclet_L_max: expected >= 1 when num_warmup = 0");
  EXPECT_MESSAGE(sample(f, {.resume = true}), "SamplerOptions.checkpoint_path");
  EXPECT_MESSAGE(sample(f, {.algorithm = "hmclet", .num_warmup = 0}), "SamplerOptions.hmclet_eps_max: expected > 0 when num_warmup = 0");
  EXPECT_MESSAGE(sample(f, {.window = 0}), "SamplerOptions.window: expected >= 1, got 0");
  EXPECT_MESSAGE(sample(f, {.checkpoint_every = -5}), "SamplerOptions.checkpoint_every");
}

TEST(Sampler, NonPositiveDefiniteMetricRejected) {
  const FunctionDensity f = normal2();
  Eigen::MatrixXd dense(2, 2);
  dense << 1, 2, 2, 1;  // eigenvalues 3, −1
  EXPECT_MESSAGE(sample(f, {.metric = "dense_e", .inv_metric = dense}), "inv_metric: the inverse metric must be positive definite");
  Eigen::MatrixXd diag(2, 1);
  diag << 1, 0;
  EXPECT_MESSAGE(sample(f, {.metric = "diag_e", .inv_metric = diag}), "inv_metric: the inverse metric must be positive definite; diagonal entry 2");
  Eigen::MatrixXd wrong(3, 1);
  wrong << 1, 1, 1;
  EXPECT_MESSAGE(sample(f, {.metric = "diag_e", .inv_metric = wrong}), "expected 2 diagonal entries");
}

TEST(Sampler, NonFiniteInitialPointNamed) {
  FunctionDensity nan_lp(1, [](std::span<const double>, std::span<double> g) {
    g[0] = 0;
    return std::nan("");
  });
  EXPECT_MESSAGE(sample(nan_lp, {.init = {0.5}}), "init: at the initial point the log density is nan");
  EXPECT_MESSAGE(sample(nan_lp, {}), "no initial point with a finite log density and gradient in 100 random draws");
  EXPECT_MESSAGE(sample(nan_lp, {}), "(at the last, the log density is nan)");
  FunctionDensity inf_grad(1, [](std::span<const double> q, std::span<double> g) {
    g[0] = q[0] > 0 ? INFINITY : -q[0];
    return -0.5 * q[0] * q[0];
  });
  EXPECT_MESSAGE(sample(inf_grad, {.init = {0.5}}), "gradient element 1 is inf");
  // Random inits are redrawn until finite (half of them are here).
  EXPECT_NO_THROW(sample(inf_grad, {.num_warmup = 10, .num_samples = 10, .chains = 1}));
}

// Chain c depends only on (seed, c): one thread and two threads give identical draws.
TEST(Sampler, OneAndTwoThreadsIdentical) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(5), test::log_spaced(5, 0.1, 10));
  const SamplerOptions one{.num_warmup = 200, .num_samples = 200, .chains = 3, .threads = 1, .seed = 41};
  SamplerOptions two = one;
  two.threads = 2;
  const auto a = sample(*density, one), b = sample(*density, two);
  for (size_t c = 0; c < 3; ++c) {
    EXPECT_TRUE(a[c].params == b[c].params) << "chain " << c;
    EXPECT_EQ(a[c].lp, b[c].lp);
    EXPECT_EQ(a[c].stepsize, b[c].stepsize);
    EXPECT_EQ(a[c].gradient_evaluations, b[c].gradient_evaluations);
  }
  EXPECT_FALSE(a[0].params == a[1].params);  // the chains are different streams
}

// Chains on their own threads do not use the kernels' fork-join worker (restored after).
TEST(Sampler, KernelParallelismSerialWhileChainsRun) {
  std::atomic<int> seen{0};
  FunctionDensity f(1, [&](std::span<const double> q, std::span<double> g) {
    seen.store(std::max(seen.load(), core::kernels::parallel_threads()));
    g[0] = -q[0];
    return -0.5 * q[0] * q[0];
  });
  const int before = core::kernels::parallel_threads();
  core::kernels::set_parallel_threads(2);
  sample(f, {.num_warmup = 20, .num_samples = 20, .chains = 2, .threads = 2});
  EXPECT_EQ(seen.load(), 1);
  EXPECT_EQ(core::kernels::parallel_threads(), 2);
  core::kernels::set_parallel_threads(before);
}

void expect_identical(const ChainDraws& a, const ChainDraws& b) {
  EXPECT_TRUE(a.params == b.params);
  EXPECT_EQ(a.lp, b.lp);
  EXPECT_EQ(a.accept_stat, b.accept_stat);
  EXPECT_EQ(a.stepsize, b.stepsize);
  EXPECT_EQ(a.energy, b.energy);
  EXPECT_EQ(a.treedepth, b.treedepth);
  EXPECT_EQ(a.n_leapfrog, b.n_leapfrog);
  EXPECT_EQ(a.divergent, b.divergent);
  EXPECT_EQ(a.step_size, b.step_size);
  EXPECT_TRUE(a.inv_metric == b.inv_metric);
  EXPECT_EQ(a.gradient_evaluations, b.gradient_evaluations);
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("trusty_mcmc_" + name + "_" + std::to_string(::getpid()))).string();
}

// 300 iterations (150 warmup) with checkpoints every 50; stopped by the callback after 95
// (inside a metric window and inside HMCLET's covariance window, so all adaptation state is
// in the file) and resumed: every draw equals the uninterrupted run's. For each algorithm
// and metric.
TEST(Sampler, ResumeAfterStopIsBitIdentical) {
  const auto density = test::gaussian(Eigen::Vector3d(1, 2, 3), Eigen::Matrix3d{{2, 0.5, 0}, {0.5, 1, 0.3}, {0, 0.3, 0.5}});
  for (const char* algorithm : {"nuts", "hmc", "hmclet"}) {
    for (const char* metric : {"diag_e", "dense_e"}) {
      const std::string path = temp_path(std::string("stop_") + algorithm + metric);
      SamplerOptions o{.algorithm = algorithm, .num_warmup = 150, .num_samples = 150, .chains = 2, .threads = 1,
                       .seed = 42, .metric = metric, .init_buffer = 20, .term_buffer = 20, .window = 10,
                       .save_warmup = true, .hmclet_window = 40, .hmclet_update_every = 10,
                       .hmclet_quasi_newton = std::string(metric) == "dense_e", .checkpoint_path = path,
                       .checkpoint_every = 50};
      const auto full = sample(*density, o);
      const auto stopped = sample(*density, o, [](int, int64_t it, int64_t) { return it < 95; });
      EXPECT_LT(stopped[1].n_draws(), 300);
      o.resume = true;
      const auto resumed = sample(*density, o);
      for (size_t c = 0; c < 2; ++c) {
        SCOPED_TRACE(std::string(algorithm) + " " + metric + " chain " + std::to_string(c));
        ASSERT_EQ(resumed[c].n_draws(), 300);
        expect_identical(full[c], resumed[c]);
      }
      for (int c = 1; c <= 2; ++c) std::filesystem::remove(path + ".chain" + std::to_string(c));
    }
  }
}

// A run killed mid-way (here an exception from the callback at iteration 130) resumes from
// its last periodic checkpoint (100) and still reproduces the uninterrupted run.
TEST(Sampler, ResumeAfterKillFromPeriodicCheckpoint) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(4), test::log_spaced(4, 0.1, 10));
  const std::string path = temp_path("kill");
  SamplerOptions o{.num_warmup = 150, .num_samples = 150, .chains = 1, .seed = 43, .checkpoint_path = path,
                   .checkpoint_every = 50};
  const auto full = sample(*density, o);
  EXPECT_THROW(sample(*density, o,
                      [](int, int64_t it, int64_t) -> bool {
                        if (it == 130) throw std::runtime_error("killed");
                        return true;
                      }),
               std::runtime_error);
  o.resume = true;
  const auto resumed = sample(*density, o);
  expect_identical(full[0], resumed[0]);
  // Resuming a completed run returns its draws without sampling again.
  expect_identical(full[0], sample(*density, o)[0]);
  // A truncated file is refused, naming it.
  const std::string file = path + ".chain1";
  std::filesystem::resize_file(file, std::filesystem::file_size(file) / 2);
  EXPECT_MESSAGE(sample(*density, o), file + ": truncated or corrupt checkpoint");
  std::filesystem::remove(file);
  sample(*density, o);  // recreate it from scratch (no file: a fresh start)
  // A checkpoint from other options is refused with the field named.
  o.seed = 44;
  EXPECT_MESSAGE(sample(*density, o), "checkpoint was written with a different seed");
  std::filesystem::remove(path + ".chain1");
}

// A checkpoint whose matrix dimensions multiply past 2⁶³ (found by fuzz/fuzz_chain_checkpoint:
// r·c overflowed before the size check) is refused as corrupt, not read.
TEST(Sampler, CheckpointWithOverflowingMatrixSizeIsRefused) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(2));
  const std::string path = temp_path("overflow");
  std::filesystem::copy_file(std::string(TRUSTY_SOURCE_DIR) + "/fuzz/corpus/chain_checkpoint/regression_matrix_size_overflow.chain1",
                             path + ".chain1", std::filesystem::copy_options::overwrite_existing);
  SamplerOptions o{.num_warmup = 10, .num_samples = 10, .chains = 1, .seed = 1, .checkpoint_path = path, .resume = true};
  EXPECT_THROW(sample(*density, o), std::invalid_argument);
  std::filesystem::remove(path + ".chain1");
}

// Stored draws must be one per recorded iteration in every column: a checkpoint whose lp__
// column has draws but whose parameter block is empty (found by fuzz_chain_checkpoint; it was
// read as a null matrix after the run) is refused.
TEST(Sampler, CheckpointWithInconsistentDrawsIsRefused) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(2));
  const std::string path = temp_path("draws");
  std::filesystem::copy_file(std::string(TRUSTY_SOURCE_DIR) + "/fuzz/corpus/chain_checkpoint/regression_draws_without_parameters.chain1",
                             path + ".chain1", std::filesystem::copy_options::overwrite_existing);
  for (const char* algorithm : {"nuts", "hmclet"}) {
    SamplerOptions o{.algorithm = algorithm, .num_warmup = 10, .num_samples = 10, .chains = 1, .seed = 1,
                     .checkpoint_path = path, .resume = true};
    EXPECT_THROW(sample(*density, o), std::invalid_argument) << algorithm;
  }
  std::filesystem::remove(path + ".chain1");
}

// Every stored matrix must have the shape this run uses: an HMCLET checkpoint written with a
// 40-draw covariance window is refused by a run with a 50-draw one, naming the field (before,
// the ring was read as stored and indexed with the new window: out of bounds).
TEST(Sampler, HmcletCheckpointOfAnotherShapeIsRefused) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(2), Eigen::VectorXd::Ones(2));
  const std::string path = temp_path("hmclet_shape");
  SamplerOptions o{.algorithm = "hmclet", .num_warmup = 20, .num_samples = 10, .chains = 1, .seed = 1,
                   .hmclet_window = 40, .checkpoint_path = path};
  (void)sample(*density, o);
  o.resume = true;
  EXPECT_NO_THROW(sample(*density, o));  // the same options read it back
  o.hmclet_window = 50;
  EXPECT_MESSAGE(sample(*density, o), "HMCLET ring is 40 x 2, expected 50 x 2");
  std::filesystem::remove(path + ".chain1");
}

// gradient_evaluations counts every gradient: the leapfrog steps of all iterations (warmup
// saved here, so all are visible) plus the initial point and the step-size heuristic's
// one-step tries (at least two, at the start and after each of the 5 metric windows).
TEST(Sampler, GradientEvaluationsCounted) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(3), test::log_spaced(3, 0.1, 10));
  const auto chains = sample(*density, {.chains = 2, .seed = 46, .save_warmup = true});
  for (const auto& c : chains) {
    ASSERT_EQ(c.n_draws(), 2000);
    EXPECT_EQ(c.n_warmup_saved, 1000);
    int64_t steps = 0;
    for (int n : c.n_leapfrog) steps += n;
    const int64_t extra = c.gradient_evaluations - steps;
    EXPECT_GE(extra, 1 + 6 * 2);   // init + ≥ 2 one-step tries at each of 6 initialisations
    EXPECT_LE(extra, 1 + 6 * 20);  // a few doublings or halvings each (22 and 23 here)
  }
}

// The draws go through the Stan CSV writer and reader unchanged (every number, the adapted
// step size and metric, the saved warmup rows).
TEST(Sampler, ChainsRoundTripThroughStanCsv) {
  const auto density = test::gaussian(Eigen::Vector2d(1, 2), Eigen::Matrix2d{{1, 0.5}, {0.5, 2}});
  for (const char* metric : {"unit_e", "diag_e", "dense_e"}) {
    const auto chains = sample(*density, {.num_warmup = 100, .num_samples = 50, .chains = 1, .seed = 45,
                                          .metric = metric, .save_warmup = true});
    const std::string path = temp_path(std::string("csv_") + metric) + ".csv";
    write_stan_csv(path, chains[0]);
    const ChainDraws back = read_stan_csv(path);
    std::filesystem::remove(path);
    SCOPED_TRACE(metric);
    EXPECT_TRUE(back.params == chains[0].params);
    EXPECT_EQ(back.lp, chains[0].lp);
    EXPECT_EQ(back.energy, chains[0].energy);
    EXPECT_EQ(back.n_leapfrog, chains[0].n_leapfrog);
    EXPECT_EQ(back.n_warmup_saved, 100);
    EXPECT_EQ(back.param_names, (std::vector<std::string>{"theta.1", "theta.2"}));
    EXPECT_EQ(back.metric, metric);
    EXPECT_EQ(back.step_size, chains[0].step_size);
    EXPECT_TRUE(back.inv_metric == chains[0].inv_metric);
    EXPECT_EQ(back.gradient_evaluations, chains[0].gradient_evaluations);
  }
}

}  // namespace
}  // namespace trusty::mcmc
