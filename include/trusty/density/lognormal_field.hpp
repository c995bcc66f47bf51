// A 3-D periodic log-normal density field from a power spectrum (Coles & Jones 1991):
// a Gaussian field g with power spectrum P(k) is drawn on an n³ grid over a cube of side L
// (white noise w ~ N(0, 1) per voxel, G_k = W_k √(P(k)/V_cell) by FFTW, g = IFFT(G)), then
//   δ = exp(g − σ²/2) − 1,   σ² = (1/L³) Σ_{k ≠ 0} P(k)   (the variance of g),
// so that ⟨δ⟩ = 0 and δ > −1. The spectrum is a power law with a Gaussian cut-off,
//   P(k) = A k^index exp(−(k R)²),  with A set so that the rms of g is `sigma`.
// A pure function of (options, seed): the white noise is core::Rng(seed, 0).
#pragma once
#include <cstdint>

#include "trusty/core/tensor.hpp"

namespace trusty::density {

struct FieldOptions {
  int64_t grid = 32;            // n
  double box_size = 32;         // L
  double spectral_index = -2;   // of P(k)
  double smoothing = 1;         // R, in the box's length unit
  double sigma = 0.6;           // rms of the Gaussian field g
  void validate() const;        // std::invalid_argument naming the option
};

// The Gaussian field g [n, n, n] with rms exactly sigma in expectation.
core::Tensor<double> gaussian_field(const FieldOptions& opt, uint64_t seed);
// δ [n, n, n] from the same g.
core::Tensor<double> lognormal_field(const FieldOptions& opt, uint64_t seed);

}  // namespace trusty::density
