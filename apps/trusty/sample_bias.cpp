// `trusty sample` with [target] kind = "bias": the neural bias model's 17 weights (density/
// neural_bias_model.hpp) on a halo catalogue — a .npz file ([catalogue] file) or one drawn by
// the built-in simulator from known parameters ([catalogue] grid, box_size, seed, ...).
// Before sampling, a MAP fit (L-BFGS) from [bias] start gives the chains' initial point and
// the Fisher errors; after it, predictive.npz holds the halo mass function per density bin:
// observed counts, the posterior's expected counts (every kept draw, 95 % band), Poisson
// posterior predictive bands, the MAP's and (simulated) the truth's, with a χ² test.
#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "run_dir.hpp"
#include "sample_setup.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/density/halo_simulator.hpp"
#include "trusty/density/mass_function_check.hpp"
#include "trusty/mcmc/observed_information.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::apps {

namespace {

struct BiasSpec {
  density::BiasModelOptions model;
  std::vector<double> start, truth;  // truth: simulated catalogues only
  int64_t density_bins = 4, mass_bins = 6, predictive_draws = 200, map_iterations = 2000;
  bool simulated = false;
};

density::Catalogue catalogue_of(const io::Config& c, BiasSpec& s) {
  if (c.has("file")) {
    for (const char* k : {"grid", "box_size", "seed", "sigma", "spectral_index", "smoothing", "mass_threshold"})
      if (c.has(k)) c.fail(k, "give either file or the simulator's settings, not both");
    return density::load_catalogue(c.get_string("file"));
  }
  density::HaloSimulatorOptions o;
  o.field.grid = c.get_int("grid", 16);
  o.field.box_size = c.get_double("box_size", static_cast<double>(o.field.grid));
  o.field.sigma = c.get_double("sigma", 0.6);
  o.field.spectral_index = c.get_double("spectral_index", -1.5);
  o.field.smoothing = c.get_double("smoothing", 1.5 * o.field.box_size / static_cast<double>(o.field.grid));
  o.mass_threshold = c.get_double("mass_threshold", o.mass_threshold);
  o.model = s.model;
  o.theta = s.truth;
  try {
    o.validate();
  } catch (const std::invalid_argument& e) {
    c.fail("grid", e.what());
  }
  s.simulated = true;
  if (s.truth.empty()) s.truth = density::default_true_theta();
  return density::simulate_catalogue(o, static_cast<uint64_t>(c.get_int("seed", 1)));
}

BiasSpec parse_bias(const io::Config& b) {
  BiasSpec s;
  s.model.components = b.get_int("components", 2);
  s.model.prior_sd = b.get_double("prior_sd", 10.0);
  try {
    s.model.validate();
  } catch (const std::invalid_argument& e) {
    b.fail("components", e.what());
  }
  const int64_t d = density::bias_model_dim(s.model.components);
  auto list = [&](const char* key) {
    std::vector<double> v = b.get_double_list(key);
    if (static_cast<int64_t>(v.size()) != d) b.fail(key, "expected " + std::to_string(d) + " numbers, got " + std::to_string(v.size()));
    return v;
  };
  if (b.has("truth")) s.truth = list("truth");
  s.start = b.has("start") ? list("start") : (s.model.components == 2 ? density::default_true_theta() : std::vector<double>(static_cast<size_t>(d), 0.0));
  s.density_bins = b.get_int("density_bins", s.density_bins);
  s.mass_bins = b.get_int("mass_bins", s.mass_bins);
  s.predictive_draws = b.get_int("predictive_draws", s.predictive_draws);
  s.map_iterations = b.get_int("map_iterations", s.map_iterations);
  if (s.density_bins < 1) b.fail("density_bins", "expected at least 1");
  if (s.mass_bins < 1) b.fail("mass_bins", "expected at least 1");
  if (s.predictive_draws < 10) b.fail("predictive_draws", "expected at least 10");
  return s;
}

double quantile(std::vector<double> v, double q) {
  std::sort(v.begin(), v.end());
  const double pos = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(pos);
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (pos - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

nlohmann::json bias_predictive(const density::NeuralBiasModel& model, const BiasSpec& s,
                               const std::vector<mcmc::ChainDraws>& chains, const std::vector<double>& map_theta,
                               const std::string& out);

SampleModel build_bias(const SampleSpec& spec, bool verbose) {
  const auto& root = *spec.root;
  auto s = std::make_shared<BiasSpec>(parse_bias(root.table("bias")));
  auto model = std::make_shared<density::NeuralBiasModel>(catalogue_of(root.table("catalogue"), *s), s->model);
  const auto& cat = model->catalogue();
  if (verbose)
    std::fprintf(stderr, "trusty: neural bias model, %ld parameters; %s catalogue, %ld³ voxels, %ld halos above %.4g\n",
                 static_cast<long>(model->dim()), s->simulated ? "simulated" : "loaded", static_cast<long>(cat.grid()),
                 static_cast<long>(cat.size()), cat.mass_threshold);
  auto fit = bayes::fit_map(*model, s->start, {.optimizer = "lbfgs", .max_iterations = s->map_iterations, .tolerance = 1e-4});
  if (!std::isfinite(fit.log_density)) throw std::invalid_argument("the MAP fit from [bias] start reached a non-finite log density");
  if (verbose) std::fprintf(stderr, "trusty: MAP ln pi = %.3f after %ld L-BFGS iterations\n", fit.log_density, static_cast<long>(fit.iterations));
  SampleModel m{model, nullptr, {}, {}};
  m.init = fit.theta;
  // The posterior is strongly correlated (the kernel weights trade off against the heads'):
  // a dense metric started from the Laplace covariance spares the warmup most of its work.
  // The Laplace covariance at the MAP: Fisher errors, and the chains' initial dense metric.
  const Eigen::MatrixXd cov = mcmc::observed_information(*model, fit.theta).inverse();
  if (cov.allFinite() && cov.diagonal().minCoeff() > 0) m.inv_metric = cov;
  m.after = [model, s, fit, cov](const std::vector<mcmc::ChainDraws>& chains, const std::string& out) {
    if (s->simulated) density::save_catalogue(out + "/catalogue.npz", model->catalogue());
    nlohmann::json r;
    const auto names = model->param_names();
    std::vector<double> sd;
    for (Eigen::Index i = 0; i < cov.rows(); ++i) sd.push_back(std::sqrt(cov(i, i)));
    nlohmann::json map;
    for (size_t i = 0; i < names.size(); ++i) {
      map[names[i]] = {{"value", fit.theta[i]}, {"fisher_sd", sd[i]}};
      if (!s->truth.empty()) map[names[i]]["truth"] = s->truth[i];
    }
    r["map"] = {{"log_density", fit.log_density}, {"iterations", fit.iterations}, {"max_abs_gradient", fit.max_abs_gradient},
                {"parameters", map}};
    r["halos"] = model->catalogue().size();
    r["expected_halos_map"] = model->expected_count(fit.theta);
    if (!s->truth.empty()) r["expected_halos_truth"] = model->expected_count(s->truth);
    const nlohmann::json ppc = bias_predictive(*model, *s, chains, fit.theta, out);  // outlives items()
    for (const auto& [k, v] : ppc.items()) r[k] = v;
    r["files"] = {"chain_*.csv", "summary.json", "predictive.npz"};
    if (s->simulated) r["files"].push_back("catalogue.npz");
    return r;
  };
  return m;
}

// Expected counts per bin for up to `wanted` kept draws (evenly thinned), [draws][bins].
std::vector<std::vector<double>> expected_per_draw(const density::NeuralBiasModel& model,
                                                   const std::vector<mcmc::ChainDraws>& chains,
                                                   const density::MassFunctionBins& bins, int64_t wanted) {
  std::vector<std::vector<double>> draws;
  int64_t kept = 0;
  for (const auto& c : chains) kept += c.n_draws() - c.n_warmup_saved;
  const int64_t every = std::max<int64_t>(1, kept / wanted);
  int64_t k = 0;
  for (const auto& c : chains)
    for (int64_t i = c.n_warmup_saved; i < c.n_draws(); ++i, ++k) {
      if (k % every) continue;
      const Eigen::VectorXd row = c.params.row(i).transpose();  // params is column-major
      const std::vector<double> th(row.data(), row.data() + row.size());
      draws.push_back(density::expected_binned_counts(model, th, bins));
    }
  return draws;
}

// The mass function per density bin: posterior bands of the expected counts, Poisson
// posterior predictive bands, χ², written to predictive.npz and summarised in the result.
nlohmann::json bias_predictive(const density::NeuralBiasModel& model, const BiasSpec& s,
                               const std::vector<mcmc::ChainDraws>& chains, const std::vector<double>& map_theta,
                               const std::string& out) {
  const auto bins = density::make_mass_function_bins(model.catalogue(), s.density_bins, s.mass_bins);
  const auto obs = density::observed_counts(model.catalogue(), bins);
  const auto draws = expected_per_draw(model, chains, bins, s.predictive_draws);
  const auto nb = obs.size(), nd = draws.size();
  core::Rng rng(20241201, 0);
  std::vector<double> mean(nb, 0.0), lo(nb), hi(nb), plo(nb), phi(nb), flat;
  for (size_t b = 0; b < nb; ++b) {
    std::vector<double> e, p;
    for (const auto& d : draws) {
      e.push_back(d[b]);
      p.push_back(static_cast<double>(density::poisson_draw(d[b], rng)));
      mean[b] += d[b] / static_cast<double>(nd);
    }
    lo[b] = quantile(e, 0.025), hi[b] = quantile(e, 0.975);
    plo[b] = quantile(p, 0.025), phi[b] = quantile(p, 0.975);
  }
  for (const auto& d : draws) flat.insert(flat.end(), d.begin(), d.end());
  double chi2 = 0;
  int64_t used = 0, obs_inside = 0;
  for (size_t b = 0; b < nb; ++b) {
    if (mean[b] > 0) chi2 += (obs[b] - mean[b]) * (obs[b] - mean[b]) / mean[b], ++used;
    obs_inside += obs[b] >= plo[b] && obs[b] <= phi[b];
  }
  const int64_t ndb = bins.density_bins(), nmb = bins.mass_bins();
  auto arr = [&](const std::vector<double>& v) { return io::NpyArray::from<double>(v, {ndb, nmb}); };
  io::Npz z;
  z["density_edges"] = io::NpyArray::from<double>(bins.density_edges, {ndb + 1});
  z["log_mass_edges"] = io::NpyArray::from<double>(bins.log_mass_edges, {nmb + 1});
  z["observed"] = arr(obs);
  z["expected_draws"] = io::NpyArray::from<double>(flat, {static_cast<int64_t>(nd), ndb, nmb});
  z["expected_mean"] = arr(mean);
  z["expected_lo"] = arr(lo);
  z["expected_hi"] = arr(hi);
  z["predictive_lo"] = arr(plo);
  z["predictive_hi"] = arr(phi);
  z["expected_map"] = arr(density::expected_binned_counts(model, map_theta, bins));
  // The expectation was fitted to these counts: the test's degrees of freedom are the bins
  // less the parameters (at least 1).
  const int64_t dof = std::max<int64_t>(1, used - model.dim());
  nlohmann::json r{{"predictive_draws", nd},
                   {"chi2", chi2},
                   {"chi2_bins", used},
                   {"chi2_dof", dof},
                   {"chi2_p", density::chi2_survival(chi2, static_cast<double>(dof))},
                   {"observed_inside_95", static_cast<double>(obs_inside) / static_cast<double>(nb)}};
  if (!s.truth.empty()) {
    const auto t = density::expected_binned_counts(model, s.truth, bins);
    z["expected_truth"] = arr(t);
    // Two readings of "the truth inside the band": the true expected count inside the 95 %
    // posterior band of the expected count (parameter uncertainty only: about 1 bin in 20
    // outside by chance), and inside the 95 % posterior predictive band of the counts (with
    // the Poisson scatter of a catalogue), per density bin over its mass bins. The predictive
    // band's ends are whole counts and the truth an expectation: the band is widened by the
    // usual half-count continuity correction, so that an expected 0.002 halos in a bin whose
    // predictive band is [0, 0] counts as inside.
    int64_t inside = 0, inside_pred = 0;
    std::vector<int64_t> density_bins_all_inside(static_cast<size_t>(ndb), 1);
    for (size_t b = 0; b < nb; ++b) {
      inside += t[b] >= lo[b] && t[b] <= hi[b];
      const bool in = t[b] >= plo[b] - 0.5 && t[b] <= phi[b] + 0.5;
      inside_pred += in;
      if (!in) density_bins_all_inside[b / static_cast<size_t>(nmb)] = 0;
    }
    r["truth_inside_95"] = static_cast<double>(inside) / static_cast<double>(nb);
    r["truth_inside_95_predictive"] = static_cast<double>(inside_pred) / static_cast<double>(nb);
    r["truth_inside_95_predictive_per_density_bin"] = density_bins_all_inside;
  }
  io::write_npz(out + "/predictive.npz", z);
  return r;
}

}  // namespace trusty::apps
