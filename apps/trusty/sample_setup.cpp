#include "sample_setup.hpp"

#include <cmath>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/targets.hpp"

namespace trusty::apps {

void parse_sampler(const io::Config& t, mcmc::SamplerOptions& o) {
  o.algorithm = t.get_choice("algorithm", {"nuts", "hmc", "hmclet"}, o.algorithm);
  o.chains = static_cast<int>(t.get_int("chains", o.chains));
  o.num_warmup = t.get_int("warmup", o.num_warmup);
  o.num_samples = t.get_int("samples", o.num_samples);
  o.threads = static_cast<int>(t.get_int("threads", o.threads));
  o.seed = static_cast<uint64_t>(t.get_int("seed", static_cast<int64_t>(o.seed)));
  o.max_depth = static_cast<int>(t.get_int("max_depth", o.max_depth));
  o.delta = t.get_double("delta", o.delta);
  o.step_size = t.get_double("step_size", o.step_size);
  o.metric = t.get_choice("metric", {"unit_e", "diag_e", "dense_e"}, o.metric);
  o.init_radius = t.get_double("init_radius", o.init_radius);
  o.save_warmup = t.get_bool("save_warmup", o.save_warmup);
  o.hmc_steps = t.get_int("hmc_steps", o.hmc_steps);
  o.hmc_int_time = t.get_double("hmc_int_time", o.hmc_int_time);
  o.hmclet_eps_max = t.get_double("hmclet_eps_max", o.hmclet_eps_max);
  o.hmclet_L_max = t.get_int("hmclet_L_max", o.hmclet_L_max);
  o.hmclet_window = t.get_int("hmclet_window", o.hmclet_window);
  o.hmclet_quasi_newton = t.get_bool("hmclet_quasi_newton", o.hmclet_quasi_newton);
  o.checkpoint_every = t.get_int("checkpoint_every", 100);
  if (o.chains < 1) t.fail("chains", "expected at least 1 chain, got " + std::to_string(o.chains));
  if (o.num_samples < 1) t.fail("samples", "expected at least 1 draw, got " + std::to_string(o.num_samples));
  if (o.num_warmup < 0) t.fail("warmup", "expected 0 or more iterations, got " + std::to_string(o.num_warmup));
  if (o.threads < 0) t.fail("threads", "expected 0 (one per chain) or more, got " + std::to_string(o.threads));
  if (o.max_depth < 1 || o.max_depth > 30) t.fail("max_depth", "expected 1 to 30, got " + std::to_string(o.max_depth));
  if (!(o.delta > 0 && o.delta < 1)) t.fail("delta", "expected a target acceptance in (0, 1), got " + std::to_string(o.delta));
  if (!(o.step_size > 0) || !std::isfinite(o.step_size)) t.fail("step_size", "expected a positive finite step size");
  if (!(o.init_radius >= 0) || !std::isfinite(o.init_radius)) t.fail("init_radius", "expected a finite radius >= 0");
  if (o.checkpoint_every < 0) t.fail("checkpoint_every", "expected 0 (only at the end) or more iterations");
}

SampleSpec parse_sample(const io::Config& root) {
  SampleSpec s;
  s.config_path = root.path();
  s.root = std::make_shared<io::Config>(root);
  auto t = root.table("target");
  s.target_kind = t.get_choice("kind", {"gaussian", "multi_normal", "funnel", "linear_regression", "bnn", "bias"}, "bnn");
  parse_sampler(root.table("sampler"), s.sampler);
  return s;
}

namespace {

std::vector<double> list_or(const io::Config& t, const std::string& key, int64_t n, double fill) {
  if (!t.has(key)) return std::vector<double>(static_cast<size_t>(n), fill);
  auto v = t.get_double_list(key);
  if (static_cast<int64_t>(v.size()) != n)
    t.fail(key, "expected " + std::to_string(n) + " numbers (dim), got " + std::to_string(v.size()));
  return v;
}

// Scales: a list of dim numbers, or scale_min/scale_max spaced logarithmically.
std::vector<double> scales_of(const io::Config& t, int64_t dim) {
  if (t.has("scales")) return list_or(t, "scales", dim, 1);
  const double lo = t.get_double("scale_min", 1), hi = t.get_double("scale_max", lo);
  if (!(lo > 0) || !(hi >= lo)) t.fail("scale_max", "expected 0 < scale_min <= scale_max");
  std::vector<double> s(static_cast<size_t>(dim));
  for (int64_t i = 0; i < dim; ++i)
    s[static_cast<size_t>(i)] = dim == 1 ? lo : lo * std::pow(hi / lo, static_cast<double>(i) / static_cast<double>(dim - 1));
  return s;
}

nlohmann::json exact_report(const std::vector<std::string>& names, const Eigen::VectorXd& mean, const Eigen::VectorXd& sd) {
  nlohmann::json e;
  for (size_t i = 0; i < names.size(); ++i) e[names[i]] = {{"mean", mean(static_cast<Eigen::Index>(i))}, {"sd", sd(static_cast<Eigen::Index>(i))}};
  return e;
}

SampleModel gaussian(const io::Config& t) {
  const int64_t dim = t.get_int("dim");
  if (dim < 1) t.fail("dim", "expected a positive dimension, got " + std::to_string(dim));
  auto mean = list_or(t, "mean", dim, 0);
  auto sc = scales_of(t, dim);
  auto d = std::make_shared<mcmc::GaussianTarget>(mean, sc);
  SampleModel m{d, nullptr, {}, {}};
  m.after = [d](const std::vector<mcmc::ChainDraws>&, const std::string&) {
    Eigen::Map<const Eigen::VectorXd> mu(d->mean().data(), d->dim()), s(d->scales().data(), d->dim());
    return nlohmann::json{{"exact", exact_report(d->param_names(), mu, s)}};
  };
  return m;
}

SampleModel multi_normal(const io::Config& t) {
  auto mean = t.get_double_list("mean");
  const auto n = static_cast<int64_t>(mean.size());
  if (n < 1) t.fail("mean", "expected at least one number");
  auto cov = t.get_double_list("covariance");
  if (static_cast<int64_t>(cov.size()) != n * n)
    t.fail("covariance", "expected " + std::to_string(n * n) + " numbers (a " + std::to_string(n) + "×" + std::to_string(n) +
                             " matrix, row by row), got " + std::to_string(cov.size()));
  Eigen::MatrixXd c = Eigen::Map<Eigen::MatrixXd>(cov.data(), n, n).transpose();
  std::shared_ptr<mcmc::MultiNormalTarget> d;
  try {
    d = std::make_shared<mcmc::MultiNormalTarget>(Eigen::Map<Eigen::VectorXd>(mean.data(), n), c);
  } catch (const std::invalid_argument& e) {
    t.fail("covariance", e.what());
  }
  SampleModel m{d, nullptr, {}, {}};
  m.after = [d](const std::vector<mcmc::ChainDraws>&, const std::string&) {
    return nlohmann::json{{"exact", exact_report(d->param_names(), d->mean(), d->covariance().diagonal().cwiseSqrt())}};
  };
  return m;
}

SampleModel linear_regression(const io::Config& t) {
  // Simulated design: x_ij ~ N(0, 1), y = X β_true + σ ε with β_true ~ N(0, 1), from `seed`.
  const int64_t n = t.get_int("n", 100), dim = t.get_int("dim", 3);
  if (n < 1) t.fail("n", "expected a positive number of observations");
  if (dim < 1) t.fail("dim", "expected a positive number of coefficients");
  const double sigma = t.get_double("sigma", 1), prior = t.get_double("prior_scale", 10);
  if (!(sigma > 0)) t.fail("sigma", "expected a positive noise scale");
  if (!(prior > 0)) t.fail("prior_scale", "expected a positive prior scale");
  core::Rng rng(static_cast<uint64_t>(t.get_int("data_seed", 1)));
  Eigen::MatrixXd x(n, dim);
  Eigen::VectorXd beta(dim), y(n);
  for (int64_t j = 0; j < dim; ++j) beta(j) = rng.normal();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t j = 0; j < dim; ++j) x(i, j) = rng.normal();
  for (int64_t i = 0; i < n; ++i) y(i) = x.row(i).dot(beta) + sigma * rng.normal();
  auto d = std::make_shared<mcmc::LinearRegressionTarget>(x, y, sigma, prior);
  SampleModel m{d, nullptr, {}, {}};
  m.after = [d](const std::vector<mcmc::ChainDraws>&, const std::string&) {
    return nlohmann::json{{"exact", exact_report(d->param_names(), d->posterior_mean(), d->posterior_covariance().diagonal().cwiseSqrt())}};
  };
  return m;
}

}  // namespace

SampleModel build_target(const SampleSpec& spec, bool verbose) {
  auto t = spec.root->table("target");
  SampleModel m;
  if (spec.target_kind == "gaussian") m = gaussian(t);
  else if (spec.target_kind == "multi_normal") m = multi_normal(t);
  else if (spec.target_kind == "funnel") {
    const int64_t dim = t.get_int("dim", 10);
    if (dim < 2) t.fail("dim", "expected at least 2 (v and one x), got " + std::to_string(dim));
    m.density = std::make_shared<mcmc::FunnelTarget>(dim);
  } else if (spec.target_kind == "linear_regression") m = linear_regression(t);
  else if (spec.target_kind == "bias") m = build_bias(spec, verbose);
  else m = build_bnn(spec, verbose);
  spec.root->check_unused();
  try {
    mcmc::validate(spec.sampler, m.density->dim());
  } catch (const std::invalid_argument& e) {
    throw io::ConfigError(spec.config_path + ": [sampler] " + e.what());
  }
  return m;
}

}  // namespace trusty::apps
