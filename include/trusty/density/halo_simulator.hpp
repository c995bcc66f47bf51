// The halo catalogue simulator: a known neural bias model generating catalogues, so that
// inference can be checked against the truth.
//   1. δ: a periodic log-normal field (lognormal_field.hpp).
//   2. The intensity: the neural bias model at the true θ (neural_bias_model.hpp): the field
//      smoothed by the known isotropic 3×3×3 kernel, bias, softplus, the known mixture.
//   3. Per voxel j and component i, λ_ij = V ∫_{M_th}^∞ α_ij e^{−μ_ij} N(ln M; μ_ij, σ_ij) dM;
//      the voxel's count N_j ~ Poisson(Σ_i λ_ij), each halo's component i with probability
//      λ_ij / λ_j, and ln M from the component's intensity per unit ln M,
//      e^{u−μ} N(u; μ, σ) ∝ N(u; μ + σ², σ), truncated to u ≥ ln M_th (exact, by rejection).
//      Positions uniform within the voxel.
// A pure function of (options, seed): the field's noise is core::Rng(seed, 0), the halos'
// core::Rng(seed, 1).
#pragma once
#include <cstdint>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/density/catalogue.hpp"
#include "trusty/density/lognormal_field.hpp"
#include "trusty/density/neural_bias_model.hpp"

namespace trusty::density {

struct HaloSimulatorOptions {
  FieldOptions field;
  double mass_threshold = 1.446e12;   // ln M_th = 28
  std::vector<double> theta;          // the true θ (bias_model_dim values); empty: default_true_theta()
  BiasModelOptions model;             // components and offsets (the prior is not used)
  void validate() const;
};

// The built-in truth for 2 components (17 values, the layout of neural_bias_model.hpp): about
// 2 halos above 10^12.56 M_sun per unit volume, a mass function that rises with the smoothed density.
std::vector<double> default_true_theta();

Catalogue simulate_catalogue(const HaloSimulatorOptions& opt, uint64_t seed);

// Draws used by the simulator, exposed for tests.
int64_t poisson_draw(double lambda, core::Rng& rng);                   // exact for any λ ≥ 0
double truncated_normal_draw(double mean, double sd, double lo, core::Rng& rng);  // N(mean, sd²) | x ≥ lo

}  // namespace trusty::density
