#include "trusty/density/halo_simulator.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "trusty/core/ops.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;

void HaloSimulatorOptions::validate() const {
  field.validate();
  model.validate();
  if (!(mass_threshold > 0) || !std::isfinite(mass_threshold))
    throw std::invalid_argument("HaloSimulatorOptions: mass_threshold = " + std::to_string(mass_threshold) + "; expected > 0");
  const auto d = static_cast<size_t>(bias_model_dim(model.components));
  if (!theta.empty() && theta.size() != d)
    throw std::invalid_argument("HaloSimulatorOptions: theta has " + std::to_string(theta.size()) + " values; expected " +
                                std::to_string(d) + " for " + std::to_string(model.components) + " components");
  if (theta.empty() && model.components != 2)
    throw std::invalid_argument("HaloSimulatorOptions: the default theta is for 2 components; give theta for " +
                                std::to_string(model.components));
  for (size_t i = 0; i < theta.size(); ++i)
    if (!std::isfinite(theta[i])) throw std::invalid_argument("HaloSimulatorOptions: theta[" + std::to_string(i) + "] is not finite");
}

std::vector<double> default_true_theta() {
  return {0.05, 0.1, 0.2, 0.5, 0.0,          // kernel corner, edge, face, centre; bias
          0.8, 6.9, 0.4, 0.0, 0.1, -6.4,     // component 1: alpha (w, b), mu (w, b), sigma (w, b)
          0.5, 5.9, 0.3, 1.5, -0.1, -7.2};   // component 2
}

int64_t poisson_draw(double lambda, core::Rng& rng) {
  if (!(lambda >= 0) || !std::isfinite(lambda)) throw std::invalid_argument("poisson_draw: lambda = " + std::to_string(lambda));
  if (lambda < 30) {  // inversion by sequential search
    double p = std::exp(-lambda), f = p, u = rng.uniform();
    int64_t k = 0;
    while (u > f && k < 1000) {
      ++k;
      p *= lambda / static_cast<double>(k);
      f += p;
    }
    return k;
  }
  // PTRS, transformed rejection with squeeze (Hörmann 1993), as in numpy.
  const double slam = std::sqrt(lambda), loglam = std::log(lambda), b = 0.931 + 2.53 * slam, a = -0.059 + 0.02483 * b;
  const double invalpha = 1.1239 + 1.1328 / (b - 3.4), vr = 0.9277 - 3.6224 / (b - 2);
  for (;;) {
    const double u = rng.uniform() - 0.5, v = rng.uniform(), us = 0.5 - std::abs(u);
    const double k = std::floor((2 * a / us + b) * u + lambda + 0.43);
    if (us >= 0.07 && v <= vr) return static_cast<int64_t>(k);
    if (k < 0 || (us < 0.013 && v > us)) continue;
    if (std::log(v) + std::log(invalpha) - std::log(a / (us * us) + b) <= -lambda + k * loglam - std::lgamma(k + 1))
      return static_cast<int64_t>(k);
  }
}

double truncated_normal_draw(double mean, double sd, double lo, core::Rng& rng) {
  const double a = (lo - mean) / sd;
  if (a <= 0.5) {  // plain rejection: acceptance ≥ 0.3
    for (;;) {
      const double z = rng.normal();
      if (z >= a) return mean + sd * z;
    }
  }
  // Exponential proposal with the optimal rate (Robert 1995).
  const double rate = 0.5 * (a + std::sqrt(a * a + 4));
  for (;;) {
    const double z = a - std::log1p(-rng.uniform()) / rate;
    if (rng.uniform() <= std::exp(-0.5 * (z - rate) * (z - rate))) return mean + sd * z;
  }
}

Catalogue simulate_catalogue(const HaloSimulatorOptions& opt, uint64_t seed) {
  opt.validate();
  Catalogue c;
  c.field = lognormal_field(opt.field, seed);
  c.box_size = opt.field.box_size;
  c.mass_threshold = opt.mass_threshold;
  const int64_t n = opt.field.grid, k = opt.model.components;
  const std::vector<double> theta = opt.theta.empty() ? default_true_theta() : opt.theta;
  std::vector<double> lam, mu, sigma;
  {
    core::GradScope<double> scope;
    const Tensor<double> f = c.field.reshape(Shape{1, 1, n, n, n});
    const Tensor<double> t(Shape{static_cast<int64_t>(theta.size())}, std::span<const double>(theta));
    const auto p = bias_model_intensity(core::constant_ref(f), core::constant(t), opt.model);
    const PoissonOptions po{.voxel_volume = c.voxel_volume(), .log_threshold = std::log(opt.mass_threshold)};
    lam = expected_component_counts(p, po).value().to_vector();
    mu = p.mu.value().to_vector();
    sigma = p.sigma.value().to_vector();
  }
  core::Rng rng(seed, 1);
  std::vector<double> pos, mass;
  const double side = opt.field.box_size / static_cast<double>(n), lo = std::log(opt.mass_threshold);
  for (int64_t v = 0; v < n * n * n; ++v) {
    double total = 0;
    for (int64_t i = 0; i < k; ++i) total += lam[static_cast<size_t>(v * k + i)];
    const int64_t count = poisson_draw(total, rng);
    for (int64_t h = 0; h < count; ++h) {
      double u = rng.uniform() * total;
      int64_t i = 0;
      while (i + 1 < k && (u -= lam[static_cast<size_t>(v * k + i)]) > 0) ++i;
      const size_t e = static_cast<size_t>(v * k + i);
      const double s = sigma[e];
      mass.push_back(std::exp(truncated_normal_draw(mu[e] + s * s, s, lo, rng)));
      const int64_t ijk[3] = {v / (n * n), (v / n) % n, v % n};
      for (int a = 0; a < 3; ++a)  // rounding must not put a halo on the far face
        pos.push_back(std::min((static_cast<double>(ijk[a]) + rng.uniform()) * side, std::nextafter(c.box_size, 0.0)));
    }
  }
  const auto h = static_cast<int64_t>(mass.size());
  c.masses = Tensor<double>(Shape{h}, std::span<const double>(mass));
  c.positions = Tensor<double>(Shape{h, 3}, std::span<const double>(pos));
  // exp(ln M_th) can round below M_th: clamp so the catalogue validates.
  for (auto& m : c.masses.span()) m = std::max(m, opt.mass_threshold);
  return c;
}

}  // namespace trusty::density
