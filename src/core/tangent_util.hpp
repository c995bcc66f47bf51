// Helpers for the ops' tangent rules (Node::tangent, used by jvp()).
#pragma once
#include "trusty/core/ops.hpp"

namespace trusty::core::detail {

// The tangent of `in` as a Var (empty when it is zero).
template <class T>
Var<T> tangent_of(TangentMap<T>& t, Node<T>* in) {
  return Var<T>(in ? t.of(in) : nullptr);
}

// r broadcast to shape s (an input's tangent that was broadcast by its op).
template <class T>
Var<T> broadcast_to(const Var<T>& r, const Shape& s) {
  if (r.shape() == s) return r;
  return add(r, constant(Tensor<T>(s)));
}

// A constant of `a`'s shape with f(a_i) at element i (masks of piecewise derivatives).
template <class T, class F>
Var<T> constant_map(const Node<T>* a, F f) {
  Tensor<T> m(a->shape);
  auto s = m.span();
  for (int64_t i = 0; i < a->n; ++i) s[static_cast<size_t>(i)] = f(a->val[i]);
  return constant(m);
}

}  // namespace trusty::core::detail
