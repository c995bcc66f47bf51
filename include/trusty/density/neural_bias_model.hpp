// The neural bias model (Charnock, Lavaux, Wandelt et al. 2020): a neural physical engine
// turns the density field into a feature per voxel, the seed's intensity MDN turns the
// feature into the halo mass function, and the Poisson point-process likelihood connects it
// to a halo catalogue.
//   ψ = softplus(K ⋆ δ + b)       K a 3×3×3 kernel tied by the ℓ = 0 multipole table:
//                                 4 free weights (corner, edge, face, centre), periodic
//   α, μ, σ = intensity_mdn(ψ)    K components (2: 12 head parameters)
//   ln π(θ) = ln L(catalogue | θ) + Σ ln N(θ_i; 0, prior_sd²)
// θ layout (17 values for 2 components):
//   0 kernel.corner  1 kernel.edge  2 kernel.face  3 kernel.centre  4 kernel.bias
//   5.. the intensity MDN's layout (intensity_mdn.hpp): per component
//       alpha.w, alpha.b, mu.w, mu.b, sigma.w, sigma.b
// The corner/edge/face/centre order is nn::multipole_table(3, 3, 0)'s group order (first
// appearance in row-major order), checked when the model is built.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trusty/density/bias_likelihood.hpp"
#include "trusty/density/catalogue.hpp"
#include "trusty/density/intensity_mdn.hpp"
#include "trusty/density/poisson_likelihood.hpp"
#include "trusty/mcmc/log_density.hpp"

namespace trusty::density {

struct BiasModelOptions {
  int64_t components = 2;
  IntensityOffsets offsets;
  double prior_sd = 10;  // N(0, prior_sd²) on every θ_i; 0: the likelihood alone
  void validate() const;
};

constexpr int64_t kEngineParams = 5;  // 4 ℓ = 0 weights and the bias
int64_t bias_model_dim(int64_t components);
std::vector<std::string> bias_model_names(int64_t components);

// ψ [n³, 1] for a field [n, n, n] (as a [1, 1, n, n, n] Var) and the engine's 5 values.
core::Var<double> neural_physical_engine(const core::Var<double>& field, const core::Var<double>& engine_theta);
// α, μ, σ [n³, K] at θ.
IntensityParams<double> bias_model_intensity(const core::Var<double>& field, const core::Var<double>& theta,
                                             const BiasModelOptions& opt);

class NeuralBiasModel final : public mcmc::LogDensity {
 public:
  explicit NeuralBiasModel(Catalogue catalogue, BiasModelOptions opt = {});
  int64_t dim() const override { return bias_model_dim(opt_.components); }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  std::vector<std::string> param_names() const override { return bias_model_names(opt_.components); }

  // ln L alone (no prior), as a tape value: one node over the fused kernel
  // (bias_likelihood.hpp), which log_density_and_gradient calls directly.
  core::Var<double> log_likelihood(const core::Var<double>& theta) const;
  // The same from the composite of tape ops (engine, intensity MDN, Poisson likelihood): the
  // reference the fused kernel is tested against.
  core::Var<double> log_likelihood_reference(const core::Var<double>& theta) const;
  // Σ_j λ_j, the expected number of halos above threshold at θ, and per voxel.
  double expected_count(std::span<const double> theta) const;
  std::vector<double> expected_counts(std::span<const double> theta) const;
  // θ = 0: the paper's initialisation (the offsets make it a sensible mass function).
  std::vector<double> initial_theta() const { return std::vector<double>(static_cast<size_t>(dim()), 0.0); }

  const Catalogue& catalogue() const { return cat_; }
  const BiasModelOptions& options() const { return opt_; }

 private:
  Catalogue cat_;
  BiasModelOptions opt_;
  PoissonOptions poisson_;
  core::Tensor<double> field_;  // [1, 1, n, n, n]
  std::vector<int64_t> halo_voxel_;
  core::Tensor<double> log_mass_;
  std::shared_ptr<const BiasLikelihood> fused_;
};

}  // namespace trusty::density
