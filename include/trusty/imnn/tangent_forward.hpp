// Summaries and their derivatives with respect to θ through the network's input Jacobian,
// for precomputed dd/dθ (derivative mode 2): forward-mode tangents carried layer by layer as
// ordinary tape ops,
//   ż_l = ḣ_{l−1} W_l,   ḣ_l = act'(z_l) ⊙ ż_l,
// so that reverse mode differentiates ∂x/∂θ = (∂f/∂d)(∂d/∂θ) with respect to the weights.
// That layer-by-layer path takes networks of Dense and activation layers (identity, tanh,
// sigmoid, relu, leaky_relu with slope 0.01, elu with α = 1, softplus), i.e. what
// nn::make_mlp builds without batch norm or dropout. Any other network (CNNs: convolution,
// pooling, flatten/reshape) goes through core::jvp over its forward at the tangent rows'
// owners, which needs a tangent rule for every op on the path (trusty/core/jvp.hpp); a layer
// without one is an std::invalid_argument naming it. Derivative mode 3 uses the same
// function with dd/dθ from the simulator's tape form.
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
// Layer by layer when layerwise_tangents(net), else forward_with_tangents_jvp.
TangentOutputs forward_with_tangents(nn::Module<double>& net, const core::Var<double>& params,
                                     const core::Var<double>& data, const core::Var<double>& tangents,
                                     std::span<const int64_t> owner);
// Any network: x = net.forward_at(data, params) and, along each tangent row, core::jvp of
// net.forward_at at its owner's row (one more forward over the n_t rows).
TangentOutputs forward_with_tangents_jvp(nn::Module<double>& net, const core::Var<double>& params,
                                         const core::Var<double>& data, const core::Var<double>& tangents,
                                         std::span<const int64_t> owner);
// Whether the layer-by-layer path takes `net` (an nn::Sequential of Dense and supported
// activation layers).
bool layerwise_tangents(const nn::Module<double>& net);

// The flat weights of `net` as a tape leaf whose gradient accumulates into net.gradients().
core::Var<double> parameters_leaf(nn::Module<double>& net);

}  // namespace trusty::imnn
