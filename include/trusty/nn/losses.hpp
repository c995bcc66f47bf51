// Losses of the lecture, as differentiable functions returning a scalar Var.
// Classification losses take logits and are computed in a numerically stable form.
#pragma once
#include <span>
#include <string>

#include "trusty/core/tape.hpp"

namespace trusty::nn {

using core::Var;

// mean((pred - target)²)
template <class T> Var<T> mse(const Var<T>& pred, const Var<T>& target);
// ½ Σ (pred - target)²: the lecture's cost C = ½ Σ (a^L - y)²
template <class T> Var<T> half_sse(const Var<T>& pred, const Var<T>& target);
// mean over elements of -[t ln σ(z) + (1-t) ln(1-σ(z))] = mean(softplus(z) - t z)
template <class T> Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& target);
// mean over rows of -ln softmax(z)[label]; logits [batch, classes]
template <class T> Var<T> cross_entropy(const Var<T>& logits, std::span<const int64_t> labels);
// Gaussian negative log-likelihood, mean of ½[ln var + (t - μ)²/var] (+ ½ ln 2π if full)
template <class T> Var<T> gaussian_nll(const Var<T>& mean, const Var<T>& var, const Var<T>& target, bool full = false);
// Penalties on (a view of) the parameters.
template <class T> Var<T> l1_penalty(const Var<T>& theta);  // Σ |θ|
template <class T> Var<T> l2_penalty(const Var<T>& theta);  // Σ θ²

}  // namespace trusty::nn
