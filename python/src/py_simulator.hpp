// A Python callable as an sim::Simulator: fn(theta, seed, index) -> array of the data shape.
// simulate() takes the GIL for the call (the IMNN loop itself runs with the GIL released);
// the result is checked for type and shape here (a ValueError naming the simulator, the
// simulation index and θ) and for finite values by sim::simulate_batch /
// simulate_derivatives. Seed-matched derivatives need the same noise at θ ± δθ/2: the
// (seed, index) contract gives it when the callable draws its noise from a generator seeded
// by (seed, index) alone (e.g. numpy's default_rng([seed, index])).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <span>
#include <string>

#include "convert.hpp"
#include "trusty/sim/simulator.hpp"

namespace trusty::python {

class PySimulator final : public sim::Simulator {
 public:
  PySimulator(py::function fn, std::string name, int64_t n_params, core::Shape shape)
      : fn_(std::move(fn)), name_(std::move(name)), n_params_(n_params), shape_(shape) {}
  ~PySimulator() override {
    py::gil_scoped_acquire gil;
    fn_ = py::function();
  }
  PySimulator(const PySimulator&) = delete;
  PySimulator& operator=(const PySimulator&) = delete;
  std::string name() const override { return name_; }
  int64_t n_params() const override { return n_params_; }
  core::Shape data_shape() const override { return shape_; }

  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override {
    py::gil_scoped_acquire gil;
    py::object r = fn_(theta_array(theta), seed, index);
    const std::string where = "simulator '" + name_ + "' (simulation index " + std::to_string(index) + ", theta = " + theta_str(theta) + ")";
    py::array a = py::array::ensure(r);
    if (!a) {
      PyErr_Clear();
      throw py::value_error(where + " returned " + type_name(r) + ", expected an array of shape " + shape_.str());
    }
    const char k = a.dtype().kind();
    if (k != 'f' && k != 'i' && k != 'u')
      throw py::value_error(where + " returned dtype " + std::string(py::str(a.dtype())) + ", expected real numbers (float64)");
    bool ok = a.ndim() == shape_.rank();
    for (py::ssize_t i = 0; ok && i < a.ndim(); ++i) ok = a.shape(i) == shape_[static_cast<int>(i)];
    if (!ok)
      throw py::value_error(where + " returned shape " + shape_str(a) + ", expected " + shape_str(shape_.to_vector()) +
                            " (the data shape)");
    auto c = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(a);
    std::copy(c.data(), c.data() + c.size(), out.begin());
  }

  static py::array_t<double> theta_array(std::span<const double> theta) {
    py::array_t<double> th(static_cast<py::ssize_t>(theta.size()));
    std::copy(theta.begin(), theta.end(), th.mutable_data());
    return th;
  }

 private:
  py::function fn_;
  std::string name_;
  int64_t n_params_;
  core::Shape shape_;
};

}  // namespace trusty::python
