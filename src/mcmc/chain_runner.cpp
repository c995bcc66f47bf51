#include "chain_runner.hpp"

#include <chrono>
#include <cmath>
#include <limits>
#include <stdexcept>

namespace trusty::mcmc::detail {

namespace {
MetricKind runner_metric(const SamplerOptions& o) {
  // The quasi-Newton preconditioner is a dense inverse Hessian estimate.
  return o.algorithm == "hmclet" && o.hmclet_quasi_newton ? MetricKind::dense_e : parse_metric(o.metric);
}

std::string describe_nonfinite(double lp, const Eigen::Ref<const Eigen::VectorXd>& g) {
  if (!std::isfinite(lp)) return "the log density is " + std::to_string(lp);
  for (int64_t i = 0; i < g.size(); ++i)
    if (!std::isfinite(g[i])) return "gradient element " + std::to_string(i + 1) + " is " + std::to_string(g[i]);
  return "the log density threw std::domain_error";
}
}  // namespace

ChainRunner::ChainRunner(const LogDensity& density, const SamplerOptions& options, int chain)
    : density_(density), o_(options), chain_(chain), dim_(density.dim()), cdim_(density.constrained_dim()),
      total_(options.num_warmup + options.num_samples), rng_(options.seed, static_cast<uint64_t>(chain)),
      metric_(runner_metric(options), density.dim()), ham_(density, metric_), z_(density.dim()),
      constrained_(static_cast<size_t>(density.constrained_dim())) {
  if (o_.inv_metric.size() > 0) {
    if (metric_.kind() == MetricKind::dense_e && o_.inv_metric.cols() == 1)
      metric_.set_inv_dense(o_.inv_metric.col(0).asDiagonal().toDenseMatrix(), "inv_metric");
    else
      metric_.set_inv_metric(o_.inv_metric, "inv_metric");
  }
  da_.delta = o_.delta, da_.gamma = o_.gamma, da_.kappa = o_.kappa, da_.t0 = o_.t0;
  wa_ = WindowedAdaptation(metric_.kind(), dim_, o_.num_warmup, o_.init_buffer, o_.term_buffer, o_.window);
  if (o_.algorithm == "nuts") nuts_.emplace(ham_, o_.max_depth);
  if (o_.algorithm == "hmc") hmc_.emplace(ham_, o_.hmc_steps, o_.hmc_int_time);
  if (o_.algorithm == "hmclet")
    hmclet_.emplace(ham_, HmcletSettings{.eps_max = o_.hmclet_eps_max, .L_max = o_.hmclet_L_max,
                                         .window = o_.hmclet_window, .update_every = o_.hmclet_update_every,
                                         .quasi_newton = o_.hmclet_quasi_newton, .delta = o_.delta,
                                         .num_warmup = o_.num_warmup, .term_buffer = o_.term_buffer});
}

namespace {
// What is not finite at theta (one more evaluation, for the error message only).
std::string describe_problem(const LogDensity& density, const Eigen::VectorXd& theta) {
  std::vector<double> g(static_cast<size_t>(theta.size()));
  try {
    const double lp = density.log_density_and_gradient(std::span<const double>(theta.data(), g.size()), g);
    return describe_nonfinite(lp, Eigen::Map<Eigen::VectorXd>(g.data(), theta.size()));
  } catch (const std::domain_error& e) {
    return std::string("the log density threw: ") + e.what();
  }
}
}  // namespace

void ChainRunner::initialize_point() {
  const std::string who = "sample: chain " + std::to_string(chain_ + 1) + ": ";
  constexpr double kNegInf = -std::numeric_limits<double>::infinity();
  if (!o_.init.empty()) {
    z_.q = Eigen::Map<const Eigen::VectorXd>(o_.init.data(), dim_);
    ham_.update(z_);
    if (z_.lp == kNegInf) throw std::invalid_argument(who + "init: at the initial point " + describe_problem(density_, z_.q));
    return;
  }
  for (int attempt = 0; attempt < 100; ++attempt) {
    for (int64_t i = 0; i < dim_; ++i) z_.q[i] = rng_.uniform(-o_.init_radius, o_.init_radius);
    ham_.update(z_);
    if (z_.lp != kNegInf) return;
  }
  throw std::invalid_argument(who + "no initial point with a finite log density and gradient in 100 random draws "
                              "uniform(-" + std::to_string(o_.init_radius) + ", " + std::to_string(o_.init_radius) +
                              ") on the unconstrained space (at the last, " + describe_problem(density_, z_.q) +
                              "); check the model or give init");
}

void ChainRunner::start() {
  initialize_point();
  eps_ = o_.step_size;
  if (o_.num_warmup > 0) {
    if (hmclet_) {
      hmclet_->initialize(z_, rng_);
    } else {
      da_.mu = std::log(10 * o_.step_size);  // set before the heuristic, as Stan's services do
      eps_ = find_initial_step_size(ham_, z_, eps_, rng_);
    }
  } else {
    end_warmup();
  }
}

void ChainRunner::end_warmup() {
  if (hmclet_) {
    hmclet_->end_warmup();
    eps_ = hmclet_->eps_max();
  } else if (o_.num_warmup > 0 && da_.counter > 0) {
    // exp(x̄); but when a metric window ended on the last warmup iteration (term_buffer = 0)
    // dual averaging was just restarted, x̄ = 0, and Stan would return ε = 1 (stan-dev/stan
    // pull request 3345): keep the step size just re-initialised for the new metric instead.
    eps_ = da_.final_step_size();
  }
}

void ChainRunner::adapt(const Transition& t) {
  eps_ = da_.learn(t.accept_stat);
  if (wa_.learn(metric_, z_.q)) {
    eps_ = find_initial_step_size(ham_, z_, eps_, rng_);
    da_.mu = std::log(10 * eps_);
    da_.restart();
  }
}

void ChainRunner::record(const Transition& t, double eps) {
  const bool warm = iter_ < o_.num_warmup;
  if (warm && !o_.save_warmup) return;
  lp_.push_back(z_.lp);
  accept_.push_back(t.accept_stat);
  stepsize_.push_back(eps);
  energy_.push_back(t.energy);
  treedepth_.push_back(t.treedepth);
  n_leapfrog_.push_back(t.n_leapfrog);
  divergent_.push_back(t.divergent ? 1 : 0);
  density_.constrain(std::span<const double>(z_.q.data(), static_cast<size_t>(dim_)), constrained_);
  params_.insert(params_.end(), constrained_.begin(), constrained_.end());
}

bool ChainRunner::run(const ProgressFn& progress, std::atomic<bool>& stop) {
  const std::string ckpt = o_.checkpoint_path.empty() ? "" : o_.checkpoint_path + ".chain" + std::to_string(chain_ + 1);
  while (iter_ < total_) {
    if (stop.load()) {
      if (!ckpt.empty()) save(ckpt);
      return false;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const bool warm = iter_ < o_.num_warmup;
    double eps = eps_;
    Transition t;
    if (hmclet_) {
      t = hmclet_->transition(z_, warm, rng_, eps);
    } else {
      t = nuts_ ? nuts_->transition(z_, eps_, rng_) : hmc_->transition(z_, eps_, rng_);
      if (warm) adapt(t);
    }
    record(t, eps);
    ++iter_;
    if (iter_ == o_.num_warmup) end_warmup();
    const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    (warm ? seconds_warmup_ : seconds_sampling_) += dt;
    if (!ckpt.empty() && (iter_ == total_ || (o_.checkpoint_every > 0 && iter_ % o_.checkpoint_every == 0)))
      save(ckpt);
    if (progress && !progress(chain_, iter_, total_)) stop.store(true);
  }
  return true;
}

ChainDraws ChainRunner::result() const {
  ChainDraws d;
  d.param_names = density_.param_names();
  d.lp = lp_, d.accept_stat = accept_, d.stepsize = stepsize_, d.energy = energy_;
  d.treedepth = treedepth_, d.n_leapfrog = n_leapfrog_, d.divergent = divergent_;
  const auto n = static_cast<int64_t>(lp_.size());
  d.params = Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(
      params_.data(), n, cdim_);
  d.n_warmup_saved = o_.save_warmup ? std::min(n, o_.num_warmup) : 0;
  d.metric = metric_name(metric_.kind());
  d.step_size = eps_;
  d.inv_metric = metric_.inv_metric();
  d.chain_id = chain_ + 1;
  d.seconds_warmup = seconds_warmup_;
  d.seconds_sampling = seconds_sampling_;
  d.gradient_evaluations = ham_.gradient_evaluations();
  const std::string engine = o_.algorithm == "hmc" ? "static" : o_.algorithm;
  d.config = {{"algorithm", "hmc"},
              {"engine", engine},
              {"metric", d.metric},
              {"num_warmup", std::to_string(o_.num_warmup)},
              {"num_samples", std::to_string(o_.num_samples)},
              {"save_warmup", o_.save_warmup ? "1" : "0"},
              {"seed", std::to_string(o_.seed)},
              {"chain_id", std::to_string(d.chain_id)},
              {"init_radius", std::to_string(o_.init_radius)},
              {"engaged", o_.num_warmup > 0 ? "1" : "0"},
              {"stepsize", std::to_string(o_.step_size)},
              {"stepsize_jitter", "0"},
              {"delta", std::to_string(o_.delta)},
              {"gamma", std::to_string(o_.gamma)},
              {"kappa", std::to_string(o_.kappa)},
              {"t0", std::to_string(o_.t0)},
              {"init_buffer", std::to_string(wa_.init_buffer())},
              {"term_buffer", std::to_string(wa_.term_buffer())},
              {"window", std::to_string(wa_.base_window())}};
  if (o_.algorithm == "nuts") d.config.emplace_back("max_depth", std::to_string(o_.max_depth));
  if (o_.algorithm == "hmc")
    d.config.emplace_back(o_.hmc_steps > 0 ? "steps" : "int_time",
                          o_.hmc_steps > 0 ? std::to_string(o_.hmc_steps) : std::to_string(o_.hmc_int_time));
  if (o_.algorithm == "hmclet") {
    d.config.emplace_back("L_max", std::to_string(hmclet_->L_max()));
    d.config.emplace_back("L_max_learned", o_.hmclet_L_max == 0 ? "1" : "0");
    d.config.emplace_back("eps_max", std::to_string(hmclet_->eps_max()));
    d.config.emplace_back("quasi_newton", o_.hmclet_quasi_newton ? "1" : "0");
  }
  return d;
}

}  // namespace trusty::mcmc::detail
