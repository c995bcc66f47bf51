// The Poisson point-process likelihood of a halo catalogue above a mass threshold M_th, for
// an intensity given per voxel by the seed's mixture (intensity_mdn.hpp). The number density
// of halos per unit mass in voxel j is
//   n_j(M) = Σ_i α_ij e^{−μ_ij} N(ln M; μ_ij, σ_ij),
// and, for halos j in voxels v(j) and voxels of volume V,
//   ln L = Σ_halos ln n_{v(j)}(M_j)  −  Σ_voxels λ_j,
//   λ_j  = V ∫_{M_th}^∞ n_j(M) dM = V Σ_i (α_ij/2) exp(σ_ij²/2) erfc((ln M_th − μ_ij − σ_ij²) / √(2σ_ij²)).
// This is the self-consistent form (Charnock, Lavaux, Wandelt et al. 2020 print the halo term
// without e^{−μ}; only with it do both terms describe one intensity, so that halos drawn from
// λ give an unbiased maximum-likelihood fit — tests/density/calibration_test.cpp). Constant
// terms (Σ ln V) are dropped. Every term is a differentiable tape op: the gradient is
// core::value_and_grad's.
#pragma once
#include <cstdint>
#include <span>

#include "trusty/density/intensity_mdn.hpp"

namespace trusty::density {

struct PoissonOptions {
  double voxel_volume = 1;  // V
  double log_threshold = 0; // ln M_th
  void validate() const;
};

// λ_j, the expected number of halos above threshold per voxel: [V].
template <class T> Var<T> expected_counts(const IntensityParams<T>& p, const PoissonOptions& opt);
// λ_ij per component: [V, K].
template <class T> Var<T> expected_component_counts(const IntensityParams<T>& p, const PoissonOptions& opt);

// ln n_{v(j)}(M_j) per halo: [H]. halo_voxel holds each halo's row of p; log_mass [H].
// One fused node (one pass each way, ~10× fewer memory passes than the composite); when
// log_mass itself needs a gradient it falls back to the reference.
template <class T>
Var<T> halo_log_intensity(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass);
// The same as a composite of gather, log, normal_log_prob and log-sum-exp (the reference the
// fused node is tested against).
template <class T>
Var<T> halo_log_intensity_reference(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass);

// ln L (a scalar).
template <class T>
Var<T> poisson_log_likelihood(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass,
                              const PoissonOptions& opt);

}  // namespace trusty::density
