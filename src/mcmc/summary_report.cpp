// Rendering a Summary: the stansummary-like text table and summary.json.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <string>

#include "trusty/mcmc/summary.hpp"

namespace trusty::mcmc {
namespace {

template <typename... Args>
std::string format(const char* pattern, Args... args) {
  char buf[256];
  std::snprintf(buf, sizeof buf, pattern, args...);
  return buf;
}

// A number right-aligned in 10 columns: 4 significant digits, "nan" when undefined.
std::string cell(double v) { return std::isnan(v) ? format("%10s", "nan") : format("%10.4g", v); }
std::string count_cell(double v) { return std::isnan(v) ? format("%10s", "nan") : format("%10.0f", v); }

std::string parameter_table(const Summary& s) {
  size_t width = 4;  // the longest name, then two spaces
  for (const auto& p : s.parameters) width = std::max(width, p.name.size());
  const int w = static_cast<int>(width) + 2;
  std::string out = format("%-*s", w, "");
  for (const char* h : {"Mean", "MCSE", "StdDev", "MAD", "5%", "50%", "95%", "ESS_bulk",
                        "ESS_tail", "R_hat"})
    out += format("%10s", h);
  out += "\n";
  for (const auto& p : s.parameters) {
    out += format("%-*s", w, p.name.c_str());
    for (const double v : {p.mean, p.mcse_mean, p.sd, p.mad, p.q5, p.median, p.q95}) out += cell(v);
    out += count_cell(p.ess_bulk) + count_cell(p.ess_tail);
    out += std::isnan(p.rhat) ? format("%10s", "nan") : format("%10.3f", p.rhat);
    out += "\n";
  }
  return out;
}

std::string chain_table(const Summary& s) {
  std::string out = format("%6s%8s%11s%11s%8s%8s%11s%11s%10s%10s\n", "chain", "draws", "divergent",
                           "max_depth", "E-BFMI", "accept", "step_size", "gradients", "warmup_s",
                           "sample_s");
  for (const auto& c : s.chains)
    out += format("%6d%8lld%11lld%11lld%8.3f%8.3f%11.4g%11lld%10.3g%10.3g\n", c.chain_id,
                  static_cast<long long>(c.n_draws), static_cast<long long>(c.divergences),
                  static_cast<long long>(c.max_treedepth_hits), c.e_bfmi, c.mean_accept_stat,
                  c.step_size, static_cast<long long>(c.gradient_evaluations), c.seconds_warmup,
                  c.seconds_sampling);
  return out;
}

// NaN and ±Inf are not JSON numbers: they become null.
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace

std::string format_summary(const Summary& s) {
  const auto n_chains = static_cast<long long>(s.chains.size());
  std::string out = format("%lld chains, %lld post-warmup draws each (%lld in all).\n\n", n_chains,
                           static_cast<long long>(s.n_draws_per_chain),
                           n_chains * static_cast<long long>(s.n_draws_per_chain));
  out += parameter_table(s) + "\n" + chain_table(s) + "\n";
  out += "MCSE is that of the mean; ESS_bulk and ESS_tail are rank-normalized, R_hat is the "
         "maximum of rank-normalized split bulk and folded tail R-hat (Vehtari et al. 2021).\n\n";
  if (s.warnings.empty()) return out + "Processing complete, no problems detected.\n";
  for (const auto& w : s.warnings) out += w + "\n\n";
  return out;
}

nlohmann::json to_json(const Summary& s) {
  nlohmann::json j;
  j["n_chains"] = s.chains.size();
  j["n_draws_per_chain"] = s.n_draws_per_chain;
  j["max_treedepth"] = s.max_treedepth;
  j["parameters"] = nlohmann::json::array();
  for (const auto& p : s.parameters)
    j["parameters"].push_back({{"name", p.name},           {"mean", number(p.mean)},
                               {"median", number(p.median)}, {"sd", number(p.sd)},
                               {"mad", number(p.mad)},       {"q5", number(p.q5)},
                               {"q95", number(p.q95)},       {"rhat", number(p.rhat)},
                               {"ess_bulk", number(p.ess_bulk)}, {"ess_tail", number(p.ess_tail)},
                               {"mcse_mean", number(p.mcse_mean)}, {"mcse_sd", number(p.mcse_sd)}});
  j["chains"] = nlohmann::json::array();
  for (const auto& c : s.chains)
    j["chains"].push_back({{"chain_id", c.chain_id},
                           {"n_draws", c.n_draws},
                           {"divergences", c.divergences},
                           {"max_treedepth_hits", c.max_treedepth_hits},
                           {"e_bfmi", number(c.e_bfmi)},
                           {"mean_accept_stat", number(c.mean_accept_stat)},
                           {"step_size", number(c.step_size)},
                           {"gradient_evaluations", c.gradient_evaluations},
                           {"seconds_warmup", number(c.seconds_warmup)},
                           {"seconds_sampling", number(c.seconds_sampling)}});
  j["warnings"] = s.warnings;
  return j;
}

}  // namespace trusty::mcmc
