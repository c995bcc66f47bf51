// A Python callable as an mcmc::LogDensity: fn(theta) -> (log_density, gradient), theta a
// float64 numpy vector of length dim, gradient anything numpy turns into one. Calls take the
// GIL, so chains on several threads take turns in Python (the sampler's own work between
// calls still runs in parallel). A wrong return shape or type is a ValueError/TypeError naming
// the callable's result and what was expected; a Python exception raised inside fn reaches
// the caller of trusty.sample unchanged.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <string>

#include "trusty/mcmc/log_density.hpp"

namespace trusty::python {

namespace py = pybind11;

class PyDensity : public mcmc::LogDensity {
 public:
  PyDensity(py::function fn, int64_t dim, std::vector<std::string> names)
      : fn_(std::move(fn)), dim_(dim), names_(std::move(names)) {
    if (dim <= 0) throw py::value_error("dim: expected a positive dimension, got " + std::to_string(dim));
    if (!names_.empty() && static_cast<int64_t>(names_.size()) != dim)
      throw py::value_error("names: expected " + std::to_string(dim) + " names, got " + std::to_string(names_.size()));
  }
  ~PyDensity() override {
    py::gil_scoped_acquire gil;
    fn_ = py::function();
  }
  int64_t dim() const override { return dim_; }
  std::vector<std::string> param_names() const override {
    return names_.empty() ? mcmc::LogDensity::param_names() : names_;
  }

  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override {
    py::gil_scoped_acquire gil;
    py::array_t<double> th(static_cast<py::ssize_t>(theta.size()));
    std::copy(theta.begin(), theta.end(), th.mutable_data());
    py::object out = fn_(th);
    if (!py::isinstance<py::tuple>(out) || py::len(out) != 2)
      throw py::type_error("log density callable: expected a (log_density, gradient) tuple, got " +
                           std::string(py::str(py::type::of(out).attr("__name__"))));
    auto t = out.cast<py::tuple>();
    double lp;
    try {
      lp = t[0].cast<double>();
    } catch (const py::cast_error&) {
      throw py::type_error("log density callable: expected a number as the first element, got " +
                           std::string(py::str(py::type::of(t[0]).attr("__name__"))));
    }
    auto g = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(t[1]);
    if (!g) throw py::type_error("log density callable: the gradient is not convertible to a float64 array");
    if (g.ndim() != 1 || g.shape(0) != dim_)
      throw py::value_error("log density callable: expected a gradient of shape (" + std::to_string(dim_) + ",), got " +
                            shape_of(g));
    std::copy(g.data(), g.data() + dim_, grad.begin());
    return lp;
  }

 private:
  static std::string shape_of(const py::array& a) {
    std::string s = "(";
    for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
    return s + (a.ndim() == 1 ? ",)" : ")");
  }
  py::function fn_;
  int64_t dim_;
  std::vector<std::string> names_;
};

}  // namespace trusty::python
