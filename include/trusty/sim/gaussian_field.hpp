// 2-D Gaussian random fields with a power-law spectrum, and the log-normal field made from
// them (Charnock, Lavaux & Wandelt 2018, §IV). θ = (A, B), P(k) = A k^(−B) on an N×N periodic
// grid, k = |(k_x, k_y)| in units of the fundamental frequency (k_x, k_y the DFT
// frequencies, |k_x|, |k_y| ≤ N/2); the k = 0 mode is zero.
//
// Convention: with D = FFT(δ) (unnormalised DFT, M = N² pixels), E|D_k|² = M P(k). A field is
// δ = IFFT(√P · FFT(w)) / M for white noise w ~ N(0, 1) per pixel from Rng(seed, index).
// The real degrees of freedom are independent Gaussians, so the Fisher matrix is
//   F_αβ = ½ Σ_{k ≠ 0} ∂_α ln P(k) ∂_β ln P(k),   ∂_A ln P = 1/A, ∂_B ln P = −ln k,
// summed over every mode of the full grid (a pair k, −k carries two real degrees of freedom,
// a self-conjugate Nyquist mode one, and each is counted that many times in the full grid).
#pragma once
#include <memory>

#include "trusty/sim/simulator.hpp"

namespace trusty::sim {

class GaussianField final : public Simulator {
 public:
  explicit GaussianField(int64_t n);
  ~GaussianField() override;
  GaussianField(const GaussianField&) = delete;
  GaussianField& operator=(const GaussianField&) = delete;
  std::string name() const override { return "gaussian_field"; }
  int64_t n_params() const override { return 2; }
  Shape data_shape() const override { return Shape{n_, n_}; }
  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  std::optional<Tensor<double>> fisher(std::span<const double> theta) const override;
  // ½ Σ_{k≠0} (|D_k|²/(M P(k)) − 1) ∂ ln P(k)/∂θ.
  std::optional<std::vector<double>> score(std::span<const double> theta, std::span<const double> data) const override;
  // δ = irfftn(√P · rfftn(w)) with √P(k) = √A exp(−B ln k / 2) built from θ by ops.
  bool has_tape() const override { return true; }
  core::Var<double> simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const override;
  core::Var<double> simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const override;
  int64_t n() const { return n_; }

 private:
  struct Fft;
  int64_t n_;
  std::vector<double> logk_;  // ln k per grid cell (0 at k = 0, unused there)
  std::unique_ptr<Fft> fft_;
};

// y = exp(δ) for δ a GaussianField: ln y is the Gaussian field, and since y ↦ ln y does not
// depend on θ the Fisher matrix is the Gaussian field's. (The mean-corrected form
// exp(δ − σ²/2) − 1 with σ² = var δ(θ) would make the k = 0 mode of ln(1 + y) a noise-free
// function of θ, an infinite-information degenerate problem.)
class LognormalField final : public Simulator {
 public:
  explicit LognormalField(int64_t n) : field_(n) {}
  std::string name() const override { return "lognormal_field"; }
  int64_t n_params() const override { return 2; }
  Shape data_shape() const override { return field_.data_shape(); }
  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  std::optional<Tensor<double>> fisher(std::span<const double> theta) const override { return field_.fisher(theta); }
  std::optional<std::vector<double>> score(std::span<const double> theta, std::span<const double> data) const override;
  bool has_tape() const override { return true; }
  core::Var<double> simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const override;
  core::Var<double> simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const override;

 private:
  GaussianField field_;
};

}  // namespace trusty::sim
