// Binned halo counts: the χ² survival function against closed forms, bins that add up to
// the whole catalogue and the whole expected count, and a χ² check at the truth.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"
#include "trusty/density/halo_simulator.hpp"
#include "trusty/density/mass_function_check.hpp"

using namespace trusty;

TEST(MassFunctionCheck, ChiSquareSurvivalMatchesClosedForms) {
  for (double x : {0.1, 1.0, 3.0, 10.0, 40.0}) {
    EXPECT_NEAR(density::chi2_survival(x, 2), std::exp(-x / 2), 1e-13) << x;
    EXPECT_NEAR(density::chi2_survival(x, 1), std::erfc(std::sqrt(x / 2)), 1e-13) << x;
    // k = 4: Q = e^{-x/2}(1 + x/2).
    EXPECT_NEAR(density::chi2_survival(x, 4), std::exp(-x / 2) * (1 + x / 2), 1e-13) << x;
  }
  EXPECT_NEAR(density::chi2_survival(18.307038053275146, 10), 0.05, 1e-12);  // the tabulated 95 % point
  EXPECT_EQ(density::chi2_survival(0, 3), 1.0);
}

TEST(MassFunctionCheck, BinsAddUpAndTheTruthPassesChiSquare) {
  density::HaloSimulatorOptions o;
  o.field = {.grid = 12, .box_size = 12, .spectral_index = -1.5, .smoothing = 1.5, .sigma = 0.6};
  const auto cat = density::simulate_catalogue(o, 21);
  const density::NeuralBiasModel model(cat);
  const auto bins = density::make_mass_function_bins(cat, 4, 6);
  ASSERT_EQ(bins.voxel_bin.size(), 12u * 12 * 12);
  const auto obs = density::observed_counts(cat, bins);
  const auto truth = density::default_true_theta();
  const auto exp = density::expected_binned_counts(model, truth, bins);
  double n = 0, e = 0, chi2 = 0;
  for (size_t i = 0; i < obs.size(); ++i) {
    n += obs[i];
    e += exp[i];
    chi2 += (obs[i] - exp[i]) * (obs[i] - exp[i]) / exp[i];
  }
  EXPECT_EQ(n, static_cast<double>(cat.size()));
  EXPECT_NEAR(e, model.expected_count(truth), 1e-8 * e);
  // At the true θ the 24 bin counts are independent Poisson draws: χ²₂₄. p > 0.001 (fixed seed).
  const double p = density::chi2_survival(chi2, static_cast<double>(obs.size()));
  EXPECT_GT(p, 1e-3) << "chi2 " << chi2;
  // Denser environments hold more halos per voxel (the truth's bias is positive).
  double low = 0, high = 0;
  for (int64_t k = 0; k < bins.mass_bins(); ++k) {
    low += exp[static_cast<size_t>(k)];
    high += exp[static_cast<size_t>(3 * bins.mass_bins() + k)];
  }
  EXPECT_GT(high, 1.5 * low);
}
