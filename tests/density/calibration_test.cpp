// The neural bias model on simulated catalogues whose truth is known: its gradient against
// finite differences, and calibration — over 20 catalogues the maximum-likelihood estimates
// (bayes::fit_map, L-BFGS) scatter about the true θ as their Fisher errors say, and the
// expected halo count at the truth matches the simulated count within Poisson error.
#include <gtest/gtest.h>

#include <Eigen/Dense>
#include <cmath>

#include "test_util.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/density/halo_simulator.hpp"
#include "trusty/mcmc/observed_information.hpp"

using namespace trusty;

namespace {
density::HaloSimulatorOptions small_box(int64_t grid, double box) {
  density::HaloSimulatorOptions o;
  o.field = {.grid = grid, .box_size = box, .spectral_index = -1.5, .smoothing = 1.5 * box / static_cast<double>(grid), .sigma = 0.6};
  return o;
}

}  // namespace

TEST(NeuralBiasModel, LayoutAndGradient) {
  const auto cat = density::simulate_catalogue(small_box(6, 6), 1);
  const density::NeuralBiasModel model(cat);
  ASSERT_EQ(model.dim(), 17);
  const auto names = model.param_names();
  EXPECT_EQ(names[0], "kernel.corner");
  EXPECT_EQ(names[3], "kernel.centre");
  EXPECT_EQ(names[4], "kernel.bias");
  EXPECT_EQ(names[5], "alpha.w.1");
  EXPECT_EQ(names[16], "sigma.b.2");
  // Away from the truth (and from the ReLU's kink), prior included. ln π ~ 1e4 here, so
  // eps = 1e-5 keeps the rounding error of the differences (~1e-16·1e4/1e-5) near 1e-7.
  auto theta = density::default_true_theta();
  for (size_t i = 0; i < theta.size(); ++i) theta[i] += 0.05 * std::sin(static_cast<double>(i) + 1);
  const auto r = mcmc::check_gradient(model, theta, {.eps = 1e-5, .tol = 1e-6});
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(NeuralBiasModel, FusedLikelihoodMatchesTheComposite) {
  // The fused kernel (bias_likelihood.hpp) against the composite of tape ops, value and
  // gradient, for 1, 2 and 3 components; at the truth, away from it, with the second
  // component's ReLU closed (its mean increment negative everywhere) and with wide widths.
  // Also: the tape node gives the same gradient, the prior is normal_lpdf's, and one thread
  // or two give the same bits.
  const auto cat = density::simulate_catalogue(small_box(6, 6), 3);
  ASSERT_GT(cat.size(), 20);
  const auto truth = density::default_true_theta();
  auto with_components = [&](int64_t k, std::vector<double> th) {
    th.resize(static_cast<size_t>(density::bias_model_dim(k)));
    if (k == 3) {
      const double extra[6] = {0.3, 5.0, 0.2, 0.8, 0.05, -7.0};
      std::copy(extra, extra + 6, th.end() - 6);
    }
    return th;
  };
  std::vector<std::vector<double>> points = {truth, truth, truth, truth};
  for (size_t i = 0; i < truth.size(); ++i) points[1][i] += 0.1 * std::cos(3.0 * static_cast<double>(i));
  points[2][14] = -3;   // μ increment of component 2: 0.3 ψ − 3 < 0, the ReLU closed
  points[3][10] = -4;   // σ_1 ≈ softplus(ln 10³ − 4) ≈ 18: erfc far from its tails
  for (int64_t k : {1, 2, 3}) {
    density::BiasModelOptions o;
    o.components = k;
    o.prior_sd = 0;
    const density::NeuralBiasModel model(cat, o);
    for (size_t pi = 0; pi < points.size(); ++pi) {
      const auto th = with_components(k, points[pi]);
      std::vector<double> gf(th.size()), gr(th.size()), gt(th.size());
      const double vf = model.log_density_and_gradient(th, gf);
      const double vr = core::value_and_grad<double>([&](core::Var<double> t) { return model.log_likelihood_reference(t); }, th, gr);
      const double vt = core::value_and_grad<double>([&](core::Var<double> t) { return model.log_likelihood(t); }, th, gt);
      ASSERT_TRUE(std::isfinite(vr));
      EXPECT_NEAR(vf, vr, 1e-11 * std::abs(vr)) << "K " << k << " point " << pi;
      EXPECT_EQ(vt, vf);
      double gmax = 0;
      for (double v : gr) gmax = std::max(gmax, std::abs(v));
      for (size_t i = 0; i < th.size(); ++i) {
        EXPECT_NEAR(gf[i], gr[i], 1e-10 * gmax) << "K " << k << " point " << pi << " parameter " << i;
        EXPECT_EQ(gt[i], gf[i]);
      }
    }
  }
  // The prior, and thread-count independence, on the default model (16³ voxels: enough work
  // for the two halves to run on two threads).
  const density::NeuralBiasModel model(density::simulate_catalogue(small_box(16, 16), 4));
  const auto& th = points[1];
  std::vector<double> g1(th.size()), g2(th.size()), gr(th.size());
  core::kernels::set_parallel_threads(1);
  const double v1 = model.log_density_and_gradient(th, g1);
  core::kernels::set_parallel_threads(2);
  const double v2 = model.log_density_and_gradient(th, g2);
  core::kernels::set_parallel_threads(1);
  EXPECT_EQ(v1, v2);
  EXPECT_EQ(g1, g2);
  const double vr = core::value_and_grad<double>(
      [&](core::Var<double> t) { return core::add(model.log_likelihood_reference(t), core::normal_lpdf(t, 0.0, 10.0)); }, th, gr);
  EXPECT_NEAR(v1, vr, 1e-11 * std::abs(vr));
  for (size_t i = 0; i < th.size(); ++i) EXPECT_NEAR(g1[i], gr[i], 1e-9 * (1 + std::abs(gr[i]))) << i;
}

TEST(NeuralBiasModel, MaximumLikelihoodIsCalibratedOver20Catalogues) {
  // 20 catalogues on a 10³ grid of voxel volume 8 (about 21000 halos each), fitted by L-BFGS
  // from the truth with the likelihood alone. Fisher errors from the observed information at
  // each estimate. Under calibration the pulls z = (θ̂ − θ*)/σ_F are N(0, 1):
  //  - each parameter's mean pull over 20 has sd 1/√20 = 0.22: |mean| < 0.9 (4 sd);
  //  - the rms of all 340 pulls is 1 ± 0.04 (1/√(2·340)); allowed [0.8, 1.2] (5 sd), the
  //    strongly correlated kernel weights making the pulls less than independent;
  //  - the simulated count N ~ Poisson(Λ) given the field: the mean of (N − Λ)/√Λ over 20
  //    within 4/√20, each within 4.
  const auto truth = density::default_true_theta();
  const int reps = 20;
  std::vector<double> pull_sum(truth.size(), 0.0);
  double pull_ss = 0, count_z = 0;
  for (int r = 0; r < reps; ++r) {
    const auto cat = density::simulate_catalogue(small_box(10, 20), 1000 + static_cast<uint64_t>(r));
    density::BiasModelOptions ml;
    ml.prior_sd = 0;  // the likelihood alone
    const density::NeuralBiasModel model(cat, ml);
    const double lambda = model.expected_count(truth);
    const double z = (static_cast<double>(cat.size()) - lambda) / std::sqrt(lambda);
    EXPECT_LT(std::abs(z), 4.0) << "catalogue " << r << ": " << cat.size() << " halos, expected " << lambda;
    count_z += z / reps;
    auto fit = bayes::fit_map(model, truth, {.optimizer = "lbfgs", .max_iterations = 1000, .tolerance = 1e-3});
    // L-BFGS crawls along the kernel weights' near-degenerate direction; Newton steps with the
    // observed information finish the job. ½ gᵀI⁻¹g is the log-likelihood still to gain.
    Eigen::MatrixXd info;
    double to_gain = 0;
    for (int step = 0; step < 2; ++step) {
      info = mcmc::observed_information(model, fit.theta);
      std::vector<double> g(truth.size());
      model.log_density_and_gradient(fit.theta, g);
      const Eigen::VectorXd dx = info.ldlt().solve(Eigen::Map<const Eigen::VectorXd>(g.data(), static_cast<Eigen::Index>(g.size())));
      to_gain = 0.5 * dx.dot(Eigen::Map<const Eigen::VectorXd>(g.data(), static_cast<Eigen::Index>(g.size())));
      for (size_t i = 0; i < truth.size(); ++i) fit.theta[i] += dx(static_cast<Eigen::Index>(i));
    }
    EXPECT_LT(to_gain, 1e-4) << "catalogue " << r << " not at its maximum";
    const Eigen::MatrixXd cov = info.inverse();
    for (size_t i = 0; i < truth.size(); ++i) {
      const double sd = std::sqrt(cov(static_cast<Eigen::Index>(i), static_cast<Eigen::Index>(i)));
      ASSERT_TRUE(std::isfinite(sd)) << "parameter " << i;
      const double p = (fit.theta[i] - truth[i]) / sd;
      pull_sum[i] += p / reps;
      pull_ss += p * p;
    }
  }
  for (size_t i = 0; i < truth.size(); ++i) EXPECT_LT(std::abs(pull_sum[i]), 0.9) << "parameter " << i;
  const double rms = std::sqrt(pull_ss / (reps * static_cast<double>(truth.size())));
  EXPECT_GT(rms, 0.8);
  EXPECT_LT(rms, 1.2);
  EXPECT_LT(std::abs(count_z), 4 / std::sqrt(static_cast<double>(reps)));
  RecordProperty("pull_rms", std::to_string(rms));
}
