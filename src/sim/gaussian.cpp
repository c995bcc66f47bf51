#include "trusty/sim/gaussian.hpp"

#include <cmath>
#include <stdexcept>

#include "trusty/core/ops.hpp"
#include "trusty/core/rng.hpp"

namespace trusty::sim {

namespace {
void require_n(int64_t n, const char* who) {
  if (n < 1) throw std::invalid_argument(std::string(who) + ": n_data must be positive, got " + std::to_string(n));
}
double variance(std::span<const double> theta, size_t k, const char* who) {
  if (theta.size() <= k) throw std::invalid_argument(std::string(who) + ": expected " + std::to_string(k + 1) + " parameters");
  if (!(theta[k] > 0))
    throw std::invalid_argument(std::string(who) + ": the variance θ[" + std::to_string(k) + "] must be positive, got " +
                                std::to_string(theta[k]));
  return theta[k];
}
// The white noise z of simulations first .. first+count−1, [count, n], drawn as draw() draws it.
core::Var<double> noise(int64_t n, uint64_t seed, int64_t first, int64_t count) {
  Tensor<double> z(Shape{count, n});
  for (int64_t i = 0; i < count; ++i) {
    core::Rng rng(seed, static_cast<uint64_t>(first + i));
    for (int64_t j = 0; j < n; ++j) z.data()[i * n + j] = rng.normal();
  }
  return core::constant(z);
}
void draw(double mu, double var, uint64_t seed, int64_t index, std::span<double> out) {
  core::Rng rng(seed, static_cast<uint64_t>(index));
  const double s = std::sqrt(var);
  for (auto& v : out) v = mu + s * rng.normal();
}
}  // namespace

GaussianVariance::GaussianVariance(int64_t n_data) : n_(n_data) { require_n(n_, "GaussianVariance"); }

void GaussianVariance::simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  draw(0.0, variance(theta, 0, "gaussian_variance"), seed, index, out);
}

std::optional<Tensor<double>> GaussianVariance::fisher(std::span<const double> theta) const {
  const double v = variance(theta, 0, "gaussian_variance");
  return Tensor<double>(Shape{1, 1}, {static_cast<double>(n_) / (2 * v * v)});
}

std::optional<std::vector<double>> GaussianVariance::score(std::span<const double> theta, std::span<const double> d) const {
  const double v = variance(theta, 0, "gaussian_variance");
  double ss = 0;
  for (double x : d) ss += x * x;
  return std::vector<double>{-static_cast<double>(n_) / (2 * v) + ss / (2 * v * v)};
}

// d = √Σ z: ∂d/∂Σ = z/(2√Σ) = d/(2Σ).
bool GaussianVariance::simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  simulate(theta, seed, index, out);
  for (auto& v : out) v /= 2 * theta[0];
  return true;
}

// d = √Σ z.
core::Var<double> GaussianVariance::simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const {
  check_tape_theta(*this, theta);
  variance(std::span<const double>(theta.data(), static_cast<size_t>(theta.numel())), 0, "gaussian_variance");
  return core::sqrt(theta) * noise(n_, seed, first, n);
}

core::Var<double> GaussianVariance::simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const {
  return core::reshape(simulate_tape_batch(theta, seed, index, 1), Shape{n_});
}

GaussianMeanVariance::GaussianMeanVariance(int64_t n_data) : n_(n_data) { require_n(n_, "GaussianMeanVariance"); }

void GaussianMeanVariance::simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  const double v = variance(theta, 1, "gaussian_mean_variance");
  draw(theta[0], v, seed, index, out);
}

std::optional<Tensor<double>> GaussianMeanVariance::fisher(std::span<const double> theta) const {
  const double v = variance(theta, 1, "gaussian_mean_variance"), n = static_cast<double>(n_);
  return Tensor<double>(Shape{2, 2}, {n / v, 0.0, 0.0, n / (2 * v * v)});
}

std::optional<std::vector<double>> GaussianMeanVariance::score(std::span<const double> theta, std::span<const double> d) const {
  const double v = variance(theta, 1, "gaussian_mean_variance");
  double s1 = 0, s2 = 0;
  for (double x : d) {
    s1 += x - theta[0];
    s2 += (x - theta[0]) * (x - theta[0]);
  }
  return std::vector<double>{s1 / v, -static_cast<double>(n_) / (2 * v) + s2 / (2 * v * v)};
}

// d = μ + √Σ z.
core::Var<double> GaussianMeanVariance::simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first,
                                                            int64_t n) const {
  check_tape_theta(*this, theta);
  variance(std::span<const double>(theta.data(), static_cast<size_t>(theta.numel())), 1, "gaussian_mean_variance");
  return core::slice(theta, 0, 0, 1) + core::sqrt(core::slice(theta, 0, 1, 2)) * noise(n_, seed, first, n);
}

core::Var<double> GaussianMeanVariance::simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const {
  return core::reshape(simulate_tape_batch(theta, seed, index, 1), Shape{n_});
}

// d = μ + √Σ z: ∂d/∂μ = 1, ∂d/∂Σ = (d − μ)/(2Σ); layout [n, 2].
bool GaussianMeanVariance::simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index,
                                             std::span<double> out) const {
  std::vector<double> d(static_cast<size_t>(n_));
  simulate(theta, seed, index, d);
  for (size_t i = 0; i < d.size(); ++i) {
    out[2 * i] = 1;
    out[2 * i + 1] = (d[i] - theta[0]) / (2 * theta[1]);
  }
  return true;
}

}  // namespace trusty::sim
