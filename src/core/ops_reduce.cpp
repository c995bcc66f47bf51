// Reductions: sum/mean over axes, max, logsumexp, softmax, log_softmax.
#include <algorithm>
#include <cmath>
#include <limits>

#include "trusty/core/kernels/broadcast.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "trusty/core/kernels/vmath.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

using kernels::for_each_strided;

// Sum over axes: the output (kept as shape `kept` with ones) is read with stride 0 on the
// reduced axes, so the forward accumulates and the backward broadcasts.
template <class T>
struct SumNode final : Node<T> {
  std::array<int64_t, kMaxRank> rs;  // strides of the kept-dims output within the input shape
  T factor;                          // 1 for sum, 1/count for mean
  bool all;
  std::array<int, kMaxRank> axes;  // the reduced axes (for the tangent)
  int naxes;
  bool keepdims, is_mean;
  Node<T>* tangent(TangentMap<T>& t) override {  // linear: the same reduction of a'
    Node<T>* ta = t.of(this->in[0]);
    if (!ta) return nullptr;
    std::span<const int> ax(axes.data(), static_cast<size_t>(naxes));
    return (!is_mean ? sum(Var<T>(ta), ax, keepdims) : mean(Var<T>(ta), ax, keepdims)).node();
  }
  void backward() override {
    Node<T>* a = this->in[0];
    T* ga = a->grad;
    if (!ga) return;
    const T* g = this->grad;
    const bool acc = accumulate_into(a);
    if (all) {
      const T v = g[0] * factor;
      if (acc) for (int64_t i = 0; i < a->n; ++i) ga[i] += v;
      else std::fill(ga, ga + a->n, v);
      return;
    }
    if (!acc) std::fill(ga, ga + a->n, T(0));
    for_each_strided(a->shape, rs, [&](int64_t i, int64_t o) { ga[i] += g[o] * factor; });
  }
};

template <class T>
Var<T> reduce_sum(const Var<T>& a, std::span<const int> axes, bool keepdims, bool mean) {
  const Shape& s = a.shape();
  std::array<int, kMaxRank> all_axes{};
  for (int i = 0; i < s.rank(); ++i) all_axes[static_cast<size_t>(i)] = i;
  if (axes.empty()) axes = std::span<const int>(all_axes.data(), static_cast<size_t>(s.rank()));
  Shape kept = reduced_shape(s, axes, true);
  Shape out = keepdims ? kept : reduced_shape(s, axes, false);
  const int64_t count = out.numel() ? s.numel() / out.numel() : 0;
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<SumNode<T>>(out, a.requires_grad(), mean ? "mean" : "sum");
  node->in = {a.node(), nullptr, nullptr};
  node->first_write = true;
  node->factor = mean ? T(1) / static_cast<T>(std::max<int64_t>(count, 1)) : T(1);
  node->all = out.numel() == 1;
  node->rs = broadcast_strides(kept, s);
  std::array<bool, kMaxRank> reduced{};  // the axes, normalised and once each
  for (int ax : axes) reduced[static_cast<size_t>(s.normalize_axis(ax))] = true;
  node->naxes = 0;
  for (int i = 0; i < s.rank(); ++i)
    if (reduced[static_cast<size_t>(i)]) node->axes[static_cast<size_t>(node->naxes++)] = i;
  node->keepdims = keepdims;
  node->is_mean = mean;
  T* y = node->val;
  const T* x = a.data();
  if (node->all) {  // 16 partial sums: a single running sum is a chain of dependent adds
    y[0] = kernels::sum(x, a.numel()) * node->factor;
  } else {
    std::fill(y, y + node->n, T(0));
    for_each_strided(s, node->rs, [&](int64_t i, int64_t o) { y[o] += x[i]; });
    if (mean) for (int64_t i = 0; i < node->n; ++i) y[i] *= node->factor;
  }
  return tape.record(node);
}

// Views an axis as (outer, n, inner).
struct AxisSplit {
  int64_t outer = 1, n = 1, inner = 1;
};
AxisSplit split_axis(const Shape& s, int ax) {
  AxisSplit r;
  for (int i = 0; i < ax; ++i) r.outer *= s[i];
  r.n = s[ax];
  for (int i = ax + 1; i < s.rank(); ++i) r.inner *= s[i];
  return r;
}

Shape axis_out_shape(const Shape& s, int ax, bool keepdims) {
  const int a[1] = {ax};
  return reduced_shape(s, a, keepdims);
}

template <class T>
struct MaxNode final : Node<T> {
  const int64_t* arg;  // flat input index of each output's maximum
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    for (int64_t o = 0; o < this->n; ++o) ga[arg[o]] += this->grad[o];
  }
};

// Kinds of per-axis normalisation sharing one node type.
enum class Ax { logsumexp, softmax, log_softmax };

template <class T>
struct AxisNode final : Node<T> {
  Ax kind;
  AxisSplit sp;
  const T* lse;  // log-sum-exp per (outer, inner), for logsumexp's backward
  void backward() override {
    Node<T>* a = this->in[0];
    T* ga = a->grad;
    if (!ga) return;
    const T *g = this->grad, *y = this->val, *x = a->val;
    const int64_t n = sp.n, inner = sp.inner;
    for (int64_t o = 0; o < sp.outer; ++o)
      for (int64_t k = 0; k < inner; ++k) {
        const int64_t base = o * n * inner + k;
        if (kind == Ax::logsumexp) {
          const int64_t r = o * inner + k;
          for (int64_t j = 0; j < n; ++j) ga[base + j * inner] += g[r] * std::exp(x[base + j * inner] - lse[r]);
        } else if (kind == Ax::softmax) {
          T dot = 0;
          for (int64_t j = 0; j < n; ++j) dot += g[base + j * inner] * y[base + j * inner];
          for (int64_t j = 0; j < n; ++j) ga[base + j * inner] += y[base + j * inner] * (g[base + j * inner] - dot);
        } else {
          T gs = 0;
          for (int64_t j = 0; j < n; ++j) gs += g[base + j * inner];
          for (int64_t j = 0; j < n; ++j) ga[base + j * inner] += g[base + j * inner] - std::exp(y[base + j * inner]) * gs;
        }
      }
  }
};

template <class T>
Var<T> axis_op(const Var<T>& a, int axis, bool keepdims, Ax kind) {
  const Shape& s = a.shape();
  const int ax = s.normalize_axis(axis);
  AxisSplit sp = split_axis(s, ax);
  if (sp.n == 0) throw std::invalid_argument("softmax/logsumexp: empty axis " + std::to_string(axis) + " of shape " + s.str());
  Shape out = kind == Ax::logsumexp ? axis_out_shape(s, ax, keepdims) : s;
  static constexpr const char* names[] = {"logsumexp", "softmax", "log_softmax"};
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<AxisNode<T>>(out, a.requires_grad(), names[static_cast<int>(kind)]);
  node->in = {a.node(), nullptr, nullptr};
  node->kind = kind;
  node->sp = sp;
  T* lse = tape.alloc(sp.outer * sp.inner);
  node->lse = lse;
  const T* x = a.data();
  T* y = node->val;
  const int64_t n = sp.n, inner = sp.inner;
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t k = 0; k < inner; ++k) {
      const int64_t base = o * n * inner + k;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t j = 0; j < n; ++j) m = std::max(m, x[base + j * inner]);
      if (!std::isfinite(m)) m = 0;  // all -inf: lse = -inf, keeps NaN out of the shift
      T acc = 0;
      for (int64_t j = 0; j < n; ++j) acc += std::exp(x[base + j * inner] - m);
      const T l = m + std::log(acc);
      lse[o * inner + k] = l;
      if (kind == Ax::logsumexp) y[o * inner + k] = l;
      else if (kind == Ax::softmax) for (int64_t j = 0; j < n; ++j) y[base + j * inner] = std::exp(x[base + j * inner] - l);
      else for (int64_t j = 0; j < n; ++j) y[base + j * inner] = x[base + j * inner] - l;
    }
  return tape.record(node);
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& a, std::span<const int> axes, bool keepdims) {
  return reduce_sum(a, axes, keepdims, false);
}

template <class T>
Var<T> mean(const Var<T>& a, std::span<const int> axes, bool keepdims) {
  return reduce_sum(a, axes, keepdims, true);
}

template <class T>
Var<T> max(const Var<T>& a, int axis, bool keepdims) {
  const Shape& s = a.shape();
  const int ax = s.normalize_axis(axis);
  AxisSplit sp = split_axis(s, ax);
  if (sp.n == 0) throw std::invalid_argument("max: empty axis " + std::to_string(axis) + " of shape " + s.str());
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<MaxNode<T>>(axis_out_shape(s, ax, keepdims), a.requires_grad(), "max");
  node->in = {a.node(), nullptr, nullptr};
  auto* arg = tape.template alloc_array<int64_t>(node->n);
  node->arg = arg;
  const T* x = a.data();
  for (int64_t o = 0; o < sp.outer; ++o)
    for (int64_t k = 0; k < sp.inner; ++k) {
      int64_t best = o * sp.n * sp.inner + k;
      for (int64_t j = 1; j < sp.n; ++j) {
        int64_t i = o * sp.n * sp.inner + j * sp.inner + k;
        if (x[i] > x[best] || std::isnan(x[i])) best = i;
      }
      arg[o * sp.inner + k] = best;
      node->val[o * sp.inner + k] = x[best];
    }
  return tape.record(node);
}

template <class T> Var<T> logsumexp(const Var<T>& a, int axis, bool keepdims) { return axis_op(a, axis, keepdims, Ax::logsumexp); }
template <class T> Var<T> softmax(const Var<T>& a, int axis) { return axis_op(a, axis, false, Ax::softmax); }
template <class T> Var<T> log_softmax(const Var<T>& a, int axis) { return axis_op(a, axis, false, Ax::log_softmax); }

#define TRUSTY_INST(T)                                                   \
  template Var<T> sum<T>(const Var<T>&, std::span<const int>, bool);     \
  template Var<T> mean<T>(const Var<T>&, std::span<const int>, bool);    \
  template Var<T> max<T>(const Var<T>&, int, bool);                      \
  template Var<T> logsumexp<T>(const Var<T>&, int, bool);                \
  template Var<T> softmax<T>(const Var<T>&, int);                        \
  template Var<T> log_softmax<T>(const Var<T>&, int);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
