// The density layer through the command line: a mixture density network trained with
// `trusty train` ([train] loss = "mdn") against the known conditional density, and bad
// loss options rejected with exit code 2.
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "cli_util.hpp"
#include "trusty/density/catalogue.hpp"
#include "trusty/density/mdn_loss.hpp"
#include "trusty/io/npy.hpp"
#include "test_paths.hpp"

using namespace trusty;
using test::run_cli;

TEST(DensityCli, MdnTrainsToTheTrueConditionalDensity) {
  // examples/mdn_mixture.toml: a 1-32-32-6 tanh MDN, 20,000 training pairs, 40 epochs. Its
  // held-out NLL must be within 0.02 nats per point of the true density's on the same
  // 10,000 test pairs (stream 2 of the built-in data). The paired difference's Monte Carlo
  // error is ~0.002 here, so the bound measures the fit, not the test set.
  const auto dir = test::fresh_dir("mdn_mixture");
  const auto r = run_cli("train " + std::string(TRUSTY_SOURCE_DIR) + "/examples/mdn_mixture.toml --out " + dir + " --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto res = nlohmann::json::parse(test::read_file(dir + "/results.json"));
  EXPECT_EQ(res["loss"], "mdn");
  core::Tensor<double> x, y;
  density::conditional_mixture_sample(10000, 2, x, y);
  double truth = 0;
  for (int64_t i = 0; i < 10000; ++i) truth -= density::conditional_mixture_log_density(x.data()[i], y.data()[i]) / 10000;
  const double nll = res["test_loss"].get<double>();
  EXPECT_LT(nll - truth, 0.02) << "held-out NLL " << nll << ", true density " << truth;
  EXPECT_GT(nll - truth, -0.01) << "held-out NLL " << nll << " beats the true density " << truth;
  RecordProperty("nll_excess", std::to_string(nll - truth));
}

TEST(DensityCli, BadLossOptionsExitTwo) {
  const auto dir = test::fresh_dir("mdn_bad");
  const auto cfg = test::write_file(dir, "bad.toml", R"(dtype = "float64"
[data]
name = "mdn_mixture"
task = "regression"
[train]
loss = "mdn"
epochs = 1
[loss]
components = 2
covariance = "banana"
)");
  auto r = run_cli("train " + cfg + " --out " + dir + "/run");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("banana"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[loss]"), std::string::npos) << r.out;
  const auto cfg2 = test::write_file(dir, "bad2.toml", R"([data]
name = "quadratic"
[train]
loss = "nope"
)");
  r = run_cli("train " + cfg2 + " --out " + dir + "/run2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("mdn"), std::string::npos) << r.out;  // the message lists the registered losses
}

namespace {
// A small valid catalogue's arrays, written without validation so that each test can break one.
io::Npz catalogue_arrays() {
  io::Npz z;
  z["field"] = io::NpyArray::from(core::Tensor<double>(core::Shape{4, 4, 4}, 0.1));
  z["positions"] = io::NpyArray::from(core::Tensor<double>(core::Shape{2, 3}, {0.5, 1.5, 2.5, 3.5, 0.1, 0.2}));
  z["masses"] = io::NpyArray::from(core::Tensor<double>(core::Shape{2}, {2e12, 5e12}));
  z["box_size"] = io::NpyArray::from(core::Tensor<double>::scalar(4.0));
  z["mass_threshold"] = io::NpyArray::from(core::Tensor<double>::scalar(1e12));
  return z;
}

test::CliRun sample_bias_on(const std::string& dir, const std::string& name, const io::Npz& z) {
  const std::string npz = dir + "/" + name + ".npz";
  io::write_npz(npz, z);
  const auto cfg = test::write_file(dir, name + ".toml", "[target]\nkind = \"bias\"\n[catalogue]\nfile = \"" + npz +
                                                              "\"\n[sampler]\nchains = 1\nwarmup = 10\nsamples = 10\n");
  return run_cli("sample " + cfg + " --out " + dir + "/run_" + name + " --quiet");
}
}  // namespace

TEST(DensityCli, BadCatalogueExitsTwoNamingFileArrayAndIndex) {
  const auto dir = test::fresh_dir("bias_bad");
  auto z = catalogue_arrays();
  z["masses"] = io::NpyArray::from(core::Tensor<double>(core::Shape{2}, {2e12, 5e11}));
  auto r = sample_bias_on(dir, "low_mass", z);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("low_mass.npz: masses[1]"), std::string::npos) << r.out;

  z = catalogue_arrays();
  z["positions"] = io::NpyArray::from(core::Tensor<double>(core::Shape{2, 3}, {0.5, 1.5, 2.5, 3.5, 4.0, 0.2}));
  r = sample_bias_on(dir, "outside", z);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("halo 1 is outside the box"), std::string::npos) << r.out;

  z = catalogue_arrays();
  z["field"] = io::NpyArray::from(core::Tensor<double>(core::Shape{4, 4}, 0.1));
  r = sample_bias_on(dir, "shape", z);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("field has shape [4, 4]"), std::string::npos) << r.out;

  z = catalogue_arrays();
  core::Tensor<double> f(core::Shape{4, 4, 4}, 0.1);
  f.data()[5] = std::nan("");
  z["field"] = io::NpyArray::from(f);
  r = sample_bias_on(dir, "nan", z);
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("field[5] = nan is not finite"), std::string::npos) << r.out;

  const auto cfg = test::write_file(dir, "both.toml", "[target]\nkind = \"bias\"\n[catalogue]\nfile = \"x.npz\"\ngrid = 8\n");
  r = run_cli("sample " + cfg + " --out " + dir + "/run_both --quiet");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("either file or the simulator"), std::string::npos) << r.out;
}

TEST(DensityCli, BiasModelSamplesASimulatedCatalogue) {
  // End to end on a tiny box (6³ voxels, ~600 halos, 2 short chains): the files exist, the
  // simulated catalogue round-trips, and the report's fields are there. The acceptance-size
  // run (examples/bias_simulated.toml) is in docs/density.md.
  const auto dir = test::fresh_dir("bias_small");
  const auto cfg = test::write_file(dir, "bias.toml", R"([target]
kind = "bias"
[catalogue]
grid = 6
box_size = 6
seed = 2
[bias]
density_bins = 2
mass_bins = 3
predictive_draws = 50
[sampler]
metric = "dense_e"
chains = 2
warmup = 100
samples = 100
seed = 1
)");
  const auto r = run_cli("sample " + cfg + " --out " + dir + "/run --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto res = nlohmann::json::parse(test::read_file(dir + "/run/results.json"));
  EXPECT_EQ(res["dimension"], 17);
  for (const char* k : {"chi2", "chi2_p", "truth_inside_95", "truth_inside_95_predictive", "truth_inside_95_predictive_per_density_bin", "observed_inside_95", "expected_halos_map", "max_rhat"})
    EXPECT_TRUE(res.contains(k)) << k;
  EXPECT_TRUE(res["map"]["parameters"].contains("kernel.centre"));
  const auto cat = density::load_catalogue(dir + "/run/catalogue.npz");
  EXPECT_EQ(cat.size(), res["halos"].get<int64_t>());
  const auto z = io::read_npz(dir + "/run/predictive.npz");
  EXPECT_EQ(z.at("expected_draws").shape, (std::vector<int64_t>{50, 2, 3}));
}
