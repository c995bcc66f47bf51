// Differentiable operations on Var<T>. Each is a primitive with one gradient rule
// (src/core/ops_*.cpp); composites are built from them. Element-wise binary ops follow
// NumPy broadcasting. All throw std::invalid_argument naming the shapes on a mismatch.
#pragma once
#include <span>
#include <type_traits>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/core/tape.hpp"

namespace trusty::core {

// ---- element-wise, broadcasting -------------------------------------------------------
template <class T> Var<T> add(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> sub(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> mul(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> div(const Var<T>& a, const Var<T>& b);
template <class T> Var<T> add_scalar(const Var<T>& a, std::type_identity_t<T> s);
template <class T> Var<T> scale(const Var<T>& a, std::type_identity_t<T> s);
template <class T> Var<T> rdiv_scalar(std::type_identity_t<T> s, const Var<T>& a);  // s / a

// ---- element-wise, unary ----------------------------------------------------------------
template <class T> Var<T> neg(const Var<T>& a);
template <class T> Var<T> exp(const Var<T>& a);
template <class T> Var<T> log(const Var<T>& a);
template <class T> Var<T> log1p(const Var<T>& a);
template <class T> Var<T> sqrt(const Var<T>& a);
template <class T> Var<T> pow(const Var<T>& a, std::type_identity_t<T> p);
template <class T> Var<T> abs(const Var<T>& a);
template <class T> Var<T> square(const Var<T>& a);
template <class T> Var<T> tanh(const Var<T>& a);
template <class T> Var<T> sigmoid(const Var<T>& a);
template <class T> Var<T> softplus(const Var<T>& a);
template <class T> Var<T> relu(const Var<T>& a);
template <class T> Var<T> leaky_relu(const Var<T>& a, std::type_identity_t<T> slope = T(0.01));
template <class T> Var<T> elu(const Var<T>& a, std::type_identity_t<T> alpha = T(1));
template <class T> Var<T> erf(const Var<T>& a);
template <class T> Var<T> erfc(const Var<T>& a);
template <class T> Var<T> clamp(const Var<T>& a, std::type_identity_t<T> lo, std::type_identity_t<T> hi);
// cond is a constant mask of the output's shape (non-zero selects a); a, b have that shape.
template <class T> Var<T> where(const Tensor<T>& cond, const Var<T>& a, const Var<T>& b);

// Inverted dropout as one primitive: each element is kept with probability 1-p and scaled
// by 1/(1-p); the mask (drawn from rng, 32 bits per element) is kept for backward.
template <class T> Var<T> dropout(const Var<T>& a, double p, class Rng& rng);

// ---- shape --------------------------------------------------------------------------------
template <class T> Var<T> reshape(const Var<T>& a, const Shape& s);  // free: shares memory
template <class T> Var<T> transpose(const Var<T>& a, int axis0 = -2, int axis1 = -1);
template <class T> Var<T> permute(const Var<T>& a, std::span<const int> axes);
// Elements start, start+step, ... < stop along `axis` (negative start/stop count from the end).
template <class T> Var<T> slice(const Var<T>& a, int axis, int64_t start, int64_t stop, int64_t step = 1);
// Rows `index` along `axis` (index_select); an index may repeat.
template <class T> Var<T> gather(const Var<T>& a, int axis, std::span<const int64_t> index);
template <class T> Var<T> concat(std::span<const Var<T>> parts, int axis);

// ---- reductions (empty axes = all axes) ---------------------------------------------------
template <class T> Var<T> sum(const Var<T>& a, std::span<const int> axes = {}, bool keepdims = false);
template <class T> Var<T> mean(const Var<T>& a, std::span<const int> axes = {}, bool keepdims = false);
template <class T> Var<T> max(const Var<T>& a, int axis, bool keepdims = false);
template <class T> Var<T> logsumexp(const Var<T>& a, int axis, bool keepdims = false);
template <class T> Var<T> softmax(const Var<T>& a, int axis = -1);
template <class T> Var<T> log_softmax(const Var<T>& a, int axis = -1);

// ---- products -----------------------------------------------------------------------------
// [m,k]@[k,n]; [...,m,k]@[k,n] (batch folded into one GEMM); [...,m,k]@[...,k,n] batched.
template <class T> Var<T> matmul(const Var<T>& a, const Var<T>& b);
// x @ W + b for x [..., k], W [k, n], b [n] (or no b): the dense layer as one node, so the
// bias costs no broadcast pass and backward is two GEMMs and a column sum.
template <class T> Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b);
template <class T> Var<T> linear(const Var<T>& x, const Var<T>& w);
// act(x @ W + b) as one node, for the activations whose derivative is a function of their
// output (tanh' = 1 - y², sigmoid' = y(1 - y), relu' = [y > 0]): no separate activation
// node, value or gradient buffer, and one pass fewer each way. Same values and gradients as
// act(linear(x, W, b)).
enum class LinearAct { none, tanh, sigmoid, relu };
template <class T> Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b, LinearAct act);
template <class T> Var<T> linear(const Var<T>& x, const Var<T>& w, LinearAct act);
// A multilayer perceptron as one node, for small networks evaluated many times (HMC):
// widths = {d0, d1, ..., dL}; params (1-D) holds W_l [d_{l-1}, d_l] row-major then b_l [d_l]
// for l = 1..L (nn::Dense's layout); `act` after every layer but the last. x [..., d0] →
// [..., dL]. The same function as the chain of linear() nodes (mlp_reference, tested
// against it), computed with the rows along the vector lanes and no node per layer.
template <class T> Var<T> mlp(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act);
template <class T> Var<T> mlp_reference(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act);
// [..., n] · [..., n] summed over everything: a scalar.
template <class T> Var<T> dot(const Var<T>& a, const Var<T>& b);

// ---- log-densities (one node each, for log-posteriors) -----------------------------------
// Σ_i log N(x_i | mu_i, sigma_i) = Σ_i [-((x_i - mu_i) / sigma_i)² / 2 - log sigma_i - log(2π) / 2],
// a scalar (Stan's normal_lpdf, constants included). Each argument holds the same shape or a
// single element shared by every term; sigma > 0 (std::invalid_argument naming the element).
template <class T> Var<T> normal_lpdf(const Var<T>& x, const Var<T>& mu, const Var<T>& sigma);
template <class T> Var<T> normal_lpdf(const Var<T>& x, const Var<T>& mu, std::type_identity_t<T> sigma);
template <class T> Var<T> normal_lpdf(const Var<T>& x, std::type_identity_t<T> mu, std::type_identity_t<T> sigma);
// Element-wise log N(x | mu, sigma) = -((x - mu) / sigma)² / 2 - log sigma - log(2π) / 2, with
// NumPy broadcasting of the three arguments (the output has the broadcast shape): the terms
// of a mixture, which normal_lpdf's sum cannot give. sigma > 0 (std::invalid_argument).
template <class T> Var<T> normal_log_prob(const Var<T>& x, const Var<T>& mu, const Var<T>& sigma);

// ---- operators ----------------------------------------------------------------------------
template <class T> Var<T> operator+(const Var<T>& a, const Var<T>& b) { return add(a, b); }
template <class T> Var<T> operator-(const Var<T>& a, const Var<T>& b) { return sub(a, b); }
template <class T> Var<T> operator*(const Var<T>& a, const Var<T>& b) { return mul(a, b); }
template <class T> Var<T> operator/(const Var<T>& a, const Var<T>& b) { return div(a, b); }
template <class T> Var<T> operator-(const Var<T>& a) { return neg(a); }
template <class T> Var<T> operator+(const Var<T>& a, std::type_identity_t<T> s) { return add_scalar(a, s); }
template <class T> Var<T> operator+(std::type_identity_t<T> s, const Var<T>& a) { return add_scalar(a, s); }
template <class T> Var<T> operator-(const Var<T>& a, std::type_identity_t<T> s) { return add_scalar(a, -s); }
template <class T> Var<T> operator-(std::type_identity_t<T> s, const Var<T>& a) { return add_scalar(neg(a), s); }
template <class T> Var<T> operator*(const Var<T>& a, std::type_identity_t<T> s) { return scale(a, s); }
template <class T> Var<T> operator*(std::type_identity_t<T> s, const Var<T>& a) { return scale(a, s); }
template <class T> Var<T> operator/(const Var<T>& a, std::type_identity_t<T> s) { return scale(a, T(1) / s); }
template <class T> Var<T> operator/(std::type_identity_t<T> s, const Var<T>& a) { return rdiv_scalar(s, a); }

}  // namespace trusty::core
