// Training IMNNs on the analytic problems of Charnock, Lavaux & Wandelt 2018 and checking the
// held-out Fisher information, the quasi-ML estimates, resuming, and bad input.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "trusty/core/rng.hpp"
#include "trusty/imnn/estimator.hpp"
#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/optimizer.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/sim/gaussian.hpp"
#include "trusty/sim/gaussian_field.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;

namespace {
struct Fit {
  std::unique_ptr<nn::Sequential<double>> net;
  std::unique_ptr<optim::Adam<double>> opt;
  std::unique_ptr<imnn::ImnnTrainer> trainer;
};

Fit train(const sim::Simulator& s, std::vector<double> theta, std::vector<double> delta, std::vector<int64_t> widths,
          int64_t iterations, double lr, const char* act = "leaky_relu",
          imnn::TrainOptions::Derivatives mode = imnn::TrainOptions::Derivatives::seed_matched) {
  const bool mode2 = mode != imnn::TrainOptions::Derivatives::seed_matched;
  Fit f;
  f.net = nn::make_mlp<double>(widths, {.activation = act});
  f.net->finalize(1);
  f.opt = std::make_unique<optim::Adam<double>>(optim::AdamOptions{.lr = lr});
  imnn::TrainOptions o;
  o.theta_fid = theta;
  o.max_iterations = iterations;
  o.min_iterations = 100;
  o.patience = 1000;
  o.schedule.kind = optim::Schedule::cosine;  // lr → 0 at the last step: the weights settle
  o.schedule.t_max = static_cast<int>(iterations);
  o.validate_every = 10;  // 5,000 validation simulations: little selection bias in the kept weights
  o.n_s = o.n_d = 1000;  // fresh simulations every step: no overfitting to one set
  o.delta_theta = delta;
  o.seed = 1;
  o.derivatives = mode;
  f.trainer = std::make_unique<imnn::ImnnTrainer>(*f.net, *f.opt, o);
  f.trainer->set_simulator(s);
  f.trainer->set_validation(mode2 ? imnn::simulate_gradient_set(s, theta, 2, 0, 5000, 5000, 1, mode == imnn::TrainOptions::Derivatives::autodiff)
                                  : imnn::simulate_set(s, theta, delta, 2, 0, 5000, 5000));
  const auto t0 = std::chrono::steady_clock::now();
  f.trainer->fit();
  std::printf("[ figures  ] %s: %ld steps (best %ld) in %.2f s, training det F %.4f, validation det F %.4f\n", s.name().c_str(),
              static_cast<long>(f.trainer->iteration()), static_cast<long>(f.trainer->best_iteration()),
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
              f.trainer->history().back().det_fisher, f.trainer->statistics().det_fisher);
  return f;
}
// The trainer's weight gradient along a random direction v (Rng(11, 0)) and the central
// difference of the loss along v with step 1e-5; loss is the loss at the current weights.
struct Directional {
  double gv, fd, loss;
};
Directional directional_derivative(imnn::ImnnTrainer& t, nn::Module<double>& net, const imnn::SimulationSet& set) {
  const double loss = t.step_statistics(set, true).loss;
  auto w = net.parameters();
  const std::vector<double> w0(w.begin(), w.end()), grad(net.gradients().begin(), net.gradients().end());
  core::Rng rng(11, 0);
  std::vector<double> v(w0.size());
  double gv = 0;
  for (size_t i = 0; i < v.size(); ++i) gv += grad[i] * (v[i] = rng.normal());
  auto loss_at = [&](double h) {
    for (size_t i = 0; i < v.size(); ++i) w[i] = w0[i] + h * v[i];
    return t.step_statistics(set, false).loss;
  };
  const double h = 1e-5, fd = (loss_at(h) - loss_at(-h)) / (2 * h);
  return {gv, fd, loss};
}
}  // namespace

// Σ unknown, n = 10, θ_fid = 1: F = 5. Held out: 100,000 fresh simulations (seed 3), for which
// even the sufficient statistic Σd² gives F̂ = 5 with a Monte Carlo standard error ≈ 0.03
// (C from 10⁵ χ²₁₀ draws, rel. error √(3.2/10⁵) = 0.6 %).
// The acceptance target is F ≥ 4.90 (the published code reached 4.82 on a test set). The
// statistic to learn is affine in Σd² (the efficiency is corr(x, Σd²)²; see
// LinearNetworkOnSufficientFeaturesReachesTheAnalyticFisher), and softplus carries the
// quadratic term an ELU or ReLU lacks: softplus(z) = ln 2 + z/2 + z²/8 − z⁴/192 + …, so a
// layer of softplus units whose pre-activations stay small is a quadratic form in d. One
// 256-unit softplus layer, 3,000 steps of 1,000 fresh simulations, Adam at 5·10⁻² with cosine
// decay: 4.950, 4.958, 4.953, 4.956 held out for training seeds 1–4 (the test runs seed 1).
// One 128-unit ELU layer at 10⁻² reached 4.899; 128 softplus units at 5·10⁻² 4.897–4.942.
// The bound is the acceptance's 4.90, 1.7 standard errors of the held-out estimate below
// the measured figure.
TEST(ImnnTrainer, GaussianVarianceReachesThePublishedFisher) {
  sim::GaussianVariance g(10);
  auto f = train(g, {1.0}, {0.1}, {10, 256, 1}, 3000, 5e-2, "softplus");
  auto held = imnn::simulate_set(g, std::vector<double>{1.0}, std::vector<double>{0.1}, 3, 0, 100000, 100000);
  const double F = f.trainer->evaluate(held).det_fisher;
  std::printf("[ figures  ] gaussian_variance: held-out F = %.4f (analytic 5, acceptance 4.90, published 4.82)\n", F);
  EXPECT_GE(F, 4.90);
  EXPECT_LE(F, 5.0 + 3 * 0.03);  // no information from nowhere
}

// μ and Σ unknown, n = 10, θ_fid = (0, 1): det F = 50 (mode 1, seed-matched derivatives).
// Held out: 100,000 fresh simulations (seed 3); det F̂ of the sufficient statistics
// (mean, variance) has a Monte Carlo standard error ≈ 0.5 there, so the band 47.5–52.5 is 5σ.
// Then 10,000 fresh data sets at θ_fid (seed 4): the quasi-ML estimates must be unbiased to
// 4 standard errors (√(F⁻¹_αα/10⁴)) and their covariance within 10 % of F⁻¹ (the sample
// variances have relative errors 1.4 % and 1.8 % at 10⁴ sets, so 10 % is > 5σ; at the 1,000
// sets of the acceptance text it would be only 1.7σ for the Σ component).
TEST(ImnnTrainer, GaussianMeanVarianceReachesTheAnalyticFisherAndEstimatesAreUnbiased) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  auto f = train(g, theta, delta, {10, 128, 2}, 3000, 1e-2, "elu");
  auto held = imnn::simulate_set(g, theta, delta, 3, 0, 100000, 100000);
  const double det = f.trainer->evaluate(held).det_fisher;
  std::printf("[ figures  ] gaussian_mean_variance: held-out det F = %.3f (analytic 50)\n", det);
  EXPECT_GE(det, 47.5);
  EXPECT_LE(det, 52.5);

  const int64_t n = 10000;
  imnn::Estimator est(theta, f.trainer->statistics());
  auto th = est.estimate(f.trainer->summaries(sim::simulate_batch(g, theta, 4, 0, n)));
  const auto& inv_f = est.inverse_fisher();
  double mean[2] = {0, 0}, cov[2][2] = {{0, 0}, {0, 0}};
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a) mean[a] += th.at({i, a}) / static_cast<double>(n);
  for (int64_t i = 0; i < n; ++i)
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) cov[a][b] += (th.at({i, a}) - mean[a]) * (th.at({i, b}) - mean[b]) / static_cast<double>(n - 1);
  std::printf("[ figures  ] quasi-ML at θ_fid: mean (%.4f, %.4f), cov [[%.4f, %.4f], [., %.4f]], F⁻¹ [[%.4f, %.4f], [., %.4f]]\n",
              mean[0], mean[1], cov[0][0], cov[0][1], cov[1][1], inv_f.at({0, 0}), inv_f.at({0, 1}), inv_f.at({1, 1}));
  for (int a = 0; a < 2; ++a) {
    EXPECT_NEAR(mean[a], theta[static_cast<size_t>(a)], 4 * std::sqrt(cov[a][a] / static_cast<double>(n))) << "parameter " << a;
    EXPECT_NEAR(cov[a][a] / inv_f.at({a, a}), 1.0, 0.10) << "parameter " << a;
  }
  EXPECT_LT(std::abs(cov[0][1]), 0.10 * std::sqrt(inv_f.at({0, 0}) * inv_f.at({1, 1})));
}

// The same problem in derivative mode 2: the simulator's dd/dθ chained with the network's
// input Jacobian. Held out as above, with seed-matched derivatives (an independent estimate).
TEST(ImnnTrainer, GaussianMeanVarianceInGradientModeReachesTheAnalyticFisher) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  auto f = train(g, theta, delta, {10, 128, 2}, 3000, 1e-2, "elu", imnn::TrainOptions::Derivatives::gradient);
  auto held = imnn::simulate_set(g, theta, delta, 3, 0, 100000, 100000);
  const double det = f.trainer->evaluate(held).det_fisher;
  const double det2 = f.trainer->evaluate(imnn::simulate_gradient_set(g, theta, 3, 0, 100000, 100000)).det_fisher;
  std::printf("[ figures  ] gaussian_mean_variance, mode 2: held-out det F = %.3f (seed-matched), %.3f (dd/dθ); analytic 50\n", det, det2);
  EXPECT_GE(det, 47.5);
  EXPECT_LE(det, 52.5);
  EXPECT_NEAR(det2, det, 0.02 * det);  // the two derivative estimates of the same network agree
}

// Derivative mode 3: dd/dθ by forward-mode autodiff through the simulator's tape form (here
// the same numbers as mode 2's closed form, up to rounding), chained with the network's
// input Jacobian; the same setup, held out the same way (Monte Carlo standard error of det F
// on 10⁵ simulations ≈ 0.5: the band 47.5–52.5 is 5σ around 50, as for mode 2).
TEST(ImnnTrainer, GaussianMeanVarianceInAutodiffModeReachesTheAnalyticFisher) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  const auto t0 = std::chrono::steady_clock::now();
  auto f = train(g, theta, delta, {10, 128, 2}, 3000, 1e-2, "elu", imnn::TrainOptions::Derivatives::autodiff);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto held = imnn::simulate_set(g, theta, delta, 3, 0, 100000, 100000);
  const double det = f.trainer->evaluate(held).det_fisher;
  const double det3 = f.trainer->evaluate(imnn::simulate_gradient_set(g, theta, 3, 0, 100000, 100000, 1, true)).det_fisher;
  std::printf("[ figures  ] gaussian_mean_variance, mode 3: held-out det F = %.3f (seed-matched), %.3f (autodiff dd/dθ); "
              "analytic 50; training %.1f s\n", det, det3, seconds);
  EXPECT_GE(det, 47.5);
  EXPECT_LE(det, 52.5);
  EXPECT_NEAR(det3, det, 0.02 * det);
}

// The loop itself, apart from how well an MLP approximates Σd²: when the data carry the
// sufficient statistics as features ([d_i, d_i²], a FunctionSimulator), a linear network can
// represent the optimal summary and training must reach the analytic det F = 50 (held out
// on 100,000 simulations: Monte Carlo standard error ≈ 0.5, so the band is 3σ).
TEST(ImnnTrainer, LinearNetworkOnSufficientFeaturesReachesTheAnalyticFisher) {
  sim::GaussianMeanVariance g(10);
  sim::FunctionSimulator feats("gaussian_features", 2, Shape{20}, [&](std::span<const double> th, uint64_t seed, int64_t i, std::span<double> out) {
    std::vector<double> d(10);
    g.simulate(th, seed, i, d);
    for (size_t k = 0; k < 10; ++k) out[k] = d[k], out[10 + k] = d[k] * d[k];
  });
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  auto f = train(feats, theta, delta, {20, 2}, 1000, 1e-2, "identity");
  const double det = f.trainer->evaluate(imnn::simulate_set(feats, theta, delta, 3, 0, 100000, 100000)).det_fisher;
  std::printf("[ figures  ] linear network on [d, d²]: held-out det F = %.3f (analytic 50)\n", det);
  EXPECT_GE(det, 48.5);
  EXPECT_LE(det, 51.5);
}

// Fresh simulations are a pure function of (seed, index): 10 steps, a checkpoint, 10 more in
// a new trainer give the same weights bit for bit as 20 steps in one go.
TEST(ImnnTrainer, ResumingFromACheckpointIsExact) {
  sim::GaussianVariance g(10);
  auto make = [&](int64_t iters, std::unique_ptr<nn::Sequential<double>>& net, std::unique_ptr<optim::Adam<double>>& opt) {
    net = nn::make_mlp<double>({10, 8, 1}, {.activation = "tanh"});
    net->finalize(5);
    opt = std::make_unique<optim::Adam<double>>(optim::AdamOptions{.lr = 1e-2});
    imnn::TrainOptions o;
    o.theta_fid = {1.0};
    o.delta_theta = {0.1};
    o.n_s = o.n_d = 50;
    o.max_iterations = iters;
    o.seed = 9;
    auto t = std::make_unique<imnn::ImnnTrainer>(*net, *opt, o);
    t->set_simulator(g);
    return t;
  };
  std::unique_ptr<nn::Sequential<double>> n1, n2, n3;
  std::unique_ptr<optim::Adam<double>> o1, o2, o3;
  auto whole = make(20, n1, o1);
  whole->fit();
  auto first = make(10, n2, o2);
  first->fit();
  const std::string ckpt = ::testing::TempDir() + "/imnn_resume.npz";
  first->save_checkpoint(ckpt);
  auto second = make(20, n3, o3);
  second->load_checkpoint(ckpt);
  second->fit();
  ASSERT_EQ(second->history().size(), 20u);
  const auto a = n1->parameters(), b = n3->parameters();
  for (size_t i = 0; i < a.size(); ++i) ASSERT_EQ(a[i], b[i]) << "weight " << i;
  EXPECT_EQ(whole->history().back().det_fisher, second->history().back().det_fisher);
}

// A damaged or foreign checkpoint (entries of the wrong size, counts that are not whole
// numbers, optimiser buffers for another network) is refused naming the file and the entry,
// never read past an array's end or cast from NaN.
TEST(ImnnTrainer, DamagedCheckpointsAreRefusedByName) {
  sim::GaussianVariance g(10);
  auto net = nn::make_mlp<double>({10, 8, 1}, {.activation = "tanh"});
  net->finalize(5);
  optim::Adam<double> opt({.lr = 1e-2});
  imnn::TrainOptions o;
  o.theta_fid = {1.0};
  o.delta_theta = {0.1};
  o.n_s = o.n_d = 20;
  o.max_iterations = 2;
  imnn::ImnnTrainer t(*net, opt, o);
  t.set_simulator(g);
  t.fit();
  const std::string ckpt = ::testing::TempDir() + "/imnn_damaged.npz";
  t.save_checkpoint(ckpt);
  const auto good = io::read_npz(ckpt);
  auto error_with = [&](const std::string& key, const io::NpyArray& a) {
    auto z = good;
    z[key] = a;
    io::write_npz(ckpt, z);
    try {
      t.load_checkpoint(ckpt);
    } catch (const std::invalid_argument& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto d = [](std::vector<double> v) { return io::NpyArray::from<double>(v, {static_cast<int64_t>(v.size())}); };
  const double nan = std::nan("");
  EXPECT_NE(error_with("imnn/version", d({})).find("'imnn/version' has 0 values, expected 1"), std::string::npos);
  EXPECT_NE(error_with("imnn/state", d({1, 2})).find("'imnn/state' has 2 values, expected 4"), std::string::npos);
  EXPECT_NE(error_with("imnn/state", d({nan, 0, 0, 1})).find("checkpoint iteration is nan"), std::string::npos);
  EXPECT_NE(error_with("imnn/live_params", d({1, 2, 3})).find("'imnn/live_params' has 3 values, expected 97 or none"),
            std::string::npos)
      << error_with("imnn/live_params", d({1, 2, 3}));
  EXPECT_NE(error_with("imnn/history", d({1, 2, 3})).find("expected a multiple of 14"), std::string::npos);
  const auto adam = error_with("optim/exp_avg", d({1, 2}));
  EXPECT_NE(adam.find(ckpt + ": Adam state 'exp_avg' has 2 values, expected 97"), std::string::npos) << adam;
  EXPECT_EQ(error_with("imnn/state", good.at("imnn/state")), "no error");
}

// The network runs in fixed chunks and the weight gradient is one pull-back per chunk of the
// loss's gradient with respect to that chunk's summaries, added in chunk order (the MPI
// layout, docs/mpi.md). It must be d loss/d weights: checked against central differences of
// the loss along a random direction, in both derivative modes, with chunks of 7 (the last
// one short, some chunks without derivative simulations).
TEST(ImnnTrainer, ChunkedGradientMatchesCentralDifferences) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.0, 1.0}, delta{0.1, 0.1};
  for (bool mode2 : {false, true}) {
    auto net = nn::make_mlp<double>({10, 8, 2}, {.activation = "tanh"});
    net->finalize(3);
    optim::Adam<double> opt({});
    imnn::TrainOptions o;
    o.theta_fid = theta;
    o.chunk = 7;
    imnn::ImnnTrainer t(*net, opt, o);
    const auto set = mode2 ? imnn::simulate_gradient_set(g, theta, 4, 0, 60, 40) : imnn::simulate_set(g, theta, delta, 4, 0, 60, 40);
    const auto [gv, fd, loss] = directional_derivative(t, *net, set);
    EXPECT_NEAR(gv, fd, 1e-6 * std::max(1.0, std::abs(fd))) << (mode2 ? "mode 2" : "mode 1");
  }
}

// Mode 3 with a CNN through the trainer's chunked passes (the jvp path of
// forward_with_tangents on every chunk): the weight gradient against central differences
// of the loss along a random direction, chunks of 7 on an 8×8 Gaussian random field; and a
// simulator without a tape form is refused in mode 3 by name.
TEST(ImnnTrainer, ChunkedGradientOfACnnInAutodiffModeMatchesCentralDifferences) {
  sim::GaussianField g(8);
  const std::vector<double> theta{1.0, 2.0};
  auto net = std::make_unique<nn::Sequential<double>>();
  net->emplace<nn::Reshape<double>>(std::vector<int64_t>{1, 8, 8});
  net->emplace<nn::Conv<double>>(1, 3, 3, nn::ConvOptions{.padding = core::Padding::periodic});
  net->emplace<nn::Activation<double>>(nn::Act::tanh);
  net->emplace<nn::Pool<double>>(false, 2, 8);
  net->emplace<nn::Flatten<double>>();
  net->emplace<nn::Dense<double>>(3, 2);
  net->finalize(3);
  optim::Adam<double> opt({});
  imnn::TrainOptions o;
  o.theta_fid = theta;
  o.chunk = 7;
  o.derivatives = imnn::TrainOptions::Derivatives::autodiff;
  imnn::ImnnTrainer t(*net, opt, o);
  const auto set = imnn::simulate_gradient_set(g, theta, 4, 0, 60, 40, 1, true);
  const auto two = imnn::simulate_gradients(g, theta, 4, 0, 150, 2, true);  // blocks of 64 on 2 threads: the same bits
  const auto one = imnn::simulate_gradients(g, theta, 4, 0, 150, 1, true);
  EXPECT_EQ(two.to_vector(), one.to_vector());
  const auto [gv, fd, loss0] = directional_derivative(t, *net, set);
  // Rounding of the difference quotient ≈ 2⁻⁵² |Λ| / h (h = 1e-5); truncation O(h²) is far below it.
  const double h = 1e-5;
  EXPECT_NEAR(gv, fd, 1e-6 * std::max(1.0, std::abs(fd)) + 10 * 2.2e-16 * std::abs(loss0) / h);
  EXPECT_GT(std::abs(gv), 1e-3);
  std::printf("[ figures  ] mode 3 CNN, chunks of 7: d loss/dw · v = %.8g, central difference %.8g (loss %.4g)\n", gv, fd, loss0);
  o.n_s = o.n_d = 10;
  imnn::ImnnTrainer t2(*net, opt, o);
  sim::FunctionSimulator plain("plain", 2, Shape{64}, [](std::span<const double>, uint64_t, int64_t, std::span<double> out) {
    for (auto& x : out) x = 0;
  });
  try {
    t2.set_simulator(plain);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("derivatives"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("plain"), std::string::npos) << e.what();
  }
  t2.set_simulator(g);  // the field has one
}

TEST(ImnnTrainer, BatchDependentLayersAreRefused) {
  auto net = nn::make_mlp<double>({10, 4, 1}, {.dropout = 0.5});
  net->finalize(0);
  optim::Adam<double> opt({});
  imnn::TrainOptions o;
  o.theta_fid = {1.0};
  try {
    imnn::ImnnTrainer t(*net, opt, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Dropout"), std::string::npos) << e.what();
  }
}

TEST(ImnnTrainer, OptionsAreValidatedByName) {
  auto net = nn::make_mlp<double>({10, 4, 1});
  net->finalize(0);
  optim::Adam<double> opt({});
  imnn::TrainOptions o;
  EXPECT_THROW(imnn::ImnnTrainer(*net, opt, o), std::invalid_argument);  // no theta_fid
  o.theta_fid = {1.0};
  o.patience = 0;
  try {
    imnn::ImnnTrainer t(*net, opt, o);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("patience"), std::string::npos) << e.what();
  }
  o.patience = 10;
  imnn::ImnnTrainer t(*net, opt, o);
  sim::GaussianVariance g(10);
  EXPECT_THROW(t.set_simulator(g), std::invalid_argument);  // n_s, n_d, delta_theta unset
  auto bad = imnn::simulate_set(g, std::vector<double>{1.0}, std::vector<double>{0.1}, 0, 0, 10, 5);
  bad.delta_theta = {0.1, 0.1};  // two steps for one parameter: shape (5, 2, 1, 10) is wrong for it
  EXPECT_THROW(t.set_training(bad), std::invalid_argument);
}
