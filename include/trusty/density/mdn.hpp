// Mixture density networks (Bishop 1994, "Mixture density networks"): a network's output row
// parametrises a conditional density
//   p(y | x) = Σ_k π_k N(y; μ_k, Σ_k),   π = softmax(logits),
// evaluated with log-sum-exp throughout. Any network (nn::Module) whose last layer has
// MdnSpec::output_size() outputs is an MDN; mdn_log_prob turns its output into ln p(y|x), so
// the same function serves a trained network (forward) and a flat θ (forward_at).
//
// Output row layout, for K components and y ∈ ℝ^D:
//   [ logits (K) | means (K·D, component-major) | scales ]
//   diagonal: scales = K·D raw values, σ = exp(raw) or softplus(raw)
//   full:     scales = K·D(D+1)/2 raw values per component, the upper triangle of the
//             Cholesky factor U of the PRECISION, Σ_k⁻¹ = U_kᵀU_k, row-major (i ≤ j); the
//             diagonal is exp(raw) > 0. Then
//             ln N(y; μ, Σ) = −½‖U(y − μ)‖² + Σ_i ln U_ii − (D/2) ln 2π,
//             with no matrix inverse or solve (Williams 1996 parametrises it the same way).
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/core/tape.hpp"

namespace trusty::density {

using core::Tensor;
using core::Var;

enum class Covariance { diagonal, full };
Covariance parse_covariance(const std::string& s);  // "diagonal" | "full"; throws listing them

struct MdnSpec {
  int64_t components = 2;
  int64_t dims = 1;  // dimension of y
  Covariance covariance = Covariance::diagonal;
  bool softplus_sigma = false;  // diagonal: σ = softplus(raw) instead of exp(raw)
  void validate() const;        // std::invalid_argument naming the option
  int64_t output_size() const;  // the network outputs one row needs
};

// ln Σ_k exp(log_weights_k + component_log_prob_k) over the last axis: the mixture's log
// density from its components' (shapes broadcast; the output drops the last axis).
template <class T> Var<T> mixture_log_prob(const Var<T>& log_weights, const Var<T>& component_log_prob);

// ln p(y_n | x_n) for every row: out [N, output_size()], y [N, dims] → [N].
template <class T> Var<T> mdn_log_prob(const Var<T>& out, const Var<T>& y, const MdnSpec& spec);
// The training loss: −mean_n ln p(y_n | x_n).
template <class T> Var<T> mdn_nll(const Var<T>& out, const Var<T>& y, const MdnSpec& spec);

// One row's mixture in plain numbers (for sampling and reports).
struct MdnMixture {
  std::vector<double> weights;                 // π_k
  std::vector<std::vector<double>> means;      // μ_k [D]
  std::vector<std::vector<double>> scale;      // diagonal: σ_k [D]; full: U_k row-major [D·D]
};
MdnMixture mdn_mixture(std::span<const double> row, const MdnSpec& spec);
// One draw of y per row of out [N, output_size()] → [N, dims]: a component by its weight,
// then μ + σ ⊙ z (diagonal) or μ + U⁻¹z (full, back substitution), z ~ N(0, I).
Tensor<double> mdn_sample(const Tensor<double>& out, const MdnSpec& spec, core::Rng& rng);

}  // namespace trusty::density
