// The IMNN's analytic test problems: n independent draws from a normal distribution.
//   GaussianVariance:      θ = (Σ),    d_i ~ N(0, Σ),  F = n / (2Σ²)
//   GaussianMeanVariance:  θ = (μ, Σ), d_i ~ N(μ, Σ),  F = diag(n/Σ, n/(2Σ²))
// (Charnock, Lavaux & Wandelt 2018, §III.) d_i = μ + √Σ z_i with z from Rng(seed, index),
// so seed-matched simulations share z exactly. The tape forms record the same d with ops.
#pragma once
#include "trusty/sim/simulator.hpp"

namespace trusty::sim {

class GaussianVariance final : public Simulator {
 public:
  explicit GaussianVariance(int64_t n_data = 10);
  std::string name() const override { return "gaussian_variance"; }
  int64_t n_params() const override { return 1; }
  Shape data_shape() const override { return Shape{n_}; }
  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  std::optional<Tensor<double>> fisher(std::span<const double> theta) const override;
  std::optional<std::vector<double>> score(std::span<const double> theta, std::span<const double> data) const override;
  bool simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  bool has_tape() const override { return true; }
  core::Var<double> simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const override;
  core::Var<double> simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const override;

 private:
  int64_t n_;
};

class GaussianMeanVariance final : public Simulator {
 public:
  explicit GaussianMeanVariance(int64_t n_data = 10);
  std::string name() const override { return "gaussian_mean_variance"; }
  int64_t n_params() const override { return 2; }
  Shape data_shape() const override { return Shape{n_}; }
  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  std::optional<Tensor<double>> fisher(std::span<const double> theta) const override;
  std::optional<std::vector<double>> score(std::span<const double> theta, std::span<const double> data) const override;
  bool simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override;
  bool has_tape() const override { return true; }
  core::Var<double> simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const override;
  core::Var<double> simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const override;

 private:
  int64_t n_;
};

}  // namespace trusty::sim
