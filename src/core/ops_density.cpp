// Log-densities as single nodes (Stan's *_lpdf): a likelihood or prior term of an HMC
// log-posterior is one node and one pass over its data, instead of the four or five
// element-wise nodes (subtract, divide, square, sum, scale) it takes when written out.
//
// normal_lpdf(x, mu, sigma) = Σ_i [ -z_i²/2 - log sigma_i - log(2π)/2 ],  z_i = (x_i - mu_i) / sigma_i
//   ∂/∂x_i = -z_i / sigma_i,  ∂/∂mu_i = z_i / sigma_i,  ∂/∂sigma_i = (z_i² - 1) / sigma_i
// Each argument holds either n elements (all such arguments of one shape) or one, which is
// then shared by all n terms (its gradient the sum over them), as in Stan's vectorised
// signatures. Scalar mu and sigma given as numbers need no node at all.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

template <class T>
struct Arg {
  Node<T>* node = nullptr;  // null for a number
  const T* p = nullptr;
  bool vec = false;  // n elements (else one, broadcast)
};

template <class T>
struct NormalNode final : Node<T> {
  Arg<T> x, mu, sigma;
  T mu_c = 0, sigma_c = 1;  // the numbers, when given as numbers
  int64_t count = 0;

  // The n terms with each argument's stride (0 or 1) known to the compiler: eight plain
  // loops, each vectorised (omp simd, reductions declared).
  template <class F>
  void dispatch(F&& f) const {
    using Y = std::true_type;
    using N = std::false_type;
    switch ((x.vec ? 4 : 0) | (mu.vec ? 2 : 0) | (sigma.vec ? 1 : 0)) {
      case 0: f(N{}, N{}, N{}); break;
      case 1: f(N{}, N{}, Y{}); break;
      case 2: f(N{}, Y{}, N{}); break;
      case 3: f(N{}, Y{}, Y{}); break;
      case 4: f(Y{}, N{}, N{}); break;
      case 5: f(Y{}, N{}, Y{}); break;
      case 6: f(Y{}, Y{}, N{}); break;
      default: f(Y{}, Y{}, Y{}); break;
    }
  }

  T sum_z2() const {
    T ss = 0;
    dispatch([&](auto vx, auto vm, auto vs) {
      const T *xp = x.p, *mp = mu.p, *sp = sigma.p, inv0 = T(1) / sp[0];
#pragma omp simd reduction(+ : ss)
      for (int64_t i = 0; i < count; ++i) {
        const T z = (xp[vx ? i : 0] - mp[vm ? i : 0]) * (vs ? T(1) / sp[i] : inv0);
        ss += z * z;
      }
    });
    return ss;
  }

  void backward() override {
    const T g = this->grad[0];
    auto wants = [](const Arg<T>& a) { return a.node && a.node->grad; };
    // Element-wise gradients for the arguments with n elements; sums for the shared ones.
    T* dx = wants(x) && x.vec ? x.node->grad : nullptr;
    T* dm = wants(mu) && mu.vec ? mu.node->grad : nullptr;
    T* ds = wants(sigma) && sigma.vec ? sigma.node->grad : nullptr;
    // Fresh gradient memory is overwritten: adding to it costs the same as writing 0 first.
    if (dx && !accumulate_into(x.node)) std::fill(dx, dx + x.node->n, T(0));
    if (dm && !accumulate_into(mu.node)) std::fill(dm, dm + mu.node->n, T(0));
    if (ds && !accumulate_into(sigma.node)) std::fill(ds, ds + sigma.node->n, T(0));
    T sum_m = 0, sum_s = 0;
    dispatch([&](auto vx, auto vm, auto vs) {
      const T *xp = x.p, *mp = mu.p, *sp = sigma.p, inv0 = T(1) / sp[0];
#pragma omp simd reduction(+ : sum_m, sum_s)
      for (int64_t i = 0; i < count; ++i) {
        const T inv = vs ? T(1) / sp[i] : inv0, z = (xp[vx ? i : 0] - mp[vm ? i : 0]) * inv, gz = g * z * inv;
        const T gs = g * (z * z - T(1)) * inv;
        if (dx) dx[i] -= gz;
        if (dm) dm[i] += gz;
        if (ds) ds[i] += gs;
        sum_m += gz;
        sum_s += gs;
      }
    });
    if (wants(x) && !x.vec) add_to(x.node, -sum_m);
    if (wants(mu) && !mu.vec) add_to(mu.node, sum_m);
    if (wants(sigma) && !sigma.vec) add_to(sigma.node, sum_s);
  }

 private:
  static void add_to(Node<T>* n, T v) { n->grad[0] = accumulate_into(n) ? n->grad[0] + v : v; }
};

template <class T>
Var<T> normal_impl(const Var<T>* x, const Var<T>* mu, const Var<T>* sigma, T mu_c, T sigma_c) {
  const Var<T>* vs[3] = {x, mu, sigma};
  const char* names[3] = {"x", "mu", "sigma"};
  int64_t n = 1;
  const Shape* shape = nullptr;
  for (int a = 0; a < 3; ++a)
    if (vs[a] && vs[a]->numel() != 1) {
      if (shape && *shape != vs[a]->shape())
        throw std::invalid_argument(std::string("normal_lpdf: ") + names[a] + " " + vs[a]->shape().str() +
                                    " does not match " + shape->str() + " (each argument holds one element or the same shape)");
      shape = &vs[a]->shape();
      n = vs[a]->numel();
    }
  if (!sigma && !(sigma_c > 0))
    throw std::invalid_argument("normal_lpdf: sigma = " + std::to_string(sigma_c) + "; expected > 0");
  auto& tape = Tape<T>::current();
  bool needs = false;
  for (auto* v : vs) needs = needs || (v && v->requires_grad());
  auto* node = tape.template make<NormalNode<T>>(Shape{}, needs, "normal_lpdf");
  node->first_write = true;
  node->count = n;
  node->mu_c = mu_c;
  node->sigma_c = sigma_c;
  auto arg = [&](const Var<T>* v, const T* c) {
    Arg<T> r;
    if (v) {
      r.node = v->node();
      r.p = v->data();
      r.vec = v->numel() != 1 || n == 1;
    } else {
      r.p = c;
    }
    return r;
  };
  node->x = arg(x, nullptr);
  node->mu = arg(mu, &node->mu_c);
  node->sigma = arg(sigma, &node->sigma_c);
  node->in = {node->x.node, node->mu.node, node->sigma.node};
  if (sigma) {
    const T* sp = sigma->data();
    for (int64_t i = 0; i < sigma->numel(); ++i)
      if (!(sp[i] > 0))
        throw std::invalid_argument("normal_lpdf: sigma[" + std::to_string(i) + "] = " + std::to_string(sp[i]) +
                                    "; expected > 0");
  }
  const T ss = node->sum_z2();
  T logs = 0;
  if (node->sigma.vec && n > 1)
    for (int64_t i = 0; i < n; ++i) logs += std::log(node->sigma.p[i]);
  else
    logs = static_cast<T>(n) * std::log(node->sigma.p[0]);
  node->val[0] = T(-0.5) * ss - logs - static_cast<T>(n) * static_cast<T>(0.5 * std::log(2 * std::numbers::pi));
  return tape.record(node);
}

}  // namespace

template <class T>
Var<T> normal_lpdf(const Var<T>& x, const Var<T>& mu, const Var<T>& sigma) {
  return normal_impl<T>(&x, &mu, &sigma, T(0), T(1));
}
template <class T>
Var<T> normal_lpdf(const Var<T>& x, const Var<T>& mu, std::type_identity_t<T> sigma) {
  return normal_impl<T>(&x, &mu, nullptr, T(0), sigma);
}
template <class T>
Var<T> normal_lpdf(const Var<T>& x, std::type_identity_t<T> mu, std::type_identity_t<T> sigma) {
  return normal_impl<T>(&x, nullptr, nullptr, mu, sigma);
}

// Element-wise: a composite of broadcasting primitives (sub, div, square, log), so each
// gradient rule is one already tested; a fused node can replace it if a benchmark asks.
template <class T>
Var<T> normal_log_prob(const Var<T>& x, const Var<T>& mu, const Var<T>& sigma) {
  const T* sp = sigma.data();
  for (int64_t i = 0; i < sigma.numel(); ++i)
    if (!(sp[i] > 0))
      throw std::invalid_argument("normal_log_prob: sigma[" + std::to_string(i) + "] = " + std::to_string(sp[i]) +
                                  "; expected > 0");
  const Var<T> z = div(sub(x, mu), sigma);
  return sub(scale(square(z), T(-0.5)), add_scalar(log(sigma), static_cast<T>(0.5 * std::log(2 * std::numbers::pi))));
}

#define TRUSTY_NORMAL(T)                                                        \
  template Var<T> normal_lpdf<T>(const Var<T>&, const Var<T>&, const Var<T>&); \
  template Var<T> normal_lpdf<T>(const Var<T>&, const Var<T>&, T);             \
  template Var<T> normal_lpdf<T>(const Var<T>&, T, T);                         \
  template Var<T> normal_log_prob<T>(const Var<T>&, const Var<T>&, const Var<T>&);
TRUSTY_NORMAL(float)
TRUSTY_NORMAL(double)
#undef TRUSTY_NORMAL

}  // namespace trusty::core
