#include "trusty/mcmc/sampler.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <exception>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <thread>

#include "chain_runner.hpp"
#include "trusty/core/kernels/parallel.hpp"

namespace trusty::mcmc {

namespace {
[[noreturn]] void bad(const std::string& field, const std::string& expected, const std::string& got) {
  throw std::invalid_argument("SamplerOptions." + field + ": expected " + expected + ", got " + got);
}
std::string str(double v) { return std::to_string(v); }
std::string str(int64_t v) { return std::to_string(v); }

void validate_adaptation(const SamplerOptions& o) {
  if (!(o.step_size > 0) || !std::isfinite(o.step_size)) bad("step_size", "a positive finite number", str(o.step_size));
  if (!(o.delta > 0 && o.delta < 1)) bad("delta", "a number in (0, 1)", str(o.delta));
  if (!(o.gamma > 0) || !std::isfinite(o.gamma)) bad("gamma", "a positive number", str(o.gamma));
  if (!(o.kappa > 0 && o.kappa <= 1)) bad("kappa", "a number in (0, 1]", str(o.kappa));
  if (!(o.t0 > 0) || !std::isfinite(o.t0)) bad("t0", "a positive number", str(o.t0));
  if (o.init_buffer < 0) bad("init_buffer", ">= 0", str(o.init_buffer));
  if (o.term_buffer < 0) bad("term_buffer", ">= 0", str(o.term_buffer));
  if (o.window < 1) bad("window", ">= 1", str(o.window));
}

void validate_algorithms(const SamplerOptions& o) {
  if (o.max_depth < 1 || o.max_depth > 30) bad("max_depth", "an integer in [1, 30]", str(int64_t{o.max_depth}));
  if (o.hmc_steps < 0) bad("hmc_steps", ">= 0 (0: use hmc_int_time)", str(o.hmc_steps));
  if (o.hmc_steps == 0 && (!(o.hmc_int_time > 0) || !std::isfinite(o.hmc_int_time)))
    bad("hmc_int_time", "a positive finite number", str(o.hmc_int_time));
  if (!(o.hmclet_eps_max >= 0) || !std::isfinite(o.hmclet_eps_max))
    bad("hmclet_eps_max", ">= 0 (0: adapted)", str(o.hmclet_eps_max));
  if (o.hmclet_L_max < 0) bad("hmclet_L_max", ">= 0 (0: learned in burn-in)", str(o.hmclet_L_max));
  if (o.hmclet_window < 2) bad("hmclet_window", ">= 2", str(o.hmclet_window));
  if (o.algorithm == "hmclet" && o.num_warmup == 0 && o.hmclet_eps_max == 0)
    bad("hmclet_eps_max", "> 0 when num_warmup = 0 (no burn-in to adapt it)", "0");
  if (o.algorithm == "hmclet" && o.num_warmup == 0 && o.hmclet_L_max == 0)
    bad("hmclet_L_max", ">= 1 when num_warmup = 0 (no burn-in to learn it)", "0");
  if (o.hmclet_update_every < 1) bad("hmclet_update_every", ">= 1", str(o.hmclet_update_every));
}
}  // namespace

void validate(const SamplerOptions& o, int64_t dim) {
  if (o.algorithm != "nuts" && o.algorithm != "hmc" && o.algorithm != "hmclet")
    bad("algorithm", "\"nuts\", \"hmc\" or \"hmclet\"", "\"" + o.algorithm + "\"");
  if (o.num_warmup < 0) bad("num_warmup", ">= 0", str(o.num_warmup));
  if (o.num_samples < 0) bad("num_samples", ">= 0", str(o.num_samples));
  if (o.num_warmup + o.num_samples < 1) bad("num_samples", "num_warmup + num_samples >= 1", str(o.num_samples));
  if (o.chains < 1) bad("chains", ">= 1", str(int64_t{o.chains}));
  if (o.threads < 0) bad("threads", ">= 0 (0: one per chain)", str(int64_t{o.threads}));
  parse_metric(o.metric, "SamplerOptions.metric");
  validate_adaptation(o);
  validate_algorithms(o);
  if (!(o.init_radius >= 0) || !std::isfinite(o.init_radius))
    bad("init_radius", "a finite number >= 0", str(o.init_radius));
  if (!o.init.empty() && static_cast<int64_t>(o.init.size()) != dim)
    bad("init", std::to_string(dim) + " values (the unconstrained dimension)", str(static_cast<int64_t>(o.init.size())));
  if (o.checkpoint_every < 0) bad("checkpoint_every", ">= 0", str(o.checkpoint_every));
  if (o.resume && o.checkpoint_path.empty()) bad("checkpoint_path", "a path when resume is set", "\"\"");
  if (o.inv_metric.size() > 0) {  // constructing a metric checks shape and definiteness
    const MetricKind k = o.algorithm == "hmclet" && o.hmclet_quasi_newton ? MetricKind::dense_e : parse_metric(o.metric);
    Metric m(k, dim);
    if (k == MetricKind::dense_e && o.inv_metric.cols() == 1)
      m.set_inv_diag(o.inv_metric.col(0), "SamplerOptions.inv_metric");
    else
      m.set_inv_metric(o.inv_metric, "SamplerOptions.inv_metric");
  }
}

std::vector<ChainDraws> sample(const LogDensity& density, const SamplerOptions& options, const ProgressFn& progress) {
  validate(options, density.dim());
  const int n = options.chains;
  const int threads =
      std::min(n, options.threads > 0 ? options.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency())));

  std::vector<std::unique_ptr<detail::ChainRunner>> runners(static_cast<size_t>(n));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(n));
  std::atomic<int> next{0};
  std::atomic<bool> stop{false};
  auto work = [&] {
    for (int c; (c = next.fetch_add(1)) < n;) {
      try {
        auto r = std::make_unique<detail::ChainRunner>(density, options, c);
        const std::string ckpt = options.checkpoint_path + ".chain" + std::to_string(c + 1);
        if (options.resume && std::filesystem::exists(ckpt))
          r->load(ckpt);
        else
          r->start();
        r->run(progress, stop);
        runners[static_cast<size_t>(c)] = std::move(r);
      } catch (...) {
        errors[static_cast<size_t>(c)] = std::current_exception();
        stop.store(true);
      }
    }
  };
  if (threads <= 1) {
    work();
  } else {
    // The chains fill the cores: the kernels' fork-join worker would only compete with them
    // (and spin after each job), so kernel-level parallelism is off while they run. (It
    // would not deadlock: a fork-join that finds the worker busy runs inline.)
    struct KernelThreads {
      int saved = core::kernels::parallel_threads();
      KernelThreads() { core::kernels::set_parallel_threads(1); }
      ~KernelThreads() { core::kernels::set_parallel_threads(saved); }
    } serial_kernels;
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) pool.emplace_back(work);
    for (auto& t : pool) t.join();
  }
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
  std::vector<ChainDraws> out;
  for (auto& r : runners) out.push_back(r->result());
  return out;
}

}  // namespace trusty::mcmc
