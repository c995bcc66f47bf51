// Internal to the dense-layer sources (ops_matmul.cpp, ops_mlp.cpp): a LinearAct applied in
// place to a layer's pre-activations.
#pragma once
#include <cstdint>

#include "trusty/core/kernels/vmath.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::core::linear_detail {

template <class T>
void activation_forward(LinearAct act, int64_t n, T* y) {
  switch (act) {
    case LinearAct::none: break;
    case LinearAct::tanh: kernels::vmath(kernels::VFun::tanh, n, y, y); break;
    case LinearAct::sigmoid: kernels::vsigmoid(n, y, y); break;
    case LinearAct::relu: for (int64_t i = 0; i < n; ++i) y[i] = y[i] < 0 ? T(0) : y[i]; break;  // NaN propagates
  }
}

}  // namespace trusty::core::linear_detail
