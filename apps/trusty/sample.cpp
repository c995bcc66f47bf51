// `trusty sample CONFIG.toml --out DIR`: draws from a posterior with NUTS, static HMC or the
// HMCLET-style sampler, and writes DIR/chain_<k>.csv (Stan CSV, one per chain),
// DIR/summary.json (R̂, ESS, MCSE, divergences, E-BFMI), DIR/results.json and, for a Bayesian
// network, DIR/predictive.npz. A checkpoint per chain (DIR/checkpoint.chain<k>) lets --resume
// continue a killed run bit-identically. See docs/sample.md for the keys.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <mutex>

#include "commands.hpp"
#include "run_dir.hpp"
#include "sample_setup.hpp"
#include "trusty/mcmc/stan_csv.hpp"
#include "trusty/mcmc/summary.hpp"

namespace trusty::apps {

namespace fs = std::filesystem;

namespace {

// One line on stderr: every chain's iteration, redrawn at most 5 times a second on a terminal,
// every 10 % otherwise (logs stay short).
class ChainProgress {
 public:
  ChainProgress(bool on, int chains, int64_t total)
      : on_(on), tty_(isatty(STDERR_FILENO)), total_(total), done_(static_cast<size_t>(chains)) {}
  bool update(int chain, int64_t it) {
    if (!on_) return true;
    done_[static_cast<size_t>(chain)].store(it, std::memory_order_relaxed);
    std::unique_lock<std::mutex> l(m_, std::try_to_lock);
    if (!l.owns_lock()) return true;
    int64_t sum = 0;
    for (auto& d : done_) sum += d.load(std::memory_order_relaxed);
    const int64_t all = total_ * static_cast<int64_t>(done_.size());
    const auto now = std::chrono::steady_clock::now();
    if (tty_) {
      if (now - last_ < std::chrono::milliseconds(200) && sum != all) return true;
      last_ = now;
      std::string s = "\rsampling";
      for (size_t c = 0; c < done_.size(); ++c)
        s += "  chain " + std::to_string(c + 1) + " " + std::to_string(done_[c].load()) + "/" + std::to_string(total_);
      std::fprintf(stderr, "%s", s.c_str());
    } else {
      const int64_t tenth = all > 0 ? 10 * sum / all : 10;
      if (tenth <= printed_) return true;
      printed_ = tenth;
      std::fprintf(stderr, "sampling: %ld %% of %ld iterations\n", static_cast<long>(10 * tenth), static_cast<long>(all));
    }
    std::fflush(stderr);
    return true;
  }
  void done() {
    if (on_ && tty_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool on_, tty_;
  int64_t total_;
  std::vector<std::atomic<int64_t>> done_;
  std::mutex m_;
  std::chrono::steady_clock::time_point last_{};
  int64_t printed_ = 0;
};

nlohmann::json sampler_json(const mcmc::SamplerOptions& o) {
  return {{"algorithm", o.algorithm}, {"chains", o.chains},       {"num_warmup", o.num_warmup},
          {"num_samples", o.num_samples}, {"seed", o.seed},       {"metric", o.metric},
          {"max_depth", o.max_depth},     {"delta", o.delta},     {"threads", o.threads}};
}

}  // namespace

nlohmann::json run_sample(const SampleSpec& spec, const std::string& out, bool resume, bool verbose) {
  fs::create_directories(out);
  auto model = build_target(spec, verbose);
  auto opt = spec.sampler;
  opt.checkpoint_path = out + "/checkpoint";
  opt.resume = resume;
  if (opt.init.empty() && !model.init.empty()) opt.init = model.init;
  if (opt.inv_metric.size() == 0 && model.inv_metric.size() > 0) {
    if (opt.metric == "dense_e") opt.inv_metric = model.inv_metric;
    if (opt.metric == "diag_e") opt.inv_metric = model.inv_metric.diagonal();
  }
  ChainProgress bar(verbose, opt.chains, opt.num_warmup + opt.num_samples);
  const auto t0 = std::chrono::steady_clock::now();
  auto chains = mcmc::sample(*model.density, opt, [&](int c, int64_t it, int64_t) { return bar.update(c, it); });
  bar.done();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  for (auto& ch : chains) {
    ch.config.insert(ch.config.begin(), {"model", spec.target_kind});
    write_stan_csv(out + "/chain_" + std::to_string(ch.chain_id) + ".csv", ch);
  }
  auto summary = mcmc::summarize(chains, opt.max_depth);
  write_json(out + "/summary.json", mcmc::to_json(summary));
  if (verbose) std::fprintf(stderr, "%s", mcmc::format_summary(summary).c_str());

  nlohmann::json r;
  r["command"] = "sample";
  r["config"] = fs::absolute(spec.config_path).string();
  r["target"] = spec.target_kind;
  r["dimension"] = model.density->dim();
  r["sampler"] = sampler_json(opt);
  int64_t grads = 0, divergent = 0;
  double sampling_seconds = 0;
  for (const auto& c : chains) {
    grads += c.gradient_evaluations;
    sampling_seconds += c.seconds_warmup + c.seconds_sampling;
  }
  for (const auto& c : summary.chains) divergent += c.divergences;
  r["gradient_evaluations"] = grads;
  // Per chain-second (each chain's warmup + sampling time, summed): the rate of one chain, the
  // figure to compare with another sampler's single chain; the wall-clock rate of the whole
  // run (chains in parallel, start and output included) is beside it.
  r["gradient_evaluations_per_second"] = sampling_seconds > 0 ? static_cast<double>(grads) / sampling_seconds : 0.0;
  r["gradient_evaluations_per_wall_second"] = seconds > 0 ? static_cast<double>(grads) / seconds : 0.0;
  r["divergences"] = divergent;
  r["wall_seconds"] = seconds;
  double max_rhat = 0, min_ess = 1e300;
  for (const auto& p : summary.parameters) {
    if (std::isfinite(p.rhat)) max_rhat = std::max(max_rhat, p.rhat);
    if (std::isfinite(p.ess_bulk)) min_ess = std::min(min_ess, std::min(p.ess_bulk, p.ess_tail));
  }
  r["max_rhat"] = max_rhat;
  r["min_ess"] = min_ess;
  r["warnings"] = summary.warnings;
  r["files"] = {"chain_*.csv", "summary.json"};
  if (model.after) {
    auto extra = model.after(chains, out);
    for (auto& [k, v] : extra.items()) r[k] = v;
  }
  write_results(out, r);
  return r;
}

int run_sample_cmd(const std::string& config, const std::string& out, bool resume, bool quiet) {
  auto root = io::Config::load(config);
  SampleSpec spec = parse_sample(root);
  fs::create_directories(out);
  if (fs::absolute(config) != fs::absolute(out + "/config.toml"))
    fs::copy_file(config, out + "/config.toml", fs::copy_options::overwrite_existing);
  auto r = run_sample(spec, out, resume, !quiet);
  std::printf("%s\n", r.dump(2).c_str());
  if (!quiet) std::fprintf(stderr, "trusty: wrote %s/{chain_*.csv,summary.json,results.json}\n", out.c_str());
  return 0;
}

void register_sample(CLI::App& app) {
  auto* cmd = app.add_subcommand("sample", "Sample a posterior (NUTS, HMC, HMCLET) that a TOML config describes");
  static std::string config, out;
  static bool resume = false, quiet = false;
  cmd->add_option("config", config, "TOML config (see docs/sample.md)")->required();
  cmd->add_option("--out", out, "Directory for chain_*.csv, summary.json, results.json")->required();
  cmd->add_flag("--resume", resume, "Continue from DIR/checkpoint.chain* if they exist");
  cmd->add_flag("--quiet", quiet, "No progress output");
  cmd->callback([] { run_sample_cmd(config, out, resume, quiet); });
}

}  // namespace trusty::apps
