#pragma once
#include <pybind11/pybind11.h>

#include <string>

namespace trusty::python {
namespace py = pybind11;
template <class T>
void bind_dtype(py::module_& m, const std::string& suffix);
void bind_mcmc(py::module_& m);
void bind_bayes(py::module_& m);
void bind_density(py::module_& m);  // bind_density.cpp
void bind_imnn(py::module_& m);     // bind_imnn.cpp
}  // namespace trusty::python
