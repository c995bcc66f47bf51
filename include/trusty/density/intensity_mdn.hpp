// The seed's intensity form of a mixture density network (Charnock, Lavaux, Wandelt et al.
// 2020, "Neural physical engines for inferring the halo mass distribution function"): for
// u = ln M and features ψ [V, F] (one row per voxel), K components
//   α_i = softplus(w_iᵅ·ψ + b_iᵅ + o_α)                      amplitudes (no normalisation:
//                                                             an intensity, not a density)
//   μ_0 = w_0ᵘ·ψ + b_0ᵘ + o_μ,  μ_i = μ_{i−1} + ReLU(w_iᵘ·ψ + b_iᵘ)   ordered means: no label
//                                                             switching
//   σ_i = softplus(w_iˢ·ψ + b_iˢ + o_σ)
// with the paper's initial offsets o_α = ln 10⁻³, o_μ = ln(2×10¹²), o_σ = ln 10³ by default
// (so that θ = 0 starts from a sensible mass function; they shift what θ means, nothing else).
//
// Flat θ layout (intensity_mdn_size = 3K(F+1) values), component-major:
//   component i: [ w_iᵅ (F), b_iᵅ, w_iᵘ (F), b_iᵘ, w_iˢ (F), b_iˢ ]
// For F = 1, K = 2 that is the 12 head parameters of the neural bias model.
#pragma once
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "trusty/core/tape.hpp"

namespace trusty::density {

using core::Var;

struct IntensityOffsets {
  double alpha = std::log(1e-3);
  double mu = std::log(2e12);
  double sigma = std::log(1e3);
};

// The mixture's parameters per voxel, each [V, K].
template <class T>
struct IntensityParams {
  Var<T> alpha, mu, sigma;
};

int64_t intensity_mdn_size(int64_t features, int64_t components);
// Names of the θ entries in the layout above ("alpha.w.1", "alpha.b.1", "mu.w.1", ..., 1-based
// components; "w.f" with f 1-based when F > 1).
std::vector<std::string> intensity_mdn_names(int64_t features, int64_t components);

// psi [V, F], theta [intensity_mdn_size(F, K)] → α, μ, σ [V, K].
template <class T>
IntensityParams<T> intensity_mdn(const Var<T>& psi, const Var<T>& theta, int64_t components,
                                 const IntensityOffsets& offsets = {});

// ln n(u) = ln Σ_i α_i N(u; μ_i, σ_i) per row: the seed's mass function per unit ln M.
// u [V, 1] or [V] (one value per row of the parameters) → [V].
template <class T> Var<T> intensity_log_density(const IntensityParams<T>& p, const Var<T>& u);

}  // namespace trusty::density
