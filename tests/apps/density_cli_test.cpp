// The density layer through the command line: a mixture density network trained with
// `trusty train` ([train] loss = "mdn") against the known conditional density, and bad
// loss options rejected with exit code 2.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "cli_util.hpp"
#include "trusty/density/mdn_loss.hpp"

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
