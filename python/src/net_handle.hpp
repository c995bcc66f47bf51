// The Python-side handle of an MLP (trusty.MLP): shared by the trainer bindings
// (bind_net.cpp) and the IMNN bindings (bind_imnn.cpp), which train the same network.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "trusty/nn/layers.hpp"

namespace trusty::python {

template <class T>
struct Net {
  std::vector<int64_t> widths;
  std::string activation, output_activation, init;
  double dropout;
  bool batch_norm;
  std::unique_ptr<nn::Sequential<T>> net;
  int64_t in() const { return widths.front(); }
  int64_t out() const { return widths.back(); }
};

}  // namespace trusty::python
