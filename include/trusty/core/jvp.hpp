// Forward mode recorded on the tape: jvp(f, x, v) returns (f(x), J_f(x)·v) as two ordinary
// Vars on the current tape. The tangent is built from the same ops as everything else, so a
// later reverse pass differentiates through it: d/dθ of a function of J_f v, with θ the
// weights inside f, is one backward() away (what ∂(summaries)/∂θ needs to be trainable).
//
// How: f(x) is recorded as usual, then its nodes are walked in creation order and each op's
// tangent rule (Node::tangent) builds its output's tangent from its inputs' tangents with
// ordinary ops. Nodes that do not depend on x (weights, data) get no tangent and cost nothing.
//
// Ops with a tangent rule: add, sub, mul, div (broadcasting), neg, add_scalar, scale,
// rdiv_scalar, exp, log, log1p, sqrt, pow, abs, square, tanh, sigmoid, softplus, relu,
// leaky_relu, elu, erf, erfc, clamp, where; sum, mean; reshape, slice, permute, transpose,
// gather, concat; matmul, linear (with or without bias and fused activation), mlp, dot; fftn,
// ifftn, rfftn, irfftn; conv (along x, w and b; fused ReLU and fused max pooling), max_pool
// (the tangent at each window's maximum), avg_pool.
// Any other op on the path from x to f(x) throws std::logic_error naming it.
// jvp nests: a jvp inside f is walked by the outer one (second directional derivatives).
// Derivatives of the piecewise ops (relu, abs, clamp, leaky_relu, elu) are taken where they
// are smooth, as their backward rules do.
//
//   GradScope<double> scope;
//   auto x = variable(x0);
//   auto [y, jv] = jvp<double>([&](const Var<double>& z) { return tanh(linear(z, w, b)); }, x, constant(v0));
//   scope.backward(sum(square(jv)));  // w.grad(), b.grad(), x.grad() now hold d Σ(J v)² / d(·)
#pragma once
#include <functional>
#include <utility>

#include "trusty/core/tape.hpp"

namespace trusty::core {

// (f(x), J_f(x)·v) for v of x's shape (std::invalid_argument otherwise). The tangent of an
// output that does not depend on x is a zero constant.
template <class T>
std::pair<Var<T>, Var<T>> jvp(const std::function<Var<T>(const Var<T>&)>& f, const Var<T>& x, const Var<T>& v);

}  // namespace trusty::core
