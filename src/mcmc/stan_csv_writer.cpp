#include <charconv>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>

#include "trusty/mcmc/stan_csv.hpp"

namespace trusty::mcmc {
namespace {

// Shortest decimal text that reads back to the same double ("inf", "-inf" included).
std::string shortest(double v) {
  if (std::isnan(v)) return "nan";  // as CmdStan writes it, whatever the sign bit
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, end);
}

std::optional<std::string> config_value(const ChainDraws& c, const std::string& key) {
  for (const auto& [k, v] : c.config)
    if (k == key) return v;
  return std::nullopt;
}

int64_t config_int(const ChainDraws& c, const std::string& key, int64_t fallback) {
  const auto v = config_value(c, key);
  if (!v) return fallback;
  int64_t out = 0;
  const auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  if (ec != std::errc() || end != v->data() + v->size())
    throw std::invalid_argument("write_stan_csv: config " + key + " = '" + *v +
                                "' is not an integer");
  return out;
}

void check_lengths(const ChainDraws& c) {
  const auto n = static_cast<size_t>(c.params.rows());
  const size_t sizes[] = {c.lp.size(),        c.accept_stat.size(), c.stepsize.size(),
                          c.treedepth.size(), c.n_leapfrog.size(),  c.divergent.size(),
                          c.energy.size()};
  for (const size_t s : sizes)
    if (s != n)
      throw std::invalid_argument("write_stan_csv: a sampler column has " + std::to_string(s) +
                                  " draws, the parameters have " + std::to_string(n));
  if (static_cast<size_t>(c.params.cols()) != c.param_names.size())
    throw std::invalid_argument("write_stan_csv: " + std::to_string(c.params.cols()) +
                                " parameter columns but " + std::to_string(c.param_names.size()) +
                                " names");
  if (c.n_warmup_saved < 0 || static_cast<size_t>(c.n_warmup_saved) > n)
    throw std::invalid_argument("write_stan_csv: n_warmup_saved = " +
                                std::to_string(c.n_warmup_saved) + " is outside [0, " +
                                std::to_string(n) + "]");
}

// Names and config text must not break the line structure: no line breaks anywhere, no ','
// in a column name, no '=' in a config key (readers split the comment at the first '='; a
// value may hold one, as CmdStan's stancflags can).
void check_text(const ChainDraws& c) {
  const auto bad = [](const std::string& s, std::string_view forbidden) {
    return s.find_first_of(forbidden) != std::string::npos;
  };
  for (const auto& name : c.param_names)
    if (name.empty() || bad(name, ",\r\n"))
      throw std::invalid_argument("write_stan_csv: parameter name '" + name +
                                  "' is empty or contains ',' or a line break");
  for (const auto& [key, value] : c.config)
    if (key.empty() || bad(key, "=\r\n") || bad(value, "\r\n"))
      throw std::invalid_argument("write_stan_csv: config entry '" + key + " = " + value +
                                  "' cannot be written as a '# key = value' comment");
  if (bad(c.metric, "=\r\n ,"))
    throw std::invalid_argument("write_stan_csv: metric '" + c.metric + "' is not a metric name");
}

// Rows kept from `iterations` iterations thinned by `thin`, as rstan and CmdStan count them.
int64_t kept(int64_t iterations, int64_t thin) { return iterations <= 0 ? 0 : 1 + (iterations - 1) / thin; }

// num_samples, num_warmup, thin: from the config if given (and consistent), else derived.
struct Counts {
  int64_t num_samples, num_warmup, thin;
};
Counts iteration_counts(const ChainDraws& c) {
  const int64_t post = c.n_draws() - c.n_warmup_saved;
  Counts k{0, 0, config_int(c, "thin", 1)};
  if (k.thin < 1) throw std::invalid_argument("write_stan_csv: thin must be at least 1");
  k.num_samples = config_int(c, "num_samples", post * k.thin);
  k.num_warmup = config_int(c, "num_warmup", c.n_warmup_saved * k.thin);
  if (kept(k.num_samples, k.thin) != post)
    throw std::invalid_argument("write_stan_csv: num_samples = " + std::to_string(k.num_samples) +
                                " and thin = " + std::to_string(k.thin) + " give " +
                                std::to_string(kept(k.num_samples, k.thin)) +
                                " draws, the chain has " + std::to_string(post));
  if (c.n_warmup_saved > 0 && kept(k.num_warmup, k.thin) != c.n_warmup_saved)
    throw std::invalid_argument("write_stan_csv: num_warmup = " + std::to_string(k.num_warmup) +
                                " and thin = " + std::to_string(k.thin) + " give " +
                                std::to_string(kept(k.num_warmup, k.thin)) +
                                " warmup draws, the chain saved " +
                                std::to_string(c.n_warmup_saved));
  return k;
}

// The configuration comments in CmdStan's tree; keys of the tree are taken from the config
// when present, and the remaining config pairs follow, flat.
void write_config(std::ostream& out, const ChainDraws& c) {
  const Counts k = iteration_counts(c);
  std::set<std::string> written;
  const auto line = [&](int depth, const std::string& key, const std::string& fallback) {
    out << "# " << std::string(size_t(2 * depth), ' ') << key << " = "
        << config_value(c, key).value_or(fallback) << "\n";
    written.insert(key);
  };
  const auto optional_line = [&](int depth, const std::string& key) {
    if (config_value(c, key)) line(depth, key, "");
  };
  const auto section = [&](int depth, const char* name) {
    out << "# " << std::string(size_t(2 * depth), ' ') << name << "\n";
  };
  line(0, "model", "trusty_model");
  line(0, "method", "sample");
  section(1, "sample");
  out << "#     num_samples = " << k.num_samples << "\n#     num_warmup = " << k.num_warmup
      << "\n#     save_warmup = " << (c.n_warmup_saved > 0 ? 1 : 0) << "\n#     thin = " << k.thin
      << "\n";
  written.insert({"num_samples", "num_warmup", "save_warmup", "thin", "id", "metric",
                  "gradient_evaluations"});
  section(2, "adapt");
  line(3, "engaged", c.step_size > 0 ? "1" : "0");  // the adaptation block is written iff 1
  for (const char* key : {"gamma", "delta", "kappa", "t0", "init_buffer", "term_buffer", "window"})
    optional_line(3, key);
  line(2, "algorithm", "hmc");
  section(3, "hmc");
  line(4, "engine", "nuts");
  section(5, "nuts");
  line(6, "max_depth", "10");
  out << "#         metric = " << c.metric << "\n";
  for (const char* key : {"stepsize", "stepsize_jitter"}) optional_line(4, key);
  out << "# id = " << c.chain_id << "\n";
  if (config_value(c, "seed")) {
    section(0, "random");
    line(1, "seed", "");
  }
  for (const auto& [key, value] : c.config)
    if (!written.count(key)) out << "# " << key << " = " << value << "\n";
  out << "# gradient_evaluations = " << c.gradient_evaluations << "\n";
}

void write_row(std::ostream& out, const ChainDraws& c, Eigen::Index i) {
  const auto r = static_cast<size_t>(i);
  out << shortest(c.lp[r]) << ',' << shortest(c.accept_stat[r]) << ',' << shortest(c.stepsize[r])
      << ',' << c.treedepth[r] << ',' << c.n_leapfrog[r] << ',' << c.divergent[r] << ','
      << shortest(c.energy[r]);
  for (Eigen::Index j = 0; j < c.params.cols(); ++j) out << ',' << shortest(c.params(i, j));
  out << '\n';
}

void write_adaptation(std::ostream& out, const ChainDraws& c) {
  out << "# Adaptation terminated\n# Step size = " << shortest(c.step_size) << "\n";
  const Eigen::MatrixXd& m = c.inv_metric;
  if (c.metric == "unit_e" || m.size() == 0) {
    out << "# No free parameters for unit metric\n";
    return;
  }
  const bool dense = c.metric == "dense_e";
  out << (dense ? "# Elements of inverse mass matrix:\n" : "# Diagonal elements of inverse mass matrix:\n");
  const Eigen::Index rows = dense ? m.rows() : 1;
  for (Eigen::Index i = 0; i < rows; ++i) {
    out << "# ";
    const Eigen::Index n = dense ? m.cols() : m.size();
    for (Eigen::Index j = 0; j < n; ++j)
      out << (j ? ", " : "") << shortest(dense ? m(i, j) : m.data()[j]);
    out << "\n";
  }
}

void write_timing(std::ostream& out, const ChainDraws& c) {
  char buf[256];
  std::snprintf(buf, sizeof buf,
                "# \n#  Elapsed Time: %.6f seconds (Warm-up)\n#                %.6f seconds "
                "(Sampling)\n#                %.6f seconds (Total)\n# \n",
                c.seconds_warmup, c.seconds_sampling, c.seconds_warmup + c.seconds_sampling);
  out << buf;
}

void write_chain(std::ostream& out, const ChainDraws& chain) {
  write_config(out, chain);
  out << "lp__,accept_stat__,stepsize__,treedepth__,n_leapfrog__,divergent__,energy__";
  for (const auto& name : chain.param_names) out << ',' << name;
  out << '\n';
  for (Eigen::Index i = 0; i < chain.n_warmup_saved; ++i) write_row(out, chain, i);
  if (chain.step_size > 0) write_adaptation(out, chain);
  for (Eigen::Index i = chain.n_warmup_saved; i < chain.n_draws(); ++i) write_row(out, chain, i);
  write_timing(out, chain);
}

}  // namespace

void write_stan_csv(const std::filesystem::path& path, const ChainDraws& chain) {
  check_lengths(chain);
  check_text(chain);
  iteration_counts(chain);  // throws before any file is touched
  const std::filesystem::path tmp =
      path.string() + ".tmp." + std::to_string(static_cast<long>(::getpid()));
  std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
  if (!out) throw std::runtime_error("write_stan_csv: cannot open " + tmp.string() + " for writing");
  write_chain(out, chain);
  out.close();
  if (!out) {
    std::error_code ignored;
    std::filesystem::remove(tmp, ignored);
    throw std::runtime_error("write_stan_csv: writing " + tmp.string() + " failed");
  }
  std::filesystem::rename(tmp, path);
}

}  // namespace trusty::mcmc
