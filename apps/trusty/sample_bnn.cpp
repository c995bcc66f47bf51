// [target] kind = "bnn": the weight posterior of the network that [model] describes, on the
// data of [data] (the tables of `trusty train`), with the priors and likelihood of [bayes];
// after sampling, the posterior predictive at the inputs of [predictive] goes to
// predictive.npz, beside the MAP network ([map]) and a mean-field variational fit ([vi]).
#include <cmath>
#include <cstdio>

#include "sample_setup.hpp"
#include "setup.hpp"
#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/bayes/variational.hpp"
#include "trusty/bayes/posterior_predictive.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::apps {

namespace {

using Mat = Eigen::MatrixXd;

struct BnnSpec {
  bayes::BayesianNetworkOptions opt;
  std::vector<double> layer_scales;  // one per layer with parameters, or empty
  core::Tensor<double> x_pred;
  bool map = true, vi = true;
  std::string map_optimizer = "lbfgs";
  int64_t map_steps = 2000, vi_steps = 10000, vi_samples = 4;
  double map_lr = 1e-2, vi_lr = 1e-2;
};

// Inputs for the predictive: [predictive] x = [...] (one input feature), or from/to/points
// (a grid, one feature), or the test set, or the training inputs.
core::Tensor<double> predictive_inputs(const io::Config& t, const Loaded<double>& data) {
  const int64_t d = data.train.x.numel() / std::max<int64_t>(data.train.size(), 1);
  if (t.has("x")) {
    auto v = t.get_double_list("x");
    if (v.empty() || static_cast<int64_t>(v.size()) % d != 0)
      t.fail("x", "expected a multiple of the " + std::to_string(d) + " input features, got " + std::to_string(v.size()) + " numbers");
    const auto n = static_cast<int64_t>(v.size()) / d;
    return core::Tensor<double>(core::Shape{n, d}, v);
  }
  if (t.has("points")) {
    if (d != 1) t.fail("points", "a grid needs one input feature; the data have " + std::to_string(d));
    const double lo = t.get_double("from"), hi = t.get_double("to");
    const int64_t n = t.get_int("points");
    if (n < 2 || !(hi > lo)) t.fail("points", "expected at least 2 points and from < to");
    core::Tensor<double> x(core::Shape{n, 1});
    for (int64_t i = 0; i < n; ++i) x.at({i, 0}) = lo + (hi - lo) * static_cast<double>(i) / static_cast<double>(n - 1);
    return x;
  }
  return data.test.size() ? data.test.x : data.train.x;
}

BnnSpec parse_bnn(const io::Config& root, const Loaded<double>& data) {
  BnnSpec s;
  auto b = root.table("bayes");
  const bool cls = data.train.classification();
  s.opt.likelihood = bayes::parse_likelihood(b.get_choice("likelihood", {"gaussian", "bernoulli", "categorical"},
                                                          cls ? "categorical" : "gaussian"));
  if (cls == (s.opt.likelihood == bayes::Likelihood::gaussian))
    b.fail("likelihood", cls ? "the data are class labels: expected bernoulli or categorical"
                             : "the data are real targets: expected gaussian");
  s.opt.sigma = b.get_double("noise", 0.1);
  s.opt.sample_sigma = b.get_bool("sample_noise", false);
  s.opt.sigma_prior_scale = b.get_double("noise_prior_scale", 1);
  s.opt.prior.scale = b.get_double("prior_scale", 1);
  s.opt.prior.sampled = b.get_bool("sample_prior_scale", false);
  if (!(s.opt.sigma > 0)) b.fail("noise", "expected a positive noise sd, got " + std::to_string(s.opt.sigma));
  if (!(s.opt.sigma_prior_scale > 0)) b.fail("noise_prior_scale", "expected a positive scale");
  if (!(s.opt.prior.scale > 0)) b.fail("prior_scale", "expected a positive prior sd, got " + std::to_string(s.opt.prior.scale));
  if (b.has("layer_prior_scales")) s.layer_scales = b.get_double_list("layer_prior_scales");
  for (double v : s.layer_scales)
    if (!(v > 0)) b.fail("layer_prior_scales", "expected positive prior sds, got " + std::to_string(v));
  s.x_pred = predictive_inputs(root.table("predictive"), data);
  auto m = root.table("map");
  s.map = m.get_bool("enabled", true);
  s.map_optimizer = m.get_choice("optimizer", {"lbfgs", "adam"}, s.map_optimizer);
  s.map_steps = m.get_int("steps", s.map_steps);
  s.map_lr = m.get_double("lr", s.map_lr);
  auto v = root.table("vi");
  s.vi = v.get_bool("enabled", !cls);
  s.vi_steps = v.get_int("steps", s.vi_steps);
  s.vi_samples = v.get_int("samples", s.vi_samples);
  s.vi_lr = v.get_double("lr", s.vi_lr);
  if (s.map_steps < 1) m.fail("steps", "expected a positive number of steps");
  if (s.vi_steps < 1) v.fail("steps", "expected a positive number of steps");
  if (s.vi_samples < 1) v.fail("samples", "expected at least one Monte Carlo sample per step");
  if (!(s.map_lr > 0)) m.fail("lr", "expected a positive learning rate");
  if (!(s.vi_lr > 0)) v.fail("lr", "expected a positive learning rate");
  return s;
}

// Layer priors: the k-th layer that has parameters gets layer_scales[k].
void apply_layer_scales(const io::Config& root, nn::Module<double>& net, BnnSpec& s) {
  if (s.layer_scales.empty()) return;
  std::vector<std::string> layers;
  for (const auto& e : net.named_parameters()) {
    auto layer = e.name.substr(0, e.name.find('.'));
    if (layers.empty() || layers.back() != layer) layers.push_back(layer);
  }
  if (layers.size() != s.layer_scales.size())
    root.table("bayes").fail("layer_prior_scales", "expected " + std::to_string(layers.size()) +
                                                       " scales (one per layer with weights), got " +
                                                       std::to_string(s.layer_scales.size()));
  for (size_t k = 0; k < layers.size(); ++k)
    s.opt.layer_priors.push_back({layers[k], {s.layer_scales[k], s.opt.prior.sampled}});
}

core::Tensor<double> targets_of(const io::Dataset<double>& d) {
  if (!d.classification()) return d.y;
  core::Tensor<double> y(core::Shape{d.size()});
  for (int64_t i = 0; i < d.size(); ++i) y.span()[static_cast<size_t>(i)] = static_cast<double>(d.labels[static_cast<size_t>(i)]);
  return y;
}

io::NpyArray matrix(const Mat& m) {
  core::Tensor<double> t(core::Shape{m.rows(), m.cols()});
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) t.at({i, j}) = m(i, j);
  return io::NpyArray::from(t);
}

void put_predictive(io::Npz& z, const std::string& prefix, const bayes::Predictive& p) {
  z[prefix + "mean"] = matrix(p.mean);
  z[prefix + "sd"] = matrix(p.sd);
  z[prefix + "sd_network"] = matrix(p.sd_network);
  const char* names[] = {"q05", "q50", "q95"};
  for (size_t k = 0; k < p.quantiles.size() && k < 3; ++k) z[prefix + names[k]] = matrix(p.quantiles[k]);
}

// Network outputs at x for every post-warmup draw: (chains, draws, points, outputs).
io::NpyArray output_draws(const bayes::BayesianNetwork& bnn, const std::vector<mcmc::ChainDraws>& chains,
                          const core::Tensor<double>& x) {
  const int64_t nc = static_cast<int64_t>(chains.size()), nd = chains.front().n_draws() - chains.front().n_warmup_saved;
  const int64_t np = x.dim(0), no = bnn.output_width(), nw = bnn.num_weights();
  core::Tensor<double> out(core::Shape{nc, nd, np, no});
  auto dst = out.span().begin();
  for (const auto& c : chains)
    for (int64_t i = c.n_warmup_saved; i < c.n_draws(); ++i) {
      Eigen::VectorXd w = c.params.row(i).head(nw).transpose();
      auto f = bnn.predict(std::span<const double>(w.data(), static_cast<size_t>(nw)), x);
      dst = std::copy(f.span().begin(), f.span().end(), dst);
    }
  return io::NpyArray::from(out);
}

// Held-out regression points: coverage of the central 90 % predictive interval, RMSE of the
// predictive mean, and (one input feature) the mean predictive sd inside and outside the
// training inputs' gaps — where a Bayesian network should say it does not know.
nlohmann::json held_out_report(const bayes::BayesianNetwork& bnn, const std::vector<mcmc::ChainDraws>& chains,
                               const io::Dataset<double>& test) {
  auto p = bayes::posterior_predictive(bnn, chains, test.x, {.quantiles = {0.05, 0.95}});
  int64_t inside = 0, n = 0;
  double se = 0;
  for (int64_t i = 0; i < test.size(); ++i)
    for (int64_t j = 0; j < p.mean.cols(); ++j) {
      const double y = test.y.at({i, j});
      inside += (y >= p.quantiles[0](i, j) && y <= p.quantiles[1](i, j));
      se += (y - p.mean(i, j)) * (y - p.mean(i, j));
      ++n;
    }
  nlohmann::json r{{"points", test.size()},
                   {"coverage_90", static_cast<double>(inside) / static_cast<double>(n)},
                   {"rmse", std::sqrt(se / static_cast<double>(n))},
                   {"mean_predictive_sd", p.sd.mean()},
                   {"mean_network_sd", p.sd_network.mean()}};
  return r;
}

}  // namespace

SampleModel build_bnn(const SampleSpec& spec, bool verbose) {
  const auto& root = *spec.root;
  RunSpec run = parse_run(root, false);
  if (root.has("dtype") && run.dtype != "float64")
    root.fail("dtype", "sampling runs in double precision: expected \"float64\" (or no dtype), got \"" + run.dtype + "\"");
  auto data = std::make_shared<Loaded<double>>(load_data<double>(run, verbose));
  if (data->train.size() == 0) root.table("data").fail("name", "the training set is empty");
  auto bs = std::make_shared<BnnSpec>(parse_bnn(root, *data));
  const int64_t in = data->train.x.numel() / data->train.size();
  auto net = build_model<double>(run.model, in, output_width(data->train));
  net->finalize(run.train.seed);
  apply_layer_scales(root, *net, *bs);
  auto bnn = std::make_shared<bayes::BayesianNetwork>(std::move(net), data->train.x, targets_of(data->train), bs->opt);
  if (verbose)
    std::fprintf(stderr, "trusty: Bayesian %s, %ld weights (%ld sampled parameters), %ld training points, %s likelihood\n",
                 bnn->network().describe().c_str(), static_cast<long>(bnn->num_weights()), static_cast<long>(bnn->dim()),
                 static_cast<long>(data->train.size()), bayes::likelihood_name(bnn->likelihood()));
  SampleModel m{bnn, nullptr, {}, {}};
  m.after = [bnn, bs, data, run, verbose](const std::vector<mcmc::ChainDraws>& chains, const std::string& out) {
    nlohmann::json r;
    io::Npz z;
    z["x"] = io::NpyArray::from(bs->x_pred);
    put_predictive(z, "", bayes::posterior_predictive(*bnn, chains, bs->x_pred));
    z["draws_f"] = output_draws(*bnn, chains, bs->x_pred);
    z["x_train"] = io::NpyArray::from(data->train.x);
    if (!data->train.classification()) z["y_train"] = io::NpyArray::from(data->train.y);
    const auto theta0 = bnn->initial_theta();
    std::vector<double> map_theta = theta0;
    if (bs->map) {
      if (verbose) std::fprintf(stderr, "trusty: MAP fit (%s)\n", bs->map_optimizer.c_str());
      auto fit = bayes::fit_map(*bnn, theta0, {.optimizer = bs->map_optimizer, .max_iterations = bs->map_steps, .lr = bs->map_lr});
      map_theta = fit.theta;
      z["map_mean"] = io::NpyArray::from(bnn->predict(std::span<const double>(fit.theta.data(), static_cast<size_t>(bnn->num_weights())), bs->x_pred));
      r["map"] = {{"log_density", fit.log_density}, {"iterations", fit.iterations}, {"converged", fit.converged}};
    }
    if (bs->vi) {
      if (verbose) std::fprintf(stderr, "trusty: mean-field variational fit\n");
      auto fit = bayes::fit_variational(*bnn, map_theta, {.iterations = bs->vi_steps, .mc_samples = bs->vi_samples,
                                                          .lr = bs->vi_lr, .seed = run.train.seed});
      auto draws = bayes::variational_draws(*bnn, fit.q, 4000, run.train.seed + 1);
      put_predictive(z, "vi_", bayes::posterior_predictive(*bnn, draws.params, bs->x_pred));
      r["vi"] = {{"final_elbo", fit.elbo.empty() ? 0.0 : fit.elbo.back()}, {"closed_form_kl", fit.closed_form_kl}};
    }
    if (run.data.name == "sine_gap") {
      core::Tensor<double> truth(bs->x_pred.shape());
      for (int64_t i = 0; i < truth.numel(); ++i) truth.span()[static_cast<size_t>(i)] = sine_gap_truth(bs->x_pred.span()[static_cast<size_t>(i)]);
      z["truth"] = io::NpyArray::from(truth);
    }
    if (data->test.size() && !data->test.classification()) r["test"] = held_out_report(*bnn, chains, data->test);
    io::write_npz(out + "/predictive.npz", z);
    r["files"] = {"chain_*.csv", "summary.json", "predictive.npz"};
    r["predictive_points"] = bs->x_pred.dim(0);
    return r;
  };
  return m;
}

}  // namespace trusty::apps
