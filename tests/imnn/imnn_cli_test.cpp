// `trusty imnn` end to end: outputs, resuming, and bad input (wrong .npy shapes, NaN, a
// non-positive-definite covariance, a config typo) giving one clear message and exit code 2
// with no results.json left behind.
#include <gtest/gtest.h>

#include <chrono>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "apps/cli_util.hpp"
#include "trusty/io/npy.hpp"

namespace fs = std::filesystem;
using trusty::io::NpyArray;

namespace {
using trusty::test::CliRun;
// `trusty imnn ARGS --quiet` (ARGS split at spaces: the test paths have none).
CliRun run(const std::string& args) { return trusty::test::run_cli("imnn " + args + " --quiet"); }
std::string dir(const std::string& name) { return trusty::test::fresh_dir("imnn_cli_" + name); }
std::string write(const std::string& d, const std::string& name, const std::string& text) {
  return trusty::test::write_file(d, name, text);
}
nlohmann::json read_json(const std::string& p) { return nlohmann::json::parse(std::ifstream(p)); }

const std::string kSmall = R"([simulator]
name = "gaussian_variance"
n_data = 10
[imnn]
theta_fid = [1.0]
delta_theta = [0.1]
n_s = 200
n_d = 200
validation = 200
seed = 3
[model]
hidden = [16]
activation = "elu"
[train]
lr = 3e-3
max_iterations = MAXIT
min_iterations = 1000
checkpoint_every = 10
)";
// `s` with its first `from` replaced by `to` (concatenation: GCC 12's -Wrestrict misfires on
// std::string::replace).
std::string subst(const std::string& s, const std::string& from, const std::string& to) {
  const size_t at = s.find(from);
  return s.substr(0, at) + to + s.substr(at + from.size());
}
std::string small(int maxit) { return subst(kSmall, "MAXIT", std::to_string(maxit)); }

// A (n, *shape) array of N(0, 1) values (or `fill` everywhere when finite).
NpyArray array(std::vector<int64_t> shape, double fill = NAN) {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  std::vector<double> v(static_cast<size_t>(n));
  uint64_t s = 88172645463325252ull;
  for (auto& x : v) {
    s ^= s << 13, s ^= s >> 7, s ^= s << 17;
    x = std::isnan(fill) ? static_cast<double>(s % 10000) / 5000.0 - 1.0 : fill;
  }
  return NpyArray::from<double>(v, shape);
}
std::string npy_config(const std::string& d) {
  return "[simulator]\nname = \"npy\"\nfiducial = \"" + d + "/fid.npy\"\nderivatives = \"" + d + "/der.npy\"\n" +
         "[imnn]\ntheta_fid = [1.0]\ndelta_theta = [0.1]\n[model]\nhidden = [8]\n[train]\nmax_iterations = 5\n";
}
}  // namespace

TEST(ImnnCli, WritesResultsHistoryModelAndCheckpointAndResumes) {
  const auto d = dir("good");
  auto r = run(write(d, "c.toml", small(20)) + " --out " + d + "/out");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = read_json(d + "/out/results.json");
  EXPECT_NEAR(j["det_fisher_analytic"].get<double>(), 5.0, 1e-12);
  EXPECT_GT(j["det_fisher"].get<double>(), 0.0);
  EXPECT_EQ(j["fisher"].size(), 1u);
  EXPECT_EQ(j["history"]["steps"].get<int>(), 20);
  for (const char* f : {"history.csv", "model.npz", "checkpoint.npz", "config.toml"}) EXPECT_TRUE(fs::exists(d + "/out/" + f)) << f;
  std::ifstream h(d + "/out/history.csv");
  int lines = 0;
  for (std::string line; std::getline(h, line);) ++lines;
  EXPECT_EQ(lines, 21);  // header + 20 steps
  // Resume to 30 steps: the history continues, it does not restart.
  r = run(write(d, "c.toml", small(30)) + " --out " + d + "/out --resume");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_json(d + "/out/results.json")["history"]["steps"].get<int>(), 30);
}

TEST(ImnnCli, WrongDerivativeShapeNamesExpectedAndFound) {
  const auto d = dir("shape");
  trusty::io::write_npy(d + "/fid.npy", array({100, 10}));
  trusty::io::write_npy(d + "/der.npy", array({50, 2, 2, 10}));  // two parameters; the config has one
  auto r = run(write(d, "c.toml", npy_config(d)) + " --out " + d + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("der.npy"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(n_d, 2, n_params=1, 10)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("found (50, 2, 2, 10)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d + "/out/results.json"));
}

TEST(ImnnCli, NaNInSimulationsIsBadInput) {
  const auto d = dir("nan");
  auto fid = array({100, 10});
  reinterpret_cast<double*>(fid.data.data())[17] = NAN;
  trusty::io::write_npy(d + "/fid.npy", fid);
  trusty::io::write_npy(d + "/der.npy", array({50, 2, 1, 10}));
  auto r = run(write(d, "c.toml", npy_config(d)) + " --out " + d + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("element 17"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d + "/out/results.json"));
}

TEST(ImnnCli, ConstantSimulationsGiveANotPositiveDefiniteError) {
  const auto d = dir("notpd");
  trusty::io::write_npy(d + "/fid.npy", array({100, 10}, 0.5));  // every simulation identical: C = 0
  trusty::io::write_npy(d + "/der.npy", array({50, 2, 1, 10}, 0.5));
  auto r = run(write(d, "c.toml", npy_config(d)) + " --out " + d + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("not positive definite"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d + "/out/results.json"));
}

TEST(ImnnCli, PrecomputedGradientsTrainInMode2AndAreShapeChecked) {
  const auto d = dir("grad");
  trusty::io::write_npy(d + "/fid.npy", array({100, 10}));
  trusty::io::write_npy(d + "/dd.npy", array({50, 10, 1}));
  const std::string cfg = "[simulator]\nname = \"npy\"\nfiducial = \"" + d + "/fid.npy\"\ngradients = \"" + d + "/dd.npy\"\n" +
                          "[imnn]\ntheta_fid = [1.0]\n[model]\nhidden = [8]\nactivation = \"tanh\"\n[train]\nmax_iterations = 5\n";
  auto r = run(write(d, "c.toml", cfg) + " --out " + d + "/out");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(read_json(d + "/out/results.json")["history"]["steps"].get<int>(), 5);
  trusty::io::write_npy(d + "/dd.npy", array({50, 1, 10}));  // the (n_d, n_params, *data_shape) mistake
  r = run(write(d, "c.toml", cfg) + " --out " + d + "/out2");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("(n_d, 10, n_params), found (50, 1, 10)"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d + "/out2/results.json"));
}

TEST(ImnnCli, GaussianFieldRunsWithACnn) {
  const auto d = dir("grf");
  const std::string cfg = R"([simulator]
name = "gaussian_field"
grid = 16
[imnn]
theta_fid = [1.0, 2.0]
delta_theta = [0.1, 0.1]
n_s = 100
n_d = 50
validation = 100
[model]
type = "cnn"
input_shape = [1, 16, 16]
[[model.layers]]
type = "conv"
channels = 4
kernel = 3
padding = "periodic"
activation = "elu"
[[model.layers]]
type = "avg_pool"
window = 16
[[model.layers]]
type = "flatten"
[train]
max_iterations = 3
)";
  auto r = run(write(d, "c.toml", cfg) + " --out " + d + "/out");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = read_json(d + "/out/results.json");
  EXPECT_EQ(j["fisher_analytic"].size(), 2u);
  EXPECT_GT(j["det_fisher_analytic"].get<double>(), 0.0);
}

// Derivative mode 3 from the CLI: dd/dθ by autodiff through the GRF's tape form, chained
// with a CNN's input Jacobian (conv, pooling and flatten tangents); no delta_theta needed.
TEST(ImnnCli, GaussianFieldRunsWithACnnInAutodiffMode) {
  const auto d = dir("grf_autodiff");
  const std::string cfg = R"([simulator]
name = "gaussian_field"
grid = 16
[imnn]
theta_fid = [1.0, 2.0]
derivatives = "autodiff"
n_s = 100
n_d = 50
validation = 100
test = 100
[model]
type = "cnn"
input_shape = [1, 16, 16]
[[model.layers]]
type = "conv"
channels = 4
kernel = 3
padding = "periodic"
activation = "elu"
[[model.layers]]
type = "max_pool"
window = 2
[[model.layers]]
type = "avg_pool"
window = 8
[[model.layers]]
type = "flatten"
[train]
max_iterations = 3
)";
  const auto t0 = std::chrono::steady_clock::now();
  auto r = run(write(d, "c.toml", cfg) + " --out " + d + "/out");
  ASSERT_EQ(r.code, 0) << r.out;
  auto j = read_json(d + "/out/results.json");
  std::printf("[ figures  ] trusty imnn, GRF 16x16, CNN, derivatives = autodiff, 3 steps: %.2f s, det F %.4g (test %.4g), analytic %.4g\n",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), j["det_fisher"].get<double>(),
              j["test_det_fisher"].get<double>(), j["det_fisher_analytic"].get<double>());
  EXPECT_EQ(j["history"]["steps"].get<int>(), 3);
  EXPECT_GT(j["det_fisher"].get<double>(), 0.0);
  EXPECT_GT(j["test_det_fisher"].get<double>(), 0.0);
  // npy data have no simulator to differentiate: refused naming the key and the choices.
  trusty::io::write_npy(d + "/fid.npy", array({100, 10}));
  trusty::io::write_npy(d + "/der.npy", array({50, 2, 1, 10}));
  r = run(write(d, "n.toml", subst(npy_config(d), "delta_theta = [0.1]", "delta_theta = [0.1]\nderivatives = \"autodiff\"")) + " --out " +
          d + "/out2");
  EXPECT_EQ(r.code, 2) << r.out;
  for (const char* w : {"derivatives", "autodiff", "seed_matched", "gradient"}) EXPECT_NE(r.out.find(w), std::string::npos) << w << ": " << r.out;
  EXPECT_FALSE(fs::exists(d + "/out2/results.json"));
  r = run(write(d, "b.toml", subst(cfg, "\"autodiff\"", "\"auto\"")) + " --out " + d + "/out3");  // an unknown mode lists the choices
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("autodiff"), std::string::npos) << r.out;
}

TEST(ImnnCli, ConfigMistakesNameTheKey) {
  const auto d = dir("config");
  auto r = run(write(d, "c.toml", small(5) + "learning_rate = 0.1\n") + " --out " + d + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("learning_rate"), std::string::npos) << r.out;
  const std::string two = subst(subst(small(5), "theta_fid = [1.0]", "theta_fid = [1.0, 2.0]"), "delta_theta = [0.1]",
                                "delta_theta = [0.1, 0.1]");
  r = run(write(d, "c2.toml", two) + " --out " + d + "/out");
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("theta_fid"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(d + "/out/results.json"));
}
