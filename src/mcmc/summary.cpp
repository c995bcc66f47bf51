#include "trusty/mcmc/summary.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <span>
#include <stdexcept>

#include "trusty/mcmc/diagnostics.hpp"

namespace trusty::mcmc {
namespace {

using Eigen::MatrixXd;

std::string chain_label(const ChainDraws& c, size_t index) {
  return "chain " + std::to_string(index + 1) + " (id " + std::to_string(c.chain_id) + ")";
}

void check_chain(const ChainDraws& c, size_t index) {
  const auto n = static_cast<size_t>(c.params.rows());
  const std::string where = "summarize: " + chain_label(c, index);
  if (static_cast<size_t>(c.params.cols()) != c.param_names.size())
    throw std::invalid_argument(where + ": " + std::to_string(c.params.cols()) +
                                " parameter columns but " + std::to_string(c.param_names.size()) +
                                " names");
  const std::pair<const char*, size_t> columns[] = {
      {"lp__", c.lp.size()},           {"accept_stat__", c.accept_stat.size()},
      {"stepsize__", c.stepsize.size()}, {"treedepth__", c.treedepth.size()},
      {"n_leapfrog__", c.n_leapfrog.size()}, {"divergent__", c.divergent.size()},
      {"energy__", c.energy.size()}};
  for (const auto& [name, size] : columns)
    if (size != n)
      throw std::invalid_argument(where + ": column " + name + " has " + std::to_string(size) +
                                  " draws, the parameters have " + std::to_string(n));
  if (c.n_warmup_saved < 0 || static_cast<size_t>(c.n_warmup_saved) > n)
    throw std::invalid_argument(where + ": n_warmup_saved = " + std::to_string(c.n_warmup_saved) +
                                " is outside [0, " + std::to_string(n) + "]");
}

void check_chains(const std::vector<ChainDraws>& chains) {
  if (chains.empty()) throw std::invalid_argument("summarize: no chains");
  for (size_t k = 0; k < chains.size(); ++k) {
    check_chain(chains[k], k);
    const ChainDraws& c = chains[k];
    if (c.param_names != chains[0].param_names)
      throw std::invalid_argument("summarize: " + chain_label(c, k) +
                                  " has other parameter names than chain 1");
    const int64_t kept = c.n_draws() - c.n_warmup_saved;
    const int64_t kept0 = chains[0].n_draws() - chains[0].n_warmup_saved;
    if (kept != kept0)
      throw std::invalid_argument("summarize: " + chain_label(c, k) + " has " +
                                  std::to_string(kept) + " post-warmup draws, chain 1 has " +
                                  std::to_string(kept0));
  }
}

// Post-warmup draws of column `col` (−1: lp__) as an iterations × chains matrix.
MatrixXd quantity(const std::vector<ChainDraws>& chains, Eigen::Index col) {
  const Eigen::Index n = chains[0].n_draws() - chains[0].n_warmup_saved;
  MatrixXd x(n, static_cast<Eigen::Index>(chains.size()));
  for (size_t k = 0; k < chains.size(); ++k) {
    const ChainDraws& c = chains[k];
    const auto j = static_cast<Eigen::Index>(k);
    if (col < 0)
      for (Eigen::Index i = 0; i < n; ++i) x(i, j) = c.lp[static_cast<size_t>(c.n_warmup_saved + i)];
    else
      x.col(j) = c.params.col(col).tail(n);
  }
  return x;
}

// R's quantile(type = 7) of sorted values.
double quantile_sorted(const std::vector<double>& s, double p) {
  const double index = static_cast<double>(s.size() - 1) * p;
  const auto lo = static_cast<size_t>(std::floor(index));
  const double h = index - std::floor(index);
  return h > 0 && s[lo + 1] != s[lo] ? (1 - h) * s[lo] + h * s[lo + 1] : s[lo];
}

// R's median of unsorted values (the vector is reordered).
double median_of(std::vector<double>& v) {
  const size_t h = v.size() / 2;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h), v.end());
  if (v.size() % 2 == 1) return v[h];
  const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(h));
  return (static_cast<long double>(lower) + v[h]) / 2;
}

ParameterSummary summarize_quantity(std::string name, const MatrixXd& x) {
  ParameterSummary p;
  p.name = std::move(name);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double n = static_cast<double>(x.size());
  p.mean = x.mean();
  p.sd = n > 1 ? std::sqrt((x.array() - p.mean).square().sum() / (n - 1)) : nan;
  if (x.hasNaN() || x.size() == 0) {  // R: median, mad and quantile2 give NA
    p.median = p.mad = p.q5 = p.q95 = nan;
  } else {
    std::vector<double> s(x.data(), x.data() + x.size());
    std::sort(s.begin(), s.end());
    p.median = quantile_sorted(s, 0.5);
    p.q5 = quantile_sorted(s, 0.05);
    p.q95 = quantile_sorted(s, 0.95);
    for (double& v : s) v = std::abs(v - p.median);
    p.mad = 1.4826 * median_of(s);  // R's mad: consistent for the normal sd
  }
  const ConvergenceDiagnostics d = convergence_diagnostics(x);
  p.rhat = d.rhat;
  p.ess_bulk = d.ess_bulk;
  p.ess_tail = d.ess_tail;
  p.mcse_mean = d.mcse_mean;
  p.mcse_sd = d.mcse_sd;
  return p;
}

ChainSummary summarize_chain(const ChainDraws& c, int max_treedepth) {
  ChainSummary s;
  s.chain_id = c.chain_id;
  const auto first = static_cast<size_t>(c.n_warmup_saved);
  s.n_draws = c.n_draws() - c.n_warmup_saved;
  double accept = 0;
  for (size_t i = first; i < c.lp.size(); ++i) {
    s.divergences += c.divergent[i] != 0;
    s.max_treedepth_hits += c.treedepth[i] >= max_treedepth;
    accept += c.accept_stat[i];
  }
  s.mean_accept_stat = s.n_draws > 0 ? accept / static_cast<double>(s.n_draws)
                                     : std::numeric_limits<double>::quiet_NaN();
  s.e_bfmi = e_bfmi(std::span<const double>(c.energy).subspan(first));
  s.step_size = c.step_size;
  s.gradient_evaluations = c.gradient_evaluations;
  s.seconds_warmup = c.seconds_warmup;
  s.seconds_sampling = c.seconds_sampling;
  return s;
}

std::string percent_of(int64_t count, int64_t total) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "%lld of %lld (%.1f%%)", static_cast<long long>(count),
                static_cast<long long>(total),
                total > 0 ? 100.0 * static_cast<double>(count) / static_cast<double>(total) : 0.0);
  return buf;
}

std::string name_list(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += "  " + n + "\n";
  return out;
}

void sampler_warnings(Summary& s) {
  int64_t total = 0, divergent = 0, saturated = 0;
  for (const ChainSummary& c : s.chains) {
    total += c.n_draws;
    divergent += c.divergences;
    saturated += c.max_treedepth_hits;
  }
  if (divergent > 0)
    s.warnings.push_back(percent_of(divergent, total) +
                         " transitions ended with a divergence.\nThese divergent transitions "
                         "indicate that HMC is not fully able to explore the posterior "
                         "distribution.\nTry increasing adapt delta closer to 1.\nIf this doesn't "
                         "remove all divergences, try to reparameterize the model.");
  if (saturated > 0)
    s.warnings.push_back(percent_of(saturated, total) +
                         " transitions hit the maximum treedepth limit of " +
                         std::to_string(s.max_treedepth) +
                         ".\nTrajectories that are prematurely terminated due to this limit will "
                         "result in slow exploration.\nFor optimal performance, increase this "
                         "limit.");
  for (const ChainSummary& c : s.chains) {
    if (!(c.e_bfmi < kEbfmiThreshold)) continue;
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.2f", c.e_bfmi);
    s.warnings.push_back("Chain " + std::to_string(c.chain_id) + ": The E-BFMI, " + buf +
                         ", is below the nominal threshold of 0.30 which suggests that HMC may "
                         "have trouble exploring the target distribution.\nIf possible, try to "
                         "reparameterize the model.");
  }
}

void convergence_warnings(Summary& s) {
  std::vector<std::string> bad_rhat, bad_ess;
  for (const ParameterSummary& p : s.parameters) {
    // NaN (e.g. a constant quantity) is not flagged, as in stansummary.
    if (p.rhat >= kRhatThreshold) bad_rhat.push_back(p.name);
    if (p.ess_bulk < kEssThreshold || p.ess_tail < kEssThreshold) bad_ess.push_back(p.name);
  }
  if (!bad_ess.empty())
    s.warnings.push_back("The following parameters had fewer than 400 effective draws (bulk or "
                         "tail ESS):\n" + name_list(bad_ess) +
                         "Such low values indicate that the posterior mean and quantile "
                         "estimates are unreliable; run longer chains or improve the "
                         "parameterization.");
  if (!bad_rhat.empty())
    s.warnings.push_back("The following parameters had rank-normalized split R-hat greater than "
                         "or equal to 1.01:\n" + name_list(bad_rhat) +
                         "Such high values indicate incomplete mixing and biased estimation.\nYou "
                         "should consider regularizing your model with additional prior "
                         "information or a more effective parameterization.");
}

}  // namespace

Summary summarize(const std::vector<ChainDraws>& chains, int max_treedepth) {
  check_chains(chains);
  Summary s;
  s.max_treedepth = max_treedepth;
  s.n_draws_per_chain = chains[0].n_draws() - chains[0].n_warmup_saved;
  s.parameters.push_back(summarize_quantity("lp__", quantity(chains, -1)));
  for (size_t j = 0; j < chains[0].param_names.size(); ++j)
    s.parameters.push_back(
        summarize_quantity(chains[0].param_names[j], quantity(chains, static_cast<Eigen::Index>(j))));
  for (const ChainDraws& c : chains) s.chains.push_back(summarize_chain(c, max_treedepth));
  sampler_warnings(s);
  convergence_warnings(s);
  return s;
}

}  // namespace trusty::mcmc
