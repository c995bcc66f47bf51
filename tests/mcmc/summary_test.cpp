// summarize(): statistics and diagnostics against posterior's numbers, warmup exclusion, the
// sampler-diagnostic counts and the warnings, E-BFMI on known sequences, input validation.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <stdexcept>

#include "mcmc/golden_chains.hpp"
#include "trusty/mcmc/diagnostics.hpp"
#include "trusty/mcmc/summary.hpp"

namespace trusty::mcmc {
namespace {

using Eigen::MatrixXd;

// Four chains whose parameters are golden sets (column k of each set goes to chain k) and whose
// lp__ is the set `lp_set`; `n_warmup` leading warmup rows of absurd values are prepended,
// which summarize must leave out. Energy is white noise (E-BFMI near 2).
std::vector<ChainDraws> golden_chains(const std::vector<std::string>& sets,
                                      const std::string& lp_set, int n_warmup) {
  const MatrixXd lp = testing::load_chains(lp_set);
  std::vector<MatrixXd> params;
  for (const auto& s : sets) params.push_back(testing::load_chains(s));
  const Eigen::Index n = lp.rows(), rows = n + n_warmup;
  for (size_t j = 0; j < sets.size(); ++j)  // a shorter set would be read past its end
    if (params[j].rows() < n) throw std::runtime_error("golden: " + sets[j] + " has fewer draws than " + lp_set);
  std::mt19937_64 rng(11);
  std::normal_distribution<double> normal;
  std::vector<ChainDraws> chains(4);
  for (int k = 0; k < 4; ++k) {
    ChainDraws& c = chains[size_t(k)];
    c.chain_id = k + 1;
    c.param_names = sets;
    c.n_warmup_saved = n_warmup;
    c.params = MatrixXd::Constant(rows, Eigen::Index(sets.size()), 1e6);
    for (size_t j = 0; j < sets.size(); ++j) c.params.col(Eigen::Index(j)).tail(n) = params[j].col(k);
    c.lp.assign(size_t(n_warmup), -1e6);
    for (Eigen::Index i = 0; i < n; ++i) c.lp.push_back(lp(i, k));
    c.accept_stat.assign(size_t(rows), 0.9);
    c.stepsize.assign(size_t(rows), 0.5);
    c.treedepth.assign(size_t(rows), 3);
    c.n_leapfrog.assign(size_t(rows), 7);
    c.divergent.assign(size_t(rows), 0);
    for (Eigen::Index i = 0; i < rows; ++i) c.energy.push_back(normal(rng));
    c.step_size = 0.5;
  }
  return chains;
}

void expect_matches_golden(const ParameterSummary& p, const std::string& set) {
  static const auto golden = testing::load_golden();
  const std::pair<const char*, double> fields[] = {
      {"mean", p.mean},         {"median", p.median},     {"sd", p.sd},
      {"mad", p.mad},           {"q5", p.q5},             {"q95", p.q95},
      {"rhat", p.rhat},         {"ess_bulk", p.ess_bulk}, {"ess_tail", p.ess_tail},
      {"mcse_mean", p.mcse_mean}, {"mcse_sd", p.mcse_sd}};
  for (const auto& [name, got] : fields) {
    const double expected = golden.at({set, name});
    EXPECT_NEAR(got, expected, 1e-6 * std::abs(expected)) << set << " " << name;
  }
}

TEST(Summary, MatchesPosteriorAndLeavesOutWarmup) {
  const auto chains = golden_chains({"ar1_weak", "heavy_tailed", "ties"}, "ar1_strong", 50);
  const Summary s = summarize(chains);
  ASSERT_EQ(s.parameters.size(), 4u);
  EXPECT_EQ(s.n_draws_per_chain, 1000);
  EXPECT_EQ(s.parameters[0].name, "lp__");
  expect_matches_golden(s.parameters[0], "ar1_strong");
  expect_matches_golden(s.parameters[1], "ar1_weak");
  expect_matches_golden(s.parameters[2], "heavy_tailed");
  expect_matches_golden(s.parameters[3], "ties");
}

TEST(Summary, CleanChainsGiveNoWarnings) {
  const Summary s = summarize(golden_chains({"ar1_weak", "heavy_tailed"}, "ar1_weak", 10));
  EXPECT_TRUE(s.warnings.empty()) << s.warnings.front();
  const std::string text = format_summary(s);
  EXPECT_NE(text.find("Processing complete, no problems detected."), std::string::npos);
  EXPECT_NE(text.find("heavy_tailed"), std::string::npos);
  EXPECT_NE(text.find("ESS_bulk"), std::string::npos);
}

TEST(Summary, WarnsAboutEachProblemAsCmdStanPhrasesIt) {
  auto chains = golden_chains({"ar1_weak", "shifted", "ar1_strong"}, "ar1_weak", 20);
  chains[1].divergent[5] = 1;  // a warmup draw: not counted
  for (int i : {30, 40, 50}) chains[1].divergent[size_t(i)] = 1;
  for (int i : {100, 200, 300, 400, 500}) chains[2].treedepth[size_t(i)] = 10;
  chains[3].treedepth[3] = 10;  // warmup again
  for (size_t i = 1; i < chains[2].energy.size(); ++i)  // a random walk: E-BFMI far below 0.3
    chains[2].energy[i] = chains[2].energy[i - 1] + 0.01 * chains[2].energy[i];
  const Summary s = summarize(chains);
  EXPECT_EQ(s.chains[1].divergences, 3);
  EXPECT_EQ(s.chains[2].max_treedepth_hits, 5);
  EXPECT_EQ(s.chains[3].max_treedepth_hits, 0);
  EXPECT_LT(s.chains[2].e_bfmi, 0.3);
  EXPECT_GT(s.chains[0].e_bfmi, 1.5);
  ASSERT_EQ(s.warnings.size(), 5u);
  EXPECT_EQ(s.warnings[0].rfind("3 of 4000 (0.1%) transitions ended with a divergence.", 0), 0u);
  EXPECT_EQ(s.warnings[1].rfind("5 of 4000 (0.1%) transitions hit the maximum treedepth limit of 10.", 0), 0u);
  EXPECT_EQ(s.warnings[2].rfind("Chain 3: The E-BFMI, 0.", 0), 0u);
  // ESS < 400: shifted (bulk 13) and ar1_strong (bulk 88); R-hat ≥ 1.01: the same two.
  EXPECT_NE(s.warnings[3].find("fewer than 400 effective draws"), std::string::npos);
  EXPECT_NE(s.warnings[3].find("  shifted\n  ar1_strong\n"), std::string::npos);
  EXPECT_NE(s.warnings[4].find("R-hat greater than or equal to 1.01:\n  shifted\n  ar1_strong\n"),
            std::string::npos);
  EXPECT_EQ(s.warnings[4].find("ar1_weak"), std::string::npos);
}

TEST(Summary, MaxTreedepthIsConfigurable) {
  auto chains = golden_chains({"ar1_weak"}, "ar1_weak", 0);
  chains[0].treedepth[7] = 6;
  EXPECT_EQ(summarize(chains, 6).chains[0].max_treedepth_hits, 1);
  EXPECT_EQ(summarize(chains, 7).chains[0].max_treedepth_hits, 0);
}

TEST(Summary, JsonHasEveryFieldAndNullForUndefined) {
  // A constant parameter (its R-hat is undefined): the second column, renamed and set to 2.5
  // (the golden constant.csv has only 100 draws).
  auto chains = golden_chains({"ar1_weak", "ar1_strong"}, "ar1_weak", 0);
  for (auto& c : chains) c.param_names[1] = "constant", c.params.col(1).setConstant(2.5);
  const nlohmann::json j = to_json(summarize(chains));
  EXPECT_EQ(j["n_chains"], 4);
  EXPECT_EQ(j["parameters"].size(), 3u);
  EXPECT_EQ(j["parameters"][2]["name"], "constant");
  EXPECT_TRUE(j["parameters"][2]["rhat"].is_null());
  EXPECT_EQ(j["parameters"][2]["mean"], 2.5);
  EXPECT_NEAR(j["parameters"][1]["ess_bulk"].get<double>(), 2047.1224804922076, 1e-6);
  EXPECT_EQ(j["chains"].size(), 4u);
  EXPECT_TRUE(j["chains"][0].contains("e_bfmi"));
  EXPECT_TRUE(j["warnings"].empty());
}

TEST(Summary, RejectsInconsistentChains) {
  const auto good = golden_chains({"ar1_weak"}, "ar1_weak", 0);
  auto expect_error = [](std::vector<ChainDraws> chains, const std::string& text) {
    try {
      summarize(chains);
      ADD_FAILURE() << "no exception, expected one mentioning '" << text << "'";
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  };
  expect_error({}, "no chains");
  auto names = good;
  names[2].param_names = {"other"};
  expect_error(names, "chain 3 (id 3) has other parameter names");
  auto draws = good;
  draws[1].n_warmup_saved = 10;
  expect_error(draws, "chain 2 (id 2) has 990 post-warmup draws, chain 1 has 1000");
  auto column = good;
  column[0].energy.pop_back();
  expect_error(column, "column energy__ has 999 draws, the parameters have 1000");
}

TEST(EBfmi, KnownSequences) {
  // {1,2,3,4}: Σ diff² = 3, Σ (E − 2.5)² = 5.
  const std::vector<double> ramp = {1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(e_bfmi(ramp), 0.6);
  // Alternating ±1: Σ diff² = 12, Σ E² = 4.
  const std::vector<double> alternating = {1, -1, 1, -1};
  EXPECT_DOUBLE_EQ(e_bfmi(alternating), 3.0);
  EXPECT_TRUE(std::isnan(e_bfmi(std::vector<double>{1.0})));
  EXPECT_TRUE(std::isnan(e_bfmi(std::vector<double>{2.0, 2.0, 2.0})));
  EXPECT_TRUE(std::isnan(e_bfmi(std::vector<double>{1.0, NAN, 2.0})));
}

}  // namespace
}  // namespace trusty::mcmc
