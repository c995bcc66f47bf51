// Stan CSV: bit-exact round trip, CmdStan's own files, strict-reader errors, atomic writes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <sstream>

#include "mcmc/golden_chains.hpp"
#include "trusty/mcmc/stan_csv.hpp"

namespace trusty::mcmc {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir() {
  const fs::path dir = fs::temp_directory_path() /
                       ("trusty_stan_csv_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
                        "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
  fs::create_directories(dir);
  return dir;
}

// Each test's files live in its own temporary directory, removed afterwards.
class StanCsv : public ::testing::Test {
 protected:
  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(temp_dir(), ignored);
  }
};

ChainDraws make_chain(int n_warmup, int n_draws, int seed) {
  std::mt19937_64 rng{static_cast<uint64_t>(seed)};
  std::normal_distribution<double> normal;
  ChainDraws c;
  c.param_names = {"mu", "theta.1", "theta.2"};
  const int rows = n_warmup + n_draws;
  c.params.resize(rows, 3);
  for (int i = 0; i < rows; ++i) {
    c.lp.push_back(-0.5 * normal(rng) * normal(rng) - 3);
    c.accept_stat.push_back(std::uniform_real_distribution<double>(0, 1)(rng));
    c.stepsize.push_back(0.7312345678901234);
    c.treedepth.push_back(1 + i % 4);
    c.n_leapfrog.push_back((1 << (1 + i % 4)) - 1);
    c.divergent.push_back(i % 37 == 0);
    c.energy.push_back(3 + normal(rng));
    for (int j = 0; j < 3; ++j) c.params(i, j) = normal(rng) / 3;
  }
  c.n_warmup_saved = n_warmup;
  c.metric = "diag_e";
  c.step_size = 0.7312345678901234;
  c.inv_metric.resize(3, 1);
  c.inv_metric << 1.0 / 3, 2.5e-7, 1e300;
  c.config = {{"model", "round_trip"}, {"num_samples", std::to_string(n_draws)},
              {"num_warmup", std::to_string(n_warmup)}, {"delta", "0.8"},
              {"seed", "4711"}, {"data_file", "none"}};
  c.chain_id = 3;
  c.seconds_warmup = 0.125;
  c.seconds_sampling = 2.5;
  c.gradient_evaluations = 123456789012;
  return c;
}

std::string config_value(const ChainDraws& c, const std::string& key) {
  for (const auto& [k, v] : c.config)
    if (k == key) return v;
  return "<missing>";
}

void expect_same_draws(const ChainDraws& a, const ChainDraws& b) {
  EXPECT_EQ(a.param_names, b.param_names);
  EXPECT_EQ(a.lp, b.lp);  // bit-exact: the writer uses the shortest round-trip form
  EXPECT_EQ(a.accept_stat, b.accept_stat);
  EXPECT_EQ(a.stepsize, b.stepsize);
  EXPECT_EQ(a.energy, b.energy);
  EXPECT_EQ(a.treedepth, b.treedepth);
  EXPECT_EQ(a.n_leapfrog, b.n_leapfrog);
  EXPECT_EQ(a.divergent, b.divergent);
  EXPECT_EQ(a.params, b.params);
  EXPECT_EQ(a.n_warmup_saved, b.n_warmup_saved);
}

TEST_F(StanCsv, RoundTripIsBitExact) {
  ChainDraws c = make_chain(20, 100, 1);
  c.params(0, 0) = std::numeric_limits<double>::denorm_min();
  c.params(1, 1) = -std::numeric_limits<double>::max();
  c.params(2, 2) = std::numeric_limits<double>::infinity();
  c.lp[3] = std::numeric_limits<double>::quiet_NaN();
  c.lp[4] = 0.1 + 0.2;
  const fs::path path = temp_dir() / "chain.csv";
  write_stan_csv(path, c);
  const ChainDraws r = read_stan_csv(path);
  EXPECT_TRUE(std::isnan(r.lp[3]));
  ChainDraws r_without_nan = r;
  c.lp[3] = r_without_nan.lp[3] = 0;
  expect_same_draws(c, r_without_nan);
  EXPECT_EQ(r.metric, "diag_e");
  EXPECT_EQ(r.step_size, c.step_size);
  EXPECT_EQ(r.inv_metric, c.inv_metric);
  EXPECT_EQ(r.chain_id, 3);
  EXPECT_EQ(r.gradient_evaluations, 123456789012);
  EXPECT_DOUBLE_EQ(r.seconds_warmup, 0.125);
  EXPECT_DOUBLE_EQ(r.seconds_sampling, 2.5);
  for (const auto& [key, value] : c.config) EXPECT_EQ(config_value(r, key), value) << key;
  EXPECT_EQ(config_value(r, "algorithm"), "hmc");
  EXPECT_EQ(config_value(r, "engine"), "nuts");
  // Writing what was read gives the same file.
  const fs::path again = temp_dir() / "again.csv";
  write_stan_csv(again, r);
  std::ifstream f1(path), f2(again);
  std::stringstream s1, s2;
  s1 << f1.rdbuf();
  s2 << f2.rdbuf();
  EXPECT_EQ(s1.str(), s2.str());
}

TEST_F(StanCsv, DenseAndUnitMetricsRoundTrip) {
  ChainDraws c = make_chain(0, 10, 2);
  c.metric = "dense_e";
  c.inv_metric.resize(3, 3);
  c.inv_metric << 2, 0.5, 0.1, 0.5, 1, 0.2, 0.1, 0.2, 3;
  const fs::path path = temp_dir() / "dense.csv";
  write_stan_csv(path, c);
  ChainDraws r = read_stan_csv(path);
  EXPECT_EQ(r.metric, "dense_e");
  EXPECT_EQ(r.inv_metric, c.inv_metric);
  expect_same_draws(c, r);
  c.metric = "unit_e";
  c.inv_metric.resize(0, 0);
  write_stan_csv(path, c);
  r = read_stan_csv(path);
  EXPECT_EQ(r.metric, "unit_e");
  EXPECT_EQ(r.inv_metric.size(), 0);
}

// What line-by-line readers (cmdstanpy's scan_sampler_csv) insist on: one '=' per config
// comment, max_depth and metric present, the header, the warmup rows, then exactly
// "# Adaptation terminated", "# Step size = ...", the metric line and one row of values.
TEST_F(StanCsv, LayoutIsWhatLineByLineReadersExpect) {
  const fs::path path = temp_dir() / "layout.csv";
  write_stan_csv(path, make_chain(3, 4, 5));
  std::ifstream in(path);
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  size_t header = 0;
  while (header < lines.size() && lines[header].rfind('#', 0) == 0) {
    EXPECT_LE(std::count(lines[header].begin(), lines[header].end(), '='), 1) << lines[header];
    ++header;
  }
  ASSERT_LT(header + 12, lines.size());
  const std::string config = [&] {
    std::string all;
    for (size_t i = 0; i < header; ++i) all += lines[i] + "\n";
    return all;
  }();
  for (const char* key : {"# model = round_trip\n", "# method = sample\n", "#     num_samples = 4\n",
                          "#     num_warmup = 3\n", "#     save_warmup = 1\n", "#     thin = 1\n",
                          "#       engaged = 1\n", "#     algorithm = hmc\n", "#         engine = nuts\n",
                          "#             max_depth = 10\n", "#         metric = diag_e\n", "# id = 3\n"})
    EXPECT_NE(config.find(key), std::string::npos) << "missing '" << key << "' in\n" << config;
  EXPECT_EQ(lines[header].rfind("lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,mu,theta.1,theta.2", 0), 0u);
  for (size_t i = header + 1; i <= header + 3; ++i) EXPECT_NE(lines[i][0], '#') << lines[i];
  EXPECT_EQ(lines[header + 4], "# Adaptation terminated");
  EXPECT_EQ(lines[header + 5], "# Step size = 0.7312345678901234");
  EXPECT_EQ(lines[header + 6], "# Diagonal elements of inverse mass matrix:");
  EXPECT_EQ(lines[header + 7], "# 0.3333333333333333, 2.5e-07, 1e+300");
  for (size_t i = header + 8; i <= header + 11; ++i) EXPECT_NE(lines[i][0], '#') << lines[i];
  EXPECT_EQ(lines[header + 13], "#  Elapsed Time: 0.125000 seconds (Warm-up)");
}

// The layout CmdStan 2.33 writes (abridged bernoulli example, save_warmup = 0).
constexpr const char* kCmdStanFile = R"(# stan_version_major = 2
# stan_version_minor = 33
# model = bernoulli_model
# method = sample (Default)
#   sample
#     num_samples = 3
#     num_warmup = 1000 (Default)
#     save_warmup = 0 (Default)
#     thin = 1 (Default)
#     adapt
#       engaged = 1 (Default)
#       delta = 0.8 (Default)
#     algorithm = hmc (Default)
#       hmc
#         engine = nuts (Default)
#           nuts
#             max_depth = 10 (Default)
#         metric = diag_e (Default)
#         metric_file =  (Default)
#         stepsize = 1 (Default)
# id = 2
# data
#   file = bernoulli.data.json
lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__,theta
# Adaptation terminated
# Step size = 0.893542
# Diagonal elements of inverse mass matrix:
# 0.483503
-7.00205,0.981427,0.893542,1,3,0,7.07293,0.288589
-6.80252,1,0.893542,2,3,0,7.00474,0.2
-7.47425,0.867188,0.893542,1,1,0,7.56713,0.125
# 
#  Elapsed Time: 0.005 seconds (Warm-up)
#                0.014 seconds (Sampling)
#                0.019 seconds (Total)
# 
)";

fs::path write_text(const std::string& name, const std::string& text) {
  const fs::path path = temp_dir() / name;
  std::ofstream(path) << text;
  return path;
}

TEST_F(StanCsv, ReadsCmdStanFiles) {
  const ChainDraws c = read_stan_csv(write_text("cmdstan.csv", kCmdStanFile));
  EXPECT_EQ(c.chain_id, 2);
  EXPECT_EQ(c.metric, "diag_e");
  EXPECT_EQ(c.step_size, 0.893542);
  ASSERT_EQ(c.inv_metric.size(), 1);
  EXPECT_EQ(c.inv_metric(0), 0.483503);
  EXPECT_EQ(c.param_names, std::vector<std::string>{"theta"});
  ASSERT_EQ(c.n_draws(), 3);
  EXPECT_EQ(c.n_warmup_saved, 0);
  EXPECT_EQ(c.lp[1], -6.80252);
  EXPECT_EQ(c.treedepth[1], 2);
  EXPECT_EQ(c.params(2, 0), 0.125);
  EXPECT_EQ(config_value(c, "num_warmup"), "1000");
  EXPECT_EQ(config_value(c, "metric_file"), "");
  EXPECT_EQ(config_value(c, "file"), "bernoulli.data.json");
  EXPECT_DOUBLE_EQ(c.seconds_warmup, 0.005);
  EXPECT_DOUBLE_EQ(c.seconds_sampling, 0.014);
}

// Each malformed file must fail with the file name, the line and the column in the message.
TEST_F(StanCsv, StrictReaderNamesFileLineAndColumn) {
  const std::string good(kCmdStanFile);
  const std::string first_row = "-7.00205,0.981427,0.893542,1,3,0,7.07293,0.288589";
  const auto replace = [&](const std::string& from, const std::string& to) {
    std::string s = good;
    s.replace(s.find(from), from.size(), to);
    return s;
  };
  const std::vector<std::pair<std::string, std::string>> cases = {
      {replace(first_row, "-7.00205,0.981427,0.893542,1,3,0,7.07293"),
       ":29: row has 7 cells, the header (line 24) has 8 columns"},
      {replace(first_row, "-7.00205,0.981427,0.893542x,1,3,0,7.07293,0.288589"),
       ":29: column 3 (stepsize__): expected a number, found '0.893542x'"},
      {replace(first_row, "-7.00205,0.981427,0.893542,1,3,0,7.07293, 0.288589"),
       ":29: column 8 (theta): expected a number, found ' 0.288589'"},
      {replace(first_row, "-7.00205,,0.893542,1,3,0,7.07293,0.288589"),
       ":29: column 2 (accept_stat__): expected a number, found ''"},
      {replace(first_row, "-7.00205,0.981427,0.893542,1.5,3,0,7.07293,0.288589"),
       ":29: column 4 (treedepth__): expected an integer, found '1.5'"},
      {replace("divergent__,energy__", "divergent__,Energy__"),
       ":24: missing required column 'energy__' in the header"},
      {replace("# 0.483503", "# 0.483503q"), ":28: expected a number in the inverse metric, found '0.483503q'"},
      {replace("# id = 2", "# id = two"), ":21: id = 'two' is not an integer"},
  };
  for (size_t k = 0; k < cases.size(); ++k) {
    const fs::path path = write_text("bad" + std::to_string(k) + ".csv", cases[k].first);
    try {
      read_stan_csv(path);
      ADD_FAILURE() << "case " << k << ": no exception, expected '" << cases[k].second << "'";
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(path.string() + cases[k].second), std::string::npos)
          << "case " << k << ": " << what;
    }
  }
  EXPECT_THROW(read_stan_csv(temp_dir() / "does_not_exist.csv"), std::invalid_argument);
  // A whole number too large for an int (found by fuzz/fuzz_stan_csv: the cast was undefined).
  const fs::path huge = write_text("huge.csv", replace(first_row, "-7.00205,0.981427,0.893542,1e300,3,0,7.07293,0.288589"));
  try {
    read_stan_csv(huge);
    ADD_FAILURE() << "treedepth__ = 1e300 was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("column 'treedepth__' holds"), std::string::npos) << e.what();
  }
}

TEST_F(StanCsv, WritesAtomicallyAndLeavesOldFilesIntactOnError) {
  const fs::path dir = temp_dir();
  const fs::path path = dir / "chain.csv";
  write_stan_csv(path, make_chain(0, 5, 3));
  ChainDraws bad = make_chain(0, 5, 4);
  bad.config.emplace_back("thin", "2");  // num_samples = 5, thin = 2: 3 rows, not 5
  EXPECT_THROW(write_stan_csv(path, bad), std::invalid_argument);
  bad = make_chain(0, 5, 4);
  bad.energy.pop_back();
  EXPECT_THROW(write_stan_csv(path, bad), std::invalid_argument);
  bad = make_chain(0, 5, 4);
  bad.param_names[1] = "theta,1";
  EXPECT_THROW(write_stan_csv(path, bad), std::invalid_argument);
  bad = make_chain(0, 5, 4);
  bad.config.emplace_back("note", "two\nlines");
  EXPECT_THROW(write_stan_csv(path, bad), std::invalid_argument);
  bad = make_chain(0, 5, 4);
  bad.config.emplace_back("a=b", "c");
  EXPECT_THROW(write_stan_csv(path, bad), std::invalid_argument);
  EXPECT_EQ(read_stan_csv(path).lp, make_chain(0, 5, 3).lp);
  EXPECT_THROW(write_stan_csv(dir / "no_such_dir" / "chain.csv", make_chain(0, 5, 3)),
               std::runtime_error);
  for (const auto& entry : fs::directory_iterator(dir))
    EXPECT_EQ(entry.path().string().find(".tmp."), std::string::npos) << entry.path();
}

// Writes four chains (golden sets as parameters, 100 saved warmup draws each) into
// $TRUSTY_STAN_CSV_OUT for tools/check_stan_csv.R, which reads them with rstan.
TEST_F(StanCsv, WritesChainsForExternalReaders) {
  const char* out = std::getenv("TRUSTY_STAN_CSV_OUT");
  if (!out) GTEST_SKIP() << "set TRUSTY_STAN_CSV_OUT to a directory to write the chains";
  const Eigen::MatrixXd mu = testing::load_chains("ar1_weak");
  const Eigen::MatrixXd theta1 = testing::load_chains("heavy_tailed");
  const Eigen::MatrixXd theta2 = testing::load_chains("shifted");
  for (int k = 0; k < 4; ++k) {
    ChainDraws c = make_chain(100, 1000, 10 + k);
    c.chain_id = k + 1;
    c.params.col(0).tail(1000) = mu.col(k);
    c.params.col(1).tail(1000) = theta1.col(k);
    c.params.col(2).tail(1000) = theta2.col(k);
    write_stan_csv(fs::path(out) / ("trusty_chain_" + std::to_string(k + 1) + ".csv"), c);
  }
}

}  // namespace
}  // namespace trusty::mcmc
