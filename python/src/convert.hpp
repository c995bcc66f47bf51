// numpy <-> trusty conversions with the checks the bindings promise: a wrong dtype is a
// TypeError and a wrong shape a ValueError, each naming the argument and what was expected.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <span>
#include <string>
#include <vector>

#include "trusty/io/dataset.hpp"

namespace trusty::python {

namespace py = pybind11;

template <class T> constexpr const char* dtype_name() { return std::is_same_v<T, float> ? "float32" : "float64"; }

// "(2, 3)", "(5,)": a shape as numpy prints it.
std::string shape_str(std::span<const int64_t> dims);
std::string shape_str(const py::array& a);
// "(1, 0.5)", "(2,)": parameter values as a tuple.
std::string theta_str(std::span<const double> theta);
// The Python type name of an object ("NoneType", "list").
std::string type_name(const py::handle& o);

// True when obj is a numpy array of integer dtype (class labels); false for anything else,
// including objects that are not arrays at all.
bool integer_array(const py::handle& obj);

// x: an array of dtype T with n rows whose trailing dimensions hold `features` values.
template <class T>
core::Tensor<T> features(const py::handle& obj, const char* arg, int64_t features);

// y: integer labels (classification, each in [0, classes)) or targets of dtype T with
// `outputs` columns (regression); n rows.
template <class T>
void targets(const py::handle& obj, const char* arg, int64_t n, int64_t outputs, bool classification, io::Dataset<T>& d);

// A copy of a tensor as a new numpy array.
template <class T>
py::array_t<T> to_numpy(const core::Tensor<T>& t);

}  // namespace trusty::python
