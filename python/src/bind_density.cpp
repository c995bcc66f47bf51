// The density layer from Python: mixture density networks (log density, sampling), the loss
// registry, halo catalogues (simulate, save, load) and the neural bias model (log density,
// MAP fit; sampling through trusty.sample_bias in bind_mcmc.cpp).
#include <pybind11/numpy.h>
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "trusty/bayes/map_fit.hpp"
#include "trusty/density/halo_simulator.hpp"
#include "trusty/density/mdn_loss.hpp"

namespace trusty::python {

namespace {

using Array = py::array_t<double, py::array::c_style | py::array::forcecast>;

core::Tensor<double> matrix(const py::handle& obj, const char* arg, int64_t cols) {
  Array a = Array::ensure(obj);
  if (!a) throw py::type_error(std::string(arg) + ": expected a float64 array");
  if (a.ndim() != 2 || (cols > 0 && a.shape(1) != cols))
    throw py::value_error(std::string(arg) + ": expected shape (n, " + (cols > 0 ? std::to_string(cols) : "k") + "), got " +
                          shape_str(a));
  return core::Tensor<double>(core::Shape{a.shape(0), a.shape(1)}, std::span<const double>(a.data(), static_cast<size_t>(a.size())));
}

py::array_t<double> numpy(const core::Tensor<double>& t) {
  const auto dims = t.shape().to_vector();
  const std::vector<py::ssize_t> shape(dims.begin(), dims.end());
  py::array_t<double> a(shape);
  const auto c = t.contiguous();
  std::copy(c.data(), c.data() + c.numel(), a.mutable_data());
  return a;
}

density::MdnSpec spec_of(int64_t components, int64_t dims, const std::string& covariance, const std::string& sigma) {
  density::MdnSpec s{.components = components, .dims = dims, .covariance = density::parse_covariance(covariance)};
  if (sigma != "exp" && sigma != "softplus") throw py::value_error("sigma: expected exp or softplus, got '" + sigma + "'");
  s.softplus_sigma = sigma == "softplus";
  s.validate();
  return s;
}

py::dict catalogue_dict(const density::Catalogue& c) {
  py::dict d;
  d["field"] = numpy(c.field);
  d["positions"] = numpy(c.positions);
  d["masses"] = numpy(c.masses);
  d["box_size"] = c.box_size;
  d["mass_threshold"] = c.mass_threshold;
  return d;
}

}  // namespace

void bind_density(py::module_& m) {
  density::register_losses();
  m.def("loss_names", [] { return nn::loss_names<double>(); }, "The registered losses (Trainer(loss=...))");
  m.def(
      "mdn_log_prob",
      [](py::handle out, py::handle y, int64_t components, const std::string& covariance, const std::string& sigma) {
        const auto yt = matrix(y, "y", 0);
        const auto s = spec_of(components, yt.dim(1), covariance, sigma);
        const auto o = matrix(out, "outputs", s.output_size());
        core::GradScope<double> scope;
        return numpy(density::mdn_log_prob(core::constant(o), core::constant(yt), s).value());
      },
      py::arg("outputs"), py::arg("y"), py::arg("components") = 2, py::arg("covariance") = "diagonal",
      py::arg("sigma") = "exp", "ln p(y | x) per row from an MDN's outputs (n, output_size) and targets y (n, dims)");
  m.def(
      "mdn_sample",
      [](py::handle out, int64_t components, int64_t dims, const std::string& covariance, const std::string& sigma,
         uint64_t seed) {
        const auto s = spec_of(components, dims, covariance, sigma);
        core::Rng rng(seed);
        return numpy(density::mdn_sample(matrix(out, "outputs", s.output_size()), s, rng));
      },
      py::arg("outputs"), py::arg("components") = 2, py::arg("dims") = 1, py::arg("covariance") = "diagonal",
      py::arg("sigma") = "exp", py::arg("seed") = 0, "One draw of y per row of an MDN's outputs: (n, dims)");
  m.def(
      "simulate_catalogue",
      [](int64_t grid, double box_size, uint64_t seed, double sigma, double spectral_index, double smoothing,
         double mass_threshold, std::vector<double> theta) {
        density::HaloSimulatorOptions o;
        o.field = {.grid = grid, .box_size = box_size > 0 ? box_size : static_cast<double>(grid),
                   .spectral_index = spectral_index, .smoothing = smoothing, .sigma = sigma};
        o.mass_threshold = mass_threshold;
        o.theta = std::move(theta);
        density::Catalogue c;
        {
          py::gil_scoped_release nogil;
          c = density::simulate_catalogue(o, seed);
        }
        return catalogue_dict(c);
      },
      py::arg("grid") = 16, py::arg("box_size") = 0.0, py::arg("seed") = 1, py::arg("sigma") = 0.6,
      py::arg("spectral_index") = -1.5, py::arg("smoothing") = 1.5, py::arg("mass_threshold") = 1.4462570642914751e12,
      py::arg("theta") = std::vector<double>{},
      "A halo catalogue from the built-in simulator (dict: field, positions, masses, box_size, mass_threshold)");
  m.def("default_true_theta", &density::default_true_theta, "The simulator's built-in 17 parameters");
  m.def("bias_parameter_names", [](int64_t k) { return density::bias_model_names(k); }, py::arg("components") = 2);
  m.def("load_catalogue", [](const std::string& p) { return catalogue_dict(density::load_catalogue(p)); }, py::arg("path"),
        "Reads and validates a catalogue .npz (ValueError naming the array and index)");
  m.def(
      "bias_log_density",
      [](const std::string& path, std::vector<double> theta, double prior_sd) {
        density::BiasModelOptions o;
        o.prior_sd = prior_sd;
        const density::NeuralBiasModel model(density::load_catalogue(path), o);
        std::vector<double> g(static_cast<size_t>(model.dim()));
        if (static_cast<int64_t>(theta.size()) != model.dim())
          throw py::value_error("theta: expected " + std::to_string(model.dim()) + " values, got " + std::to_string(theta.size()));
        const double lp = model.log_density_and_gradient(theta, g);
        return py::make_tuple(lp, g, model.expected_count(theta));
      },
      py::arg("path"), py::arg("theta"), py::arg("prior_sd") = 10.0,
      "(ln π, gradient, expected halo count) of the neural bias model on a catalogue file");
}

}  // namespace trusty::python
