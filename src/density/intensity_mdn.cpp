#include "trusty/density/intensity_mdn.hpp"

#include <stdexcept>

#include "trusty/core/ops.hpp"
#include "trusty/density/mdn.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;

int64_t intensity_mdn_size(int64_t features, int64_t components) { return 3 * components * (features + 1); }

std::vector<std::string> intensity_mdn_names(int64_t features, int64_t components) {
  std::vector<std::string> names;
  for (int64_t i = 1; i <= components; ++i)
    for (const char* h : {"alpha", "mu", "sigma"}) {
      for (int64_t f = 1; f <= features; ++f)
        names.push_back(std::string(h) + ".w." + (features > 1 ? std::to_string(f) + "." : "") + std::to_string(i));
      names.push_back(std::string(h) + ".b." + std::to_string(i));
    }
  return names;
}

template <class T>
IntensityParams<T> intensity_mdn(const Var<T>& psi, const Var<T>& theta, int64_t components, const IntensityOffsets& o) {
  if (components < 1) throw std::invalid_argument("intensity_mdn: components = " + std::to_string(components) + "; expected >= 1");
  if (psi.rank() != 2) throw std::invalid_argument("intensity_mdn: features " + psi.shape().str() + "; expected [V, F]");
  const int64_t f = psi.dim(1), k = components;
  if (theta.numel() != intensity_mdn_size(f, k))
    throw std::invalid_argument("intensity_mdn: theta has " + std::to_string(theta.numel()) + " values; expected " +
                                std::to_string(intensity_mdn_size(f, k)) + " for " + std::to_string(f) + " features and " +
                                std::to_string(k) + " components");
  // W [F, 3K] and b [3K] gathered out of θ: column c = 3i + h (h = α, μ, σ).
  std::vector<int64_t> wi, bi;
  for (int64_t r = 0; r < f; ++r)
    for (int64_t c = 0; c < 3 * k; ++c) wi.push_back(c * (f + 1) + r);
  for (int64_t c = 0; c < 3 * k; ++c) bi.push_back(c * (f + 1) + f);
  const Var<T> th = core::reshape(theta, Shape{theta.numel()});
  const Var<T> w = core::reshape(core::gather(th, 0, std::span<const int64_t>(wi)), Shape{f, 3 * k});
  Tensor<T> off(Shape{3 * k});
  for (int64_t i = 0; i < k; ++i) {
    off.data()[3 * i] = static_cast<T>(o.alpha);
    off.data()[3 * i + 1] = i == 0 ? static_cast<T>(o.mu) : T(0);
    off.data()[3 * i + 2] = static_cast<T>(o.sigma);
  }
  const Var<T> b = core::add(core::gather(th, 0, std::span<const int64_t>(bi)), core::constant(off));
  const Var<T> pre = core::linear(psi, w, b);  // [V, 3K]
  std::vector<int64_t> ca, cm, cs;
  for (int64_t i = 0; i < k; ++i) {
    ca.push_back(3 * i);
    cm.push_back(3 * i + 1);
    cs.push_back(3 * i + 2);
  }
  IntensityParams<T> p;
  p.alpha = core::softplus(core::gather(pre, 1, std::span<const int64_t>(ca)));
  p.sigma = core::softplus(core::gather(pre, 1, std::span<const int64_t>(cs)));
  Var<T> steps = core::gather(pre, 1, std::span<const int64_t>(cm));  // [V, K]
  if (k == 1) {
    p.mu = steps;
    return p;
  }
  // μ_i = μ_0 + Σ_{1≤j≤i} ReLU(·_j): the first column as is, ReLU on the others, then a
  // cumulative sum as one product with the constant upper-triangular matrix of ones.
  std::vector<int64_t> first{0}, rest;
  for (int64_t i = 1; i < k; ++i) rest.push_back(i);
  const Var<T> parts[2] = {core::gather(steps, 1, std::span<const int64_t>(first)),
                           core::relu(core::gather(steps, 1, std::span<const int64_t>(rest)))};
  Tensor<T> tri(Shape{k, k});
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = j; i < k; ++i) tri.data()[j * k + i] = T(1);
  p.mu = core::matmul(core::concat(std::span<const Var<T>>(parts, 2), 1), core::constant(tri));
  return p;
}

template <class T>
Var<T> intensity_log_density(const IntensityParams<T>& p, const Var<T>& u) {
  const int64_t v = p.mu.dim(0);
  if (u.numel() != v)
    throw std::invalid_argument("intensity_log_density: " + std::to_string(u.numel()) + " values of ln M for " +
                                std::to_string(v) + " rows of parameters");
  const Var<T> uu = core::reshape(u, Shape{v, 1});
  return mixture_log_prob(core::log(p.alpha), core::normal_log_prob(uu, p.mu, p.sigma));
}

#define TRUSTY_INTENSITY(T)                                                                                          \
  template IntensityParams<T> intensity_mdn<T>(const Var<T>&, const Var<T>&, int64_t, const IntensityOffsets&); \
  template Var<T> intensity_log_density<T>(const IntensityParams<T>&, const Var<T>&);
TRUSTY_INTENSITY(float)
TRUSTY_INTENSITY(double)
#undef TRUSTY_INTENSITY

}  // namespace trusty::density
