// trusty.sample(...): the samplers on a Python callable or a built-in target, draws as numpy.
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <filesystem>

#include "bindings.hpp"
#include "py_density.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/density/halo_simulator.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/mcmc/sampler.hpp"
#include "trusty/mcmc/stan_csv.hpp"
#include "trusty/mcmc/summary.hpp"

namespace trusty::python {

namespace {

// Keyword options → SamplerOptions, by the names `trusty sample` configs use ([sampler]
// table); an unknown keyword is a TypeError naming it, a bad value a ValueError from
// mcmc::validate (the one validation path the CLI uses too).
}  // namespace

mcmc::SamplerOptions sampler_options(const py::kwargs& kw) {
  mcmc::SamplerOptions o;
  for (auto [k, v] : kw) {
    const auto key = k.cast<std::string>();
    try {
      if (key == "algorithm") o.algorithm = v.cast<std::string>();
      else if (key == "chains") o.chains = v.cast<int>();
      else if (key == "warmup") o.num_warmup = v.cast<int64_t>();
      else if (key == "samples") o.num_samples = v.cast<int64_t>();
      else if (key == "threads") o.threads = v.cast<int>();
      else if (key == "seed") o.seed = v.cast<uint64_t>();
      else if (key == "max_depth") o.max_depth = v.cast<int>();
      else if (key == "delta") o.delta = v.cast<double>();
      else if (key == "step_size") o.step_size = v.cast<double>();
      else if (key == "metric") o.metric = v.cast<std::string>();
      else if (key == "init_radius") o.init_radius = v.cast<double>();
      else if (key == "init") o.init = v.cast<std::vector<double>>();
      else if (key == "save_warmup") o.save_warmup = v.cast<bool>();
      else if (key == "hmc_steps") o.hmc_steps = v.cast<int64_t>();
      else if (key == "hmc_int_time") o.hmc_int_time = v.cast<double>();
      else if (key == "hmclet_eps_max") o.hmclet_eps_max = v.cast<double>();
      else if (key == "hmclet_L_max") o.hmclet_L_max = v.cast<int64_t>();
      else if (key == "hmclet_window") o.hmclet_window = v.cast<int64_t>();
      else if (key == "hmclet_quasi_newton") o.hmclet_quasi_newton = v.cast<bool>();
      else if (key == "checkpoint_every") o.checkpoint_every = v.cast<int64_t>();
      else
        throw py::type_error("trusty.sample: unknown option '" + key +
                             "' (expected algorithm, chains, warmup, samples, threads, seed, max_depth, delta, step_size, "
                             "metric, init_radius, init, save_warmup, hmc_steps, hmc_int_time, hmclet_eps_max, "
                             "hmclet_L_max, hmclet_window, hmclet_quasi_newton, checkpoint_every)");
    } catch (const py::cast_error&) {
      throw py::type_error("trusty.sample: option '" + key + "' has the wrong type (" +
                           std::string(py::str(py::type::of(v).attr("__name__"))) + ")");
    }
  }
  return o;
}

namespace {

py::object json_to_py(const nlohmann::json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

}  // namespace

// Runs the sampler with the GIL released (a Python density takes it back per call) and
// returns the draws: "draws" (chains, samples, n_params) constrained, the sampler columns
// (chains, samples) each, "names", "summary" (summary.json's content), per-chain step sizes
// and inverse metrics. With out=DIR, also writes chain_<k>.csv and summary.json there.
py::dict sample_density(const mcmc::LogDensity& d, const mcmc::SamplerOptions& o, const std::string& out) {
  mcmc::validate(o, d.dim());
  std::vector<mcmc::ChainDraws> chains;
  {
    py::gil_scoped_release nogil;
    // Ctrl-C stops the chains after their current iteration. Signals are checked at most
    // every 0.1 s of wall time (any chain), not per iteration: taking the GIL per iteration
    // would serialise fast chains, and counting iterations leaves a slow chain deaf for long.
    std::atomic<int64_t> last_check{0};
    chains = mcmc::sample(d, o, [&last_check](int, int64_t, int64_t) {
      const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now().time_since_epoch()).count();
      int64_t seen = last_check.load(std::memory_order_relaxed);
      if (now - seen < 100 || !last_check.compare_exchange_strong(seen, now)) return true;
      py::gil_scoped_acquire gil;
      return PyErr_CheckSignals() == 0;
    });
  }
  if (PyErr_Occurred()) throw py::error_already_set();
  auto summary = mcmc::summarize(chains, o.max_depth);
  if (!out.empty()) {
    std::filesystem::create_directories(out);
    for (const auto& c : chains) mcmc::write_stan_csv(out + "/chain_" + std::to_string(c.chain_id) + ".csv", c);
    const auto s = mcmc::to_json(summary).dump(2) + "\n";
    io::write_file_atomic(out + "/summary.json", std::span<const char>(s.data(), s.size()));
  }
  const auto nc = static_cast<py::ssize_t>(chains.size());
  const auto nd = static_cast<py::ssize_t>(chains.front().n_draws());
  const auto np = static_cast<py::ssize_t>(chains.front().params.cols());
  py::array_t<double> draws({nc, nd, np});
  auto put = [&](auto member) {
    using V = typename std::decay_t<decltype(chains.front().*member)>::value_type;
    py::array_t<V> a({nc, nd});
    for (py::ssize_t c = 0; c < nc; ++c)
      std::copy((chains[static_cast<size_t>(c)].*member).begin(), (chains[static_cast<size_t>(c)].*member).end(),
                a.mutable_data(c, 0));
    return a;
  };
  py::list step, inv;
  for (py::ssize_t c = 0; c < nc; ++c) {
    const auto& ch = chains[static_cast<size_t>(c)];
    for (py::ssize_t i = 0; i < nd; ++i)
      for (py::ssize_t j = 0; j < np; ++j) *draws.mutable_data(c, i, j) = ch.params(i, j);
    step.append(ch.step_size);
    py::array_t<double> m({static_cast<py::ssize_t>(ch.inv_metric.rows()), static_cast<py::ssize_t>(ch.inv_metric.cols())});
    for (Eigen::Index i = 0; i < ch.inv_metric.rows(); ++i)
      for (Eigen::Index j = 0; j < ch.inv_metric.cols(); ++j) *m.mutable_data(i, j) = ch.inv_metric(i, j);
    inv.append(m);
  }
  py::dict r;
  r["draws"] = draws;
  r["names"] = chains.front().param_names;
  r["lp__"] = put(&mcmc::ChainDraws::lp);
  r["accept_stat__"] = put(&mcmc::ChainDraws::accept_stat);
  r["stepsize__"] = put(&mcmc::ChainDraws::stepsize);
  r["treedepth__"] = put(&mcmc::ChainDraws::treedepth);
  r["n_leapfrog__"] = put(&mcmc::ChainDraws::n_leapfrog);
  r["divergent__"] = put(&mcmc::ChainDraws::divergent);
  r["energy__"] = put(&mcmc::ChainDraws::energy);
  r["step_size"] = step;
  r["inv_metric"] = inv;
  r["summary"] = json_to_py(mcmc::to_json(summary));
  r["summary_table"] = mcmc::format_summary(summary);
  return r;
}

void bind_mcmc(py::module_& m) {
  m.def(
      "_sample_callable",
      [](py::function fn, int64_t dim, std::vector<std::string> names, const std::string& out, py::kwargs kw) {
        PyDensity d(std::move(fn), dim, std::move(names));
        return sample_density(d, sampler_options(kw), out);
      },
      py::arg("fn"), py::arg("dim"), py::arg("names") = std::vector<std::string>{}, py::arg("out") = "");
  m.def(
      "_sample_bias",
      [](const std::string& catalogue, double prior_sd, const std::string& out, py::kwargs kw) {
        density::BiasModelOptions o;
        o.prior_sd = prior_sd;
        const density::NeuralBiasModel model(density::load_catalogue(catalogue), o);
        auto opt = sampler_options(kw);
        if (opt.init.empty()) {  // start the chains at the MAP, fitted from the simulator's θ
          py::gil_scoped_release nogil;
          opt.init = bayes::fit_map(model, density::default_true_theta(), {.tolerance = 1e-4}).theta;
        }
        return sample_density(model, opt, out);
      },
      py::arg("catalogue"), py::arg("prior_sd") = 10.0, py::arg("out") = "");
}

}  // namespace trusty::python
