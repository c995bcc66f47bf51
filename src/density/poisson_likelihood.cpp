#include "trusty/density/poisson_likelihood.hpp"

#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "trusty/core/ops.hpp"
#include "trusty/density/mdn.hpp"

namespace trusty::density {

using core::Shape;

void PoissonOptions::validate() const {
  if (!(voxel_volume > 0) || !std::isfinite(voxel_volume))
    throw std::invalid_argument("PoissonOptions: voxel_volume = " + std::to_string(voxel_volume) + "; expected a finite value > 0");
  if (!std::isfinite(log_threshold))
    throw std::invalid_argument("PoissonOptions: log_threshold = " + std::to_string(log_threshold) + "; expected a finite value");
}

template <class T>
Var<T> expected_component_counts(const IntensityParams<T>& p, const PoissonOptions& opt) {
  opt.validate();
  const Var<T> s2 = core::square(p.sigma);
  // (ln M_th − μ − σ²) / (√2 σ)
  const Var<T> arg = core::div(core::add_scalar(core::neg(core::add(p.mu, s2)), static_cast<T>(opt.log_threshold)),
                               core::scale(p.sigma, static_cast<T>(std::numbers::sqrt2)));
  const Var<T> amp = core::mul(p.alpha, core::exp(core::scale(s2, T(0.5))));
  return core::mul(core::scale(amp, static_cast<T>(0.5 * opt.voxel_volume)), core::erfc(arg));
}

template <class T>
Var<T> expected_counts(const IntensityParams<T>& p, const PoissonOptions& opt) {
  const std::array<int, 1> ax1{1};
  return core::sum(expected_component_counts(p, opt), ax1);
}

template <class T>
Var<T> halo_log_intensity(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass) {
  const int64_t h = static_cast<int64_t>(halo_voxel.size());
  if (log_mass.numel() != h)
    throw std::invalid_argument("halo_log_intensity: " + std::to_string(log_mass.numel()) + " masses for " +
                                std::to_string(h) + " halo voxels");
  const Var<T> a = core::gather(p.alpha, 0, halo_voxel), m = core::gather(p.mu, 0, halo_voxel),
               s = core::gather(p.sigma, 0, halo_voxel);
  // ln(α e^{−μ}) + ln N(ln M; μ, σ), combined over components with log-sum-exp.
  const Var<T> log_w = core::sub(core::log(a), m);
  return mixture_log_prob(log_w, core::normal_log_prob(core::reshape(log_mass, Shape{h, 1}), m, s));
}

template <class T>
Var<T> poisson_log_likelihood(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass,
                              const PoissonOptions& opt) {
  const Var<T> lambda = core::sum(expected_component_counts(p, opt));
  if (halo_voxel.empty()) return core::neg(lambda);
  return core::sub(core::sum(halo_log_intensity(p, halo_voxel, log_mass)), lambda);
}

#define TRUSTY_POISSON(T)                                                                                        \
  template Var<T> expected_counts<T>(const IntensityParams<T>&, const PoissonOptions&);                         \
  template Var<T> expected_component_counts<T>(const IntensityParams<T>&, const PoissonOptions&);               \
  template Var<T> halo_log_intensity<T>(const IntensityParams<T>&, std::span<const int64_t>, const Var<T>&);    \
  template Var<T> poisson_log_likelihood<T>(const IntensityParams<T>&, std::span<const int64_t>, const Var<T>&, \
                                            const PoissonOptions&);
TRUSTY_POISSON(float)
TRUSTY_POISSON(double)
#undef TRUSTY_POISSON

}  // namespace trusty::density
