#include "trusty/density/poisson_likelihood.hpp"

#include <array>
#include <limits>
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
Var<T> halo_log_intensity_reference(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass) {
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

namespace {

// The halo term as one node: per halo, t_i = ln α_i − μ_i + ln N(u; μ_i, σ_i), L = lse_i t_i,
// responsibilities r_i = e^{t_i − L} kept for backward:
//   ∂L/∂α_i = r_i/α_i,  ∂L/∂μ_i = r_i((u − μ_i)/σ_i² − 1),  ∂L/∂σ_i = r_i((u − μ_i)²/σ_i³ − 1/σ_i),
// scattered into the [V, K] parameters' gradients.
template <class T>
struct HaloTermNode final : core::Node<T> {
  const int64_t* voxel = nullptr;
  const T* u = nullptr;
  T* resp = nullptr;  // [H, K]
  int64_t k = 0;
  void backward() override {
    core::Node<T>*na = this->in[0], *nm = this->in[1], *ns = this->in[2];
    const T *g = this->grad, *av = na->val, *mv = nm->val, *sv = ns->val;
    T *ga = na->grad, *gm = nm->grad, *gs = ns->grad;
    for (int64_t j = 0; j < this->n; ++j)
      for (int64_t i = 0; i < k; ++i) {
        const int64_t e = voxel[j] * k + i;
        const T r = g[j] * resp[j * k + i], inv = T(1) / sv[e], d = (u[j] - mv[e]) * inv;
        if (ga) ga[e] += r / av[e];
        if (gm) gm[e] += r * (d * inv - T(1));
        if (gs) gs[e] += r * (d * d - T(1)) * inv;
      }
  }
};

}  // namespace

template <class T>
Var<T> halo_log_intensity(const IntensityParams<T>& p, std::span<const int64_t> halo_voxel, const Var<T>& log_mass) {
  const int64_t h = static_cast<int64_t>(halo_voxel.size()), k = p.mu.rank() == 2 ? p.mu.dim(1) : 0;
  if (log_mass.requires_grad() || k == 0 || k > 64) return halo_log_intensity_reference(p, halo_voxel, log_mass);
  if (log_mass.numel() != h)
    throw std::invalid_argument("halo_log_intensity: " + std::to_string(log_mass.numel()) + " masses for " +
                                std::to_string(h) + " halo voxels");
  const int64_t rows = p.mu.dim(0);
  auto& tape = core::Tape<T>::current();
  const bool needs = p.alpha.requires_grad() || p.mu.requires_grad() || p.sigma.requires_grad();
  auto* node = tape.template make<HaloTermNode<T>>(Shape{h}, needs, "halo_log_intensity");
  node->in = {p.alpha.node(), p.mu.node(), p.sigma.node()};
  node->k = k;
  node->u = log_mass.data();
  auto* vox = tape.template alloc_array<int64_t>(h);
  node->resp = tape.alloc(h * k);
  const T *av = p.alpha.data(), *mv = p.mu.data(), *sv = p.sigma.data();
  // Per voxel and component (V·K values, far fewer than halos): ln α − μ − ln σ − ½ ln 2π and
  // 1/σ, so each halo costs K exponentials and one logarithm.
  const T c = static_cast<T>(0.5 * std::log(2 * std::numbers::pi));
  T* lw = tape.alloc(rows * k);
  T* inv = tape.alloc(rows * k);
  for (int64_t e = 0; e < rows * k; ++e) {
    lw[e] = std::log(av[e]) - mv[e] - std::log(sv[e]) - c;
    inv[e] = T(1) / sv[e];
  }
  T t[64];
  for (int64_t j = 0; j < h; ++j) {
    const int64_t v = halo_voxel[static_cast<size_t>(j)];
    if (v < 0 || v >= rows)
      throw std::invalid_argument("halo_log_intensity: halo " + std::to_string(j) + " is in voxel " + std::to_string(v) +
                                  ", outside [0, " + std::to_string(rows) + ")");
    vox[j] = v;
    T top = -std::numeric_limits<T>::infinity();
    for (int64_t i = 0; i < k; ++i) {
      const int64_t e = v * k + i;
      const T d = (node->u[j] - mv[e]) * inv[e];
      t[i] = lw[e] - T(0.5) * d * d;
      top = std::max(top, t[i]);
    }
    T acc = 0;
    T* r = node->resp + j * k;
    for (int64_t i = 0; i < k; ++i) acc += (r[i] = std::exp(t[i] - top));
    const T scale = T(1) / acc;
    for (int64_t i = 0; i < k; ++i) r[i] *= scale;
    node->val[j] = top + std::log(acc);
  }
  node->voxel = vox;
  return tape.record(node);
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
  template Var<T> halo_log_intensity_reference<T>(const IntensityParams<T>&, std::span<const int64_t>, const Var<T>&); \
  template Var<T> poisson_log_likelihood<T>(const IntensityParams<T>&, std::span<const int64_t>, const Var<T>&, \
                                            const PoissonOptions&);
TRUSTY_POISSON(float)
TRUSTY_POISSON(double)
#undef TRUSTY_POISSON

}  // namespace trusty::density
