#include "trusty/imnn/tangent_forward.hpp"

#include <functional>
#include <stdexcept>

#include "trusty/core/jvp.hpp"

namespace trusty::imnn {

using core::Shape;
using core::Tensor;
using core::Var;

namespace {
// A contiguous piece of the flat weights, shaped (an alias: no copy).
Var<double> piece(const Var<double>& params, const nn::Module<double>::Entry& e) {
  return core::reshape(core::slice(params, 0, e.offset, e.offset + e.shape.numel()), e.shape);
}

Tensor<double> positive_mask(const Var<double>& z, double below) {
  Tensor<double> m(z.shape());
  const double* v = z.data();
  for (int64_t i = 0; i < z.numel(); ++i) m.data()[i] = v[i] > 0 ? 1.0 : below;
  return m;
}

// act'(z) ⊙ ż for the activation `a`; zt = z (and ht = act(z)) at the tangent rows' owners.
Var<double> tangent_through(nn::Act a, const Var<double>& zt, const Var<double>& ht, const Var<double>& dz) {
  switch (a) {
    case nn::Act::identity: return dz;
    case nn::Act::tanh: return (1.0 - core::square(ht)) * dz;
    case nn::Act::sigmoid: return ht * (1.0 - ht) * dz;
    case nn::Act::relu: return core::constant(positive_mask(zt, 0.0)) * dz;
    case nn::Act::leaky_relu: return core::constant(positive_mask(zt, 0.01)) * dz;
    case nn::Act::elu: {  // 1 for z > 0, e^z = elu(z) + 1 otherwise
      Tensor<double> ones(zt.shape(), 1.0);
      return core::where(positive_mask(zt, 0.0), core::constant(ones), ht + 1.0) * dz;
    }
    case nn::Act::softplus: return core::sigmoid(zt) * dz;
    default: break;
  }
  throw std::invalid_argument(std::string("forward_with_tangents: activation ") + nn::activation_name(a) +
                              " is not supported (identity, tanh, sigmoid, relu, leaky_relu, elu, softplus are)");
}

// A layer in training mode whose output depends on its batch or a random mask, named; empty
// when there is none.
std::string batch_dependent(const nn::Module<double>& m) {
  if (m.training() && (m.kind() == "BatchNorm" || m.kind() == "Dropout")) return m.describe();
  for (const auto& [name, child] : m.children())
    if (auto s = batch_dependent(*child); !s.empty()) return s;
  return {};
}
}  // namespace

Var<double> parameters_leaf(nn::Module<double>& net) {
  auto p = net.parameters();
  return core::parameter(Shape{static_cast<int64_t>(p.size())}, p.data(), net.gradients().data());
}

namespace {
bool supported(nn::Act a) {
  switch (a) {
    case nn::Act::identity:
    case nn::Act::tanh:
    case nn::Act::sigmoid:
    case nn::Act::relu:
    case nn::Act::leaky_relu:
    case nn::Act::elu:
    case nn::Act::softplus: return true;
    default: return false;
  }
}

void check_rows(const Var<double>& data, const Var<double>& tangents, std::span<const int64_t> owner) {
  if (data.rank() != 2 || tangents.rank() != 2 || tangents.dim(1) != data.dim(1) ||
      static_cast<int64_t>(owner.size()) != tangents.dim(0))
    throw std::invalid_argument("forward_with_tangents: expected data [n, D], tangents [n_t, D] and one owner per tangent row, got " +
                                data.shape().str() + ", " + tangents.shape().str() + " and " + std::to_string(owner.size()));
  for (auto o : owner)
    if (o < 0 || o >= data.dim(0)) throw std::invalid_argument("forward_with_tangents: owner row " + std::to_string(o) + " out of range");
}

TangentOutputs layerwise(const nn::Sequential<double>& net, const Var<double>& params, const Var<double>& data,
                         const Var<double>& tangents, std::span<const int64_t> owner) {
  const auto entries = net.named_parameters();
  Var<double> h = data, dh = tangents, z;
  size_t e = 0;
  for (const auto& [name, child] : net.children()) {
    if (dynamic_cast<const nn::Dense<double>*>(child.get())) {
      if (e >= entries.size() || entries[e].name != name + ".weight")
        throw std::invalid_argument("forward_with_tangents: no weight for layer " + name);
      auto w = piece(params, entries[e++]);
      const bool bias = e < entries.size() && entries[e].name == name + ".bias";
      z = bias ? core::linear(h, w, piece(params, entries[e++])) : core::linear(h, w);
      h = z;
      dh = core::matmul(dh, w);
    } else if (auto* a = dynamic_cast<const nn::Activation<double>*>(child.get())) {
      if (!z) throw std::invalid_argument("forward_with_tangents: an activation must follow a Dense layer");
      const nn::Act act = a->act();
      h = nn::activate<double>(z, act, act == nn::Act::elu ? 1.0 : 0.01);  // the layers' default α
      dh = tangent_through(act, core::gather(z, 0, owner), core::gather(h, 0, owner), dh);
      z = h;
    } else {
      throw std::invalid_argument("forward_with_tangents: layer " + name + " (" + child->describe() +
                                  ") is not supported: mode 2 needs a network of Dense and activation layers");
    }
  }
  return {h, dh};
}
}  // namespace

bool layerwise_tangents(const nn::Module<double>& net) {
  auto* seq = dynamic_cast<const nn::Sequential<double>*>(&net);
  if (!seq) return false;
  for (const auto& [name, child] : seq->children()) {
    if (dynamic_cast<const nn::Dense<double>*>(child.get())) continue;
    auto* a = dynamic_cast<const nn::Activation<double>*>(child.get());
    if (!a || !supported(a->act())) return false;
  }
  return true;
}

TangentOutputs forward_with_tangents_jvp(nn::Module<double>& net, const Var<double>& params, const Var<double>& data,
                                         const Var<double>& tangents, std::span<const int64_t> owner) {
  check_rows(data, tangents, owner);
  if (auto l = batch_dependent(net); !l.empty())
    throw std::invalid_argument("forward_with_tangents: layer " + l + " is not supported: its output depends on the batch or a random mask");
  const std::function<Var<double>(const Var<double>&)> f = [&](const Var<double>& x) { return net.forward_at(x, params); };
  Var<double> x = f(data);
  try {
    auto [xt, dx] = core::jvp<double>(f, core::gather(data, 0, owner), tangents);
    return {x, dx};
  } catch (const std::invalid_argument&) {
    throw;
  } catch (const std::logic_error& e) {  // an op without a tangent rule
    throw std::invalid_argument("forward_with_tangents: " + net.describe() + " cannot carry input tangents: " + e.what());
  }
}

TangentOutputs forward_with_tangents(nn::Module<double>& net, const Var<double>& params, const Var<double>& data,
                                     const Var<double>& tangents, std::span<const int64_t> owner) {
  check_rows(data, tangents, owner);
  if (layerwise_tangents(net)) return layerwise(dynamic_cast<const nn::Sequential<double>&>(net), params, data, tangents, owner);
  return forward_with_tangents_jvp(net, params, data, tangents, owner);
}

}  // namespace trusty::imnn
