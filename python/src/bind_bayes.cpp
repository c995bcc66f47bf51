// trusty.BayesianNetwork: a network's weight posterior on numpy data, sampled with the same
// samplers as trusty.sample, with its posterior predictive, MAP fit and variational fit.
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/bayes/posterior_predictive.hpp"
#include "trusty/bayes/variational.hpp"
#include "trusty/mcmc/sampler.hpp"
#include "trusty/nn/layers.hpp"

namespace trusty::python {

py::dict sample_density(const mcmc::LogDensity& d, const mcmc::SamplerOptions& o, const std::string& out);
mcmc::SamplerOptions sampler_options(const py::kwargs& kw);

namespace {

using Bnn = bayes::BayesianNetwork;

Eigen::MatrixXd as_matrix(const py::handle& obj, const char* arg, int64_t cols) {
  auto a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(obj);
  if (!a || a.ndim() < 2 || a.shape(a.ndim() - 1) != cols)
    throw py::value_error(std::string(arg) + ": expected draws of shape (..., " + std::to_string(cols) +
                          ") (the parameters last), got " + (a ? shape_str(a) : std::string("a non-array")));
  const int64_t rows = a.size() / cols;
  Eigen::MatrixXd m(rows, cols);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) m(i, j) = a.data()[i * cols + j];
  return m;
}

py::array_t<double> to_numpy(const Eigen::MatrixXd& m) {
  py::array_t<double> a({static_cast<py::ssize_t>(m.rows()), static_cast<py::ssize_t>(m.cols())});
  for (Eigen::Index i = 0; i < m.rows(); ++i)
    for (Eigen::Index j = 0; j < m.cols(); ++j) *a.mutable_data(i, j) = m(i, j);
  return a;
}

std::shared_ptr<Bnn> make(const py::handle& x, const py::handle& y, std::vector<int64_t> hidden, const std::string& activation,
                          const std::string& likelihood, double noise, bool sample_noise, double noise_prior_scale,
                          double prior_scale, bool sample_prior_scale, int64_t outputs, uint64_t seed) {
  auto xa = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(x);
  if (!xa || xa.ndim() != 2) throw py::value_error("x: expected a float64 array of shape (n, features)");
  const int64_t n = xa.shape(0), in = xa.shape(1);
  bayes::BayesianNetworkOptions o;
  o.likelihood = bayes::parse_likelihood(likelihood);
  o.sigma = noise;
  o.sample_sigma = sample_noise;
  o.sigma_prior_scale = noise_prior_scale;
  o.prior = {prior_scale, sample_prior_scale};
  io::Dataset<double> d;
  d.x = features<double>(x, "x", in);
  const bool cls = o.likelihood != bayes::Likelihood::gaussian;
  if (outputs <= 0) {
    if (!cls) {
      auto ya = py::array::ensure(y);
      outputs = ya && ya.ndim() == 2 ? ya.shape(1) : 1;
    } else {
      auto ya = py::array_t<int64_t, py::array::forcecast>::ensure(y);
      int64_t mx = 0;
      for (py::ssize_t i = 0; ya && i < ya.size(); ++i) mx = std::max<int64_t>(mx, ya.data()[i]);
      outputs = o.likelihood == bayes::Likelihood::bernoulli ? 1 : mx + 1;
    }
  }
  targets<double>(y, "y", n, o.likelihood == bayes::Likelihood::bernoulli ? 2 : outputs, cls, d);
  core::Tensor<double> yt;
  if (cls) {
    yt = core::Tensor<double>(core::Shape{n});
    for (int64_t i = 0; i < n; ++i) yt.span()[static_cast<size_t>(i)] = static_cast<double>(d.labels[static_cast<size_t>(i)]);
  } else {
    yt = d.y;
  }
  std::vector<int64_t> widths{in};
  widths.insert(widths.end(), hidden.begin(), hidden.end());
  widths.push_back(outputs);
  auto net = nn::make_mlp<double>(widths, {.activation = activation});
  net->finalize(seed);
  return std::make_shared<Bnn>(std::move(net), d.x, yt, o);
}

py::dict predictive(const Bnn& b, const py::handle& draws, const py::handle& x, std::vector<double> q, bool noise) {
  Eigen::MatrixXd m;
  if (py::isinstance<py::dict>(draws)) m = as_matrix(draws.cast<py::dict>()["draws"], "draws", b.constrained_dim());
  else m = as_matrix(draws, "draws", b.constrained_dim());
  auto xt = features<double>(x, "x", b.network().named_parameters().front().shape.dim(0));
  auto p = bayes::posterior_predictive(b, m, xt, {.quantiles = q, .observation_noise = noise});
  py::dict r;
  r["mean"] = to_numpy(p.mean);
  r["sd"] = to_numpy(p.sd);
  r["sd_network"] = to_numpy(p.sd_network);
  py::list qs;
  for (const auto& qm : p.quantiles) qs.append(to_numpy(qm));
  r["quantiles"] = qs;
  r["levels"] = q;
  return r;
}

}  // namespace

void bind_bayes(py::module_& m) {
  py::class_<Bnn, std::shared_ptr<Bnn>>(m, "BayesianNetwork", R"(A network's weight posterior on numpy data (docs/sample.md).

    bnn = trusty.BayesianNetwork(x, y, hidden=[20, 20], activation="tanh", noise=0.1)
    fit = bnn.sample(chains=4, warmup=500, samples=1000, seed=1)   # as trusty.sample
    pred = bnn.predict(fit, x_new)           # mean, sd, sd_network, quantiles (5/50/95 %)
    theta_map = bnn.fit_map()["theta"]       # the plain trained network
    vi = bnn.fit_vi(iterations=10000)        # mean-field Gaussian (Bayes by Backprop)
    pred_vi = bnn.predict(vi["draws"], x_new))")
      .def(py::init(&make), py::arg("x"), py::arg("y"), py::arg("hidden") = std::vector<int64_t>{20, 20},
           py::arg("activation") = "tanh", py::arg("likelihood") = "gaussian", py::arg("noise") = 0.1,
           py::arg("sample_noise") = false, py::arg("noise_prior_scale") = 1.0, py::arg("prior_scale") = 1.0,
           py::arg("sample_prior_scale") = false, py::arg("outputs") = 0, py::arg("seed") = 0)
      .def_property_readonly("dim", &Bnn::dim, "Number of sampled (unconstrained) parameters")
      .def_property_readonly("names", &Bnn::param_names)
      .def_property_readonly("num_weights", &Bnn::num_weights)
      .def("log_density",
           [](const Bnn& b, const py::handle& theta) {
             auto t = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(theta);
             if (!t || t.ndim() != 1 || t.shape(0) != b.dim())
               throw py::value_error("theta: expected shape (" + std::to_string(b.dim()) + ",)");
             std::vector<double> th(t.data(), t.data() + b.dim()), g(th.size());
             const double lp = b.log_density_and_gradient(th, g);
             return py::make_tuple(lp, py::array_t<double>(static_cast<py::ssize_t>(g.size()), g.data()));
           },
           py::arg("theta"), "ln π(θ) and its gradient")
      .def("initial_theta", &Bnn::initial_theta)
      .def("sample", [](const Bnn& b, const std::string& out, py::kwargs kw) { return sample_density(b, sampler_options(kw), out); },
           py::arg("out") = "", "Draws from the posterior; options as trusty.sample")
      .def("predict", &predictive, py::arg("draws"), py::arg("x"), py::arg("quantiles") = std::vector<double>{0.05, 0.5, 0.95},
           py::arg("observation_noise") = true,
           "Posterior predictive at x from draws (a sample() result, or rows of constrained parameters)")
      .def(
          "fit_map",
          [](const Bnn& b, const std::string& optimizer, int64_t steps, double lr) {
            bayes::MapResult r;
            {
              py::gil_scoped_release nogil;
              r = bayes::fit_map(b, b.initial_theta(), {.optimizer = optimizer, .max_iterations = steps, .lr = lr});
            }
            py::dict d;
            d["theta"] = py::array_t<double>(static_cast<py::ssize_t>(r.theta.size()), r.theta.data());
            d["log_density"] = r.log_density;
            d["iterations"] = r.iterations;
            d["converged"] = r.converged;
            return d;
          },
          py::arg("optimizer") = "lbfgs", py::arg("steps") = 2000, py::arg("lr") = 1e-2, "Maximum a posteriori weights")
      .def(
          "fit_vi",
          [](const Bnn& b, int64_t iterations, int64_t mc_samples, double lr, int64_t draws, uint64_t seed) {
            bayes::VariationalFit f;
            mcmc::ChainDraws d;
            {
              py::gil_scoped_release nogil;
              auto start = bayes::fit_map(b, b.initial_theta()).theta;
              f = bayes::fit_variational(b, start, {.iterations = iterations, .mc_samples = mc_samples, .lr = lr, .seed = seed});
              d = bayes::variational_draws(b, f.q, draws, seed + 1);
            }
            py::dict r;
            r["mu"] = to_numpy(Eigen::MatrixXd(f.q.mu.transpose()));
            r["sd"] = to_numpy(Eigen::MatrixXd(f.q.sd().transpose()));
            r["draws"] = to_numpy(d.params);
            r["elbo"] = f.elbo;
            return r;
          },
          py::arg("iterations") = 10000, py::arg("mc_samples") = 4, py::arg("lr") = 1e-2, py::arg("draws") = 4000,
          py::arg("seed") = 0, "Mean-field Gaussian VI (Bayes by Backprop) from the MAP point; q's draws as rows");
}

}  // namespace trusty::python
