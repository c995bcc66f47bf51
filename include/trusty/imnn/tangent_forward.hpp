// Summaries and their derivatives with respect to θ through the network's input Jacobian,
// for precomputed dd/dθ (derivative mode 2): forward-mode tangents carried layer by layer as
// ordinary tape ops,
//   ż_l = ḣ_{l−1} W_l,   ḣ_l = act'(z_l) ⊙ ż_l,
// so that reverse mode differentiates ∂x/∂θ = (∂f/∂d)(∂d/∂θ) with respect to the weights.
// Supports networks of Dense and activation layers (identity, tanh, sigmoid, relu,
// leaky_relu with slope 0.01, elu with α = 1, softplus), i.e. what nn::make_mlp builds
// without batch norm or dropout; anything else is an std::invalid_argument naming the layer.
#pragma once
#include "trusty/core/ops.hpp"
#include "trusty/nn/layers.hpp"

namespace trusty::imnn {

struct TangentOutputs {
  core::Var<double> x;   // [n, n_summaries], the network's output for every row of data
  core::Var<double> dx;  // [n_t, n_summaries], the derivative along each tangent row
};

// data [n, D]; tangents [n_t, D] where tangent row r belongs to data row owner[r]; params is
// the network's flat weight vector as a 1-D Var (nn::Module's layout), so this works both
// with core::parameter over net.parameters() and with any variable for gradient checks.
TangentOutputs forward_with_tangents(const nn::Sequential<double>& net, const core::Var<double>& params,
                                     const core::Var<double>& data, const core::Var<double>& tangents,
                                     std::span<const int64_t> owner);

// The flat weights of `net` as a tape leaf whose gradient accumulates into net.gradients().
core::Var<double> parameters_leaf(nn::Module<double>& net);

}  // namespace trusty::imnn
