// Element-wise ops: broadcasting binary arithmetic, scalar arithmetic, unary functions.
#include <algorithm>
#include <cmath>
#include <numbers>

#include "trusty/core/kernels/broadcast.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/kernels/vmath.hpp"
#include "trusty/core/ops.hpp"
#include "tangent_util.hpp"

namespace trusty::core {
namespace {

using kernels::for_each_broadcast;

enum class Bin { add, sub, mul, div };

template <class T>
struct BinaryNode final : Node<T> {
  Bin op;
  std::array<int64_t, kMaxRank> sa, sb;  // broadcast strides of a and b
  bool same;                              // a, b and the output share one shape

  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const T* g = this->grad;
    const T *av = a->val, *bv = b->val, *y = this->val;
    T *ga = a->grad, *gb = b->grad;
    const int64_t n = this->n;
    if (same) {
      // Same shapes: each gradient written (fresh) or added to, element by element.
      auto push = [&](Node<T>* to, auto f) {
        T* d = to->grad;
        if (!d) return;
        if (accumulate_into(to)) for (int64_t i = 0; i < n; ++i) d[i] += f(i);
        else for (int64_t i = 0; i < n; ++i) d[i] = f(i);
      };
      switch (op) {
        case Bin::add:
          push(a, [&](int64_t i) { return g[i]; });
          push(b, [&](int64_t i) { return g[i]; });
          break;
        case Bin::sub:
          push(a, [&](int64_t i) { return g[i]; });
          push(b, [&](int64_t i) { return -g[i]; });
          break;
        case Bin::mul:
          push(a, [&](int64_t i) { return g[i] * bv[i]; });
          push(b, [&](int64_t i) { return g[i] * av[i]; });
          break;
        case Bin::div:
          push(a, [&](int64_t i) { return g[i] / bv[i]; });
          push(b, [&](int64_t i) { return -(g[i] * y[i] / bv[i]); });
          break;
      }
      return;
    }
    if (ga) zero_if_fresh(a);
    if (gb) zero_if_fresh(b);
    // Broadcast: an input read with stride 0 accumulates (reduces) its gradient.
    const Shape& s = this->shape;
    switch (op) {
      case Bin::add:
      case Bin::sub: {
        const T sign = op == Bin::add ? T(1) : T(-1);
        if (ga) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t ia, int64_t) { ga[ia] += g[o]; });
        if (gb) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t, int64_t ib) { gb[ib] += sign * g[o]; });
        break;
      }
      case Bin::mul:
        if (ga) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) { ga[ia] += g[o] * bv[ib]; });
        if (gb) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) { gb[ib] += g[o] * av[ia]; });
        break;
      case Bin::div:
        if (ga) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t ia, int64_t ib) { ga[ia] += g[o] / bv[ib]; });
        if (gb) for_each_broadcast(s, sa, sb, [&](int64_t o, int64_t, int64_t ib) { gb[ib] -= g[o] * y[o] / bv[ib]; });
        break;
    }
  }

  // (a op b)' from a' and b' (either may be zero).
  Node<T>* tangent(TangentMap<T>& t) override {
    Var<T> ta = detail::tangent_of(t, this->in[0]), tb = detail::tangent_of(t, this->in[1]);
    if (!ta && !tb) return nullptr;
    Var<T> a(this->in[0]), b(this->in[1]), y(this);
    Var<T> r;
    switch (op) {
      case Bin::add: r = ta && tb ? add(ta, tb) : (ta ? ta : tb); break;
      case Bin::sub: r = ta && tb ? sub(ta, tb) : (ta ? ta : neg(tb)); break;
      case Bin::mul:
        if (ta) r = mul(ta, b);
        if (tb) r = r ? add(r, mul(a, tb)) : mul(a, tb);
        break;
      case Bin::div:  // (a' - y b') / b
        r = ta && tb ? div(sub(ta, mul(y, tb)), b) : (ta ? div(ta, b) : neg(div(mul(y, tb), b)));
        break;
    }
    return detail::broadcast_to(r, this->shape).node();
  }
};

constexpr const char* bin_name(Bin op) {
  switch (op) {
    case Bin::add: return "add";
    case Bin::sub: return "sub";
    case Bin::mul: return "mul";
    case Bin::div: return "div";
  }
  return "?";
}

template <class T, class F>
void apply_same(int64_t n, const T* a, const T* b, T* y, F f) {
  for (int64_t i = 0; i < n; ++i) y[i] = f(a[i], b[i]);
}

template <class T>
Var<T> binary(const Var<T>& a, const Var<T>& b, Bin op) {
  auto& tape = Tape<T>::current();
  const bool same = a.shape() == b.shape();
  Shape out = same ? a.shape() : broadcast_shapes(a.shape(), b.shape(), bin_name(op));
  auto* node = tape.template make<BinaryNode<T>>(out, a.requires_grad() || b.requires_grad(), bin_name(op));
  node->in = {a.node(), b.node(), nullptr};
  node->first_write = true;
  node->op = op;
  node->same = same;
  const T *av = a.data(), *bv = b.data();
  T* y = node->val;
  if (same) {
    switch (op) {
      case Bin::add: apply_same(node->n, av, bv, y, [](T x, T z) { return x + z; }); break;
      case Bin::sub: apply_same(node->n, av, bv, y, [](T x, T z) { return x - z; }); break;
      case Bin::mul: apply_same(node->n, av, bv, y, [](T x, T z) { return x * z; }); break;
      case Bin::div: apply_same(node->n, av, bv, y, [](T x, T z) { return x / z; }); break;
    }
  } else {
    node->sa = broadcast_strides(a.shape(), out);
    node->sb = broadcast_strides(b.shape(), out);
    auto run = [&](auto f) {
      for_each_broadcast(out, node->sa, node->sb, [&](int64_t o, int64_t ia, int64_t ib) { y[o] = f(av[ia], bv[ib]); });
    };
    switch (op) {
      case Bin::add: run([](T x, T z) { return x + z; }); break;
      case Bin::sub: run([](T x, T z) { return x - z; }); break;
      case Bin::mul: run([](T x, T z) { return x * z; }); break;
      case Bin::div: run([](T x, T z) { return x / z; }); break;
    }
  }
  return tape.record(node);
}

// ---- unary ----------------------------------------------------------------------------------
enum class Un { neg, exp, log, log1p, sqrt, pow, abs, square, tanh, sigmoid, softplus, relu, leaky_relu, elu,
                erf, erfc, clamp, add_scalar, scale, rdiv };

constexpr const char* un_name(Un op) {
  constexpr const char* names[] = {"neg",      "exp",  "log",        "log1p", "sqrt", "pow",  "abs",
                                   "square",   "tanh", "sigmoid",    "softplus", "relu", "leaky_relu", "elu",
                                   "erf",      "erfc", "clamp",      "add_scalar", "scale", "rdiv_scalar"};
  return names[static_cast<int>(op)];
}

template <class T>
struct UnaryNode final : Node<T> {
  Un op;
  T p0 = 0, p1 = 0;  // op parameters (power, slope, alpha, bounds, scalar)

  void backward() override {
    if (!this->in[0]->grad) return;
    const bool acc = accumulate_into(this->in[0]);
    kernels::parallel_for(this->n, this->n, [&](int64_t lo, int64_t hi) {
      if (acc) backward_range<true>(lo, hi);
      else backward_range<false>(lo, hi);
    });
  }
  Node<T>* tangent(TangentMap<T>& t) override;
  // use(i, exp(arg(i))) for i < n, the exponentials vectorised (kernels::vmath) over blocks
  // of 256 on the stack: the gradients of tanh, sigmoid, ELU and erf need exp of an argument,
  // and a scalar std::exp per element cost as much as the rest of a small network's step.
  template <class Arg, class Use>
  static void with_exp(int64_t n, Arg arg, Use use) {
    constexpr int64_t kBlock = 256;
    alignas(64) T a[kBlock], e[kBlock];
    for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
      const int64_t m = std::min(kBlock, n - i0);
#pragma omp simd
      for (int64_t k = 0; k < m; ++k) a[k] = arg(i0 + k);
      kernels::vmath(kernels::VFun::exp, m, a, e);
#pragma omp simd  // the gradient never aliases the inputs: vectorise the selects
      for (int64_t k = 0; k < m; ++k) use(i0 + k, e[k]);
    }
  }
  // ga (+)= the contribution: added to a gradient that holds values, written to a fresh one.
  template <bool Acc>
  void backward_range(int64_t lo, int64_t hi) {
    Node<T>* a = this->in[0];
    T* ga = a->grad + lo;
    const T *g = this->grad + lo, *x = a->val + lo, *y = this->val + lo;
    const int64_t n = hi - lo;
    auto put = [ga](int64_t i, T v) {
      if constexpr (Acc) ga[i] += v;
      else ga[i] = v;
    };
    constexpr T two_over_sqrt_pi = T(2) * std::numbers::inv_sqrtpi_v<T>;
    switch (op) {
      case Un::neg: for (int64_t i = 0; i < n; ++i) put(i, -(g[i])); break;
      case Un::add_scalar: for (int64_t i = 0; i < n; ++i) put(i, g[i]); break;
      case Un::scale: for (int64_t i = 0; i < n; ++i) put(i, g[i] * p0); break;
      case Un::rdiv: for (int64_t i = 0; i < n; ++i) put(i, -(g[i] * y[i] / x[i])); break;
      case Un::exp: for (int64_t i = 0; i < n; ++i) put(i, g[i] * y[i]); break;
      case Un::log: for (int64_t i = 0; i < n; ++i) put(i, g[i] / x[i]); break;
      case Un::log1p: for (int64_t i = 0; i < n; ++i) put(i, g[i] / (T(1) + x[i])); break;
      case Un::sqrt: for (int64_t i = 0; i < n; ++i) put(i, g[i] * T(0.5) / y[i]); break;
      case Un::pow:
        for (int64_t i = 0; i < n; ++i) put(i, g[i] * p0 * std::pow(x[i], p0 - T(1)));
        break;
      case Un::abs:
        for (int64_t i = 0; i < n; ++i) put(i, x[i] > 0 ? g[i] : (x[i] < 0 ? -g[i] : T(0)));
        break;
      case Un::square: for (int64_t i = 0; i < n; ++i) put(i, T(2) * g[i] * x[i]); break;
      // tanh' = sech² = 4e/(1 + e)² with e = exp(-2|x|): no cancellation where 1 - y² has
      // lost every digit (|x| > ~9 in float, > ~19 in double). 1 - y² is exact enough for
      // |x| <= 0.5 (y² <= 0.22).
      case Un::tanh:
        with_exp(n, [x](int64_t i) { return T(-2) * std::abs(x[i]); }, [&](int64_t i, T e) {
          const T near0 = g[i] * (T(1) - y[i] * y[i]), far = g[i] * (T(4) * e / ((T(1) + e) * (T(1) + e)));
          put(i, std::abs(x[i]) <= T(0.5) ? near0 : far);
        });
        break;
      // sigmoid' = e/(1 + e)² with e = exp(-|x|) (y(1 - y) cancels for x >> 0).
      case Un::sigmoid:
        with_exp(n, [x](int64_t i) { return -std::abs(x[i]); }, [&](int64_t i, T e) { put(i, g[i] * (e / ((T(1) + e) * (T(1) + e)))); });
        break;
      case Un::softplus:  // d/dx softplus = sigmoid(x) = 1 - exp(-softplus(x))
        for (int64_t i = 0; i < n; ++i) put(i, -(g[i] * std::expm1(-y[i])));
        break;
      case Un::relu: for (int64_t i = 0; i < n; ++i) put(i, x[i] > 0 ? g[i] : T(0)); break;
      case Un::leaky_relu: for (int64_t i = 0; i < n; ++i) put(i, x[i] > 0 ? g[i] : p0 * g[i]); break;
      // ELU' = alpha·exp(x) for x <= 0, computed as such: y + alpha cancels for x << 0.
      case Un::elu:
        with_exp(n, [x](int64_t i) { return std::min(x[i], T(0)); }, [&](int64_t i, T e) {
          const T neg = g[i] * p0 * e, gi = g[i];
          put(i, x[i] > 0 ? gi : neg);
        });
        break;
      case Un::erf:
        with_exp(n, [x](int64_t i) { return -x[i] * x[i]; }, [&](int64_t i, T e) { put(i, g[i] * two_over_sqrt_pi * e); });
        break;
      case Un::erfc:
        with_exp(n, [x](int64_t i) { return -x[i] * x[i]; }, [&](int64_t i, T e) { put(i, -(g[i] * two_over_sqrt_pi * e)); });
        break;
      case Un::clamp:
        for (int64_t i = 0; i < n; ++i) put(i, (x[i] >= p0 && x[i] <= p1) ? g[i] : T(0));
        break;
    }
  }
};

// a' times the derivative, as ops on a (x) and the output (y).
template <class T>
Node<T>* UnaryNode<T>::tangent(TangentMap<T>& t) {
  Var<T> ta = detail::tangent_of(t, this->in[0]);
  if (!ta) return nullptr;
  const Node<T>* an = this->in[0];
  Var<T> x(this->in[0]), y(this);
  using detail::constant_map;
  Var<T> r;
  switch (op) {
    case Un::neg: r = neg(ta); break;
    case Un::add_scalar: r = ta; break;
    case Un::scale: r = scale(ta, p0); break;
    case Un::rdiv: r = neg(div(mul(ta, y), x)); break;
    case Un::exp: r = mul(ta, y); break;
    case Un::log: r = div(ta, x); break;
    case Un::log1p: r = div(ta, add_scalar(x, T(1))); break;
    case Un::sqrt: r = div(scale(ta, T(0.5)), y); break;
    case Un::pow: r = mul(ta, scale(pow(x, p0 - T(1)), p0)); break;
    case Un::abs: r = mul(ta, constant_map(an, [](T v) { return v > 0 ? T(1) : (v < 0 ? T(-1) : T(0)); })); break;
    case Un::square: r = mul(ta, scale(x, T(2))); break;
    case Un::tanh: r = mul(ta, add_scalar(neg(square(y)), T(1))); break;
    case Un::sigmoid: r = mul(ta, mul(y, add_scalar(neg(y), T(1)))); break;
    case Un::softplus: r = mul(ta, sigmoid(x)); break;
    case Un::relu: r = mul(ta, constant_map(an, [](T v) { return v > 0 ? T(1) : T(0); })); break;
    case Un::leaky_relu: r = mul(ta, constant_map(an, [s = p0](T v) { return v > 0 ? T(1) : s; })); break;
    case Un::elu:  // x > 0: 1; else y + alpha
      r = mul(ta, add(constant_map(an, [](T v) { return v > 0 ? T(1) : T(0); }),
                      mul(constant_map(an, [](T v) { return v > 0 ? T(0) : T(1); }), add_scalar(y, p0))));
      break;
    case Un::erf:
    case Un::erfc: {
      const T c = (op == Un::erf ? T(2) : T(-2)) * std::numbers::inv_sqrtpi_v<T>;
      r = mul(ta, scale(exp(neg(square(x))), c));
      break;
    }
    case Un::clamp: r = mul(ta, constant_map(an, [lo = p0, hi = p1](T v) { return v >= lo && v <= hi ? T(1) : T(0); })); break;
  }
  return r.node();
}

template <class T>
Var<T> unary(const Var<T>& a, Un op, T p0 = 0, T p1 = 0) {
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<UnaryNode<T>>(a.shape(), a.requires_grad(), un_name(op));
  node->in = {a.node(), nullptr, nullptr};
  node->first_write = true;
  node->op = op;
  node->p0 = p0;
  node->p1 = p1;
  using kernels::VFun;
  kernels::parallel_for(node->n, node->n, [&](int64_t lo, int64_t hi) {
  const T* x = a.data() + lo;
  T* y = node->val + lo;
  const int64_t n = hi - lo;
  switch (op) {
    case Un::neg: for (int64_t i = 0; i < n; ++i) y[i] = -x[i]; break;
    case Un::add_scalar: for (int64_t i = 0; i < n; ++i) y[i] = x[i] + p0; break;
    case Un::scale: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * p0; break;
    case Un::rdiv: for (int64_t i = 0; i < n; ++i) y[i] = p0 / x[i]; break;
    case Un::exp: kernels::vmath(VFun::exp, n, x, y); break;
    case Un::log: kernels::vmath(VFun::log, n, x, y); break;
    case Un::log1p: kernels::vmath(VFun::log1p, n, x, y); break;
    case Un::sqrt: for (int64_t i = 0; i < n; ++i) y[i] = std::sqrt(x[i]); break;
    case Un::pow:
      if (p0 == T(2)) for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i];
      else for (int64_t i = 0; i < n; ++i) y[i] = std::pow(x[i], p0);
      break;
    case Un::abs: for (int64_t i = 0; i < n; ++i) y[i] = std::abs(x[i]); break;
    case Un::square: for (int64_t i = 0; i < n; ++i) y[i] = x[i] * x[i]; break;
    case Un::tanh: kernels::vmath(VFun::tanh, n, x, y); break;
    case Un::sigmoid: kernels::vsigmoid(n, x, y); break;
    case Un::softplus: kernels::vsoftplus(n, x, y); break;
    case Un::relu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? T(0) : x[i]; break;  // NaN propagates
    case Un::leaky_relu: for (int64_t i = 0; i < n; ++i) y[i] = x[i] < 0 ? p0 * x[i] : x[i]; break;
    case Un::elu:
      kernels::vmath(VFun::expm1, n, x, y);
      // Branch-free and vectorised: the sign of x is a coin flip in a network, and a branch
      // per element mispredicted often enough to cost more than the expm1.
      // Both sides computed, then selected (a conditional multiply is not if-converted under
      // -ftrapping-math).
#pragma omp simd
      for (int64_t i = 0; i < n; ++i) {
        const T neg = p0 * y[i], xi = x[i];
        y[i] = xi > 0 ? xi : neg;
      }
      break;
    case Un::erf: kernels::vmath(VFun::erf, n, x, y); break;
    case Un::erfc: kernels::vmath(VFun::erfc, n, x, y); break;
    case Un::clamp: for (int64_t i = 0; i < n; ++i) y[i] = std::clamp(x[i], p0, p1); break;
  }
  });
  return tape.record(node);
}

template <class T>
struct WhereNode final : Node<T> {
  const T* cond;
  Node<T>* tangent(TangentMap<T>& t) override {  // the same selection of a' and b'
    Var<T> ta = detail::tangent_of(t, this->in[0]), tb = detail::tangent_of(t, this->in[1]);
    if (!ta && !tb) return nullptr;
    Tensor<T> zeros(this->shape), c(this->shape, std::span<const T>(cond, static_cast<size_t>(this->n)));
    return where(c, ta ? ta : constant(zeros), tb ? tb : constant(zeros)).node();
  }
  void backward() override {
    T *ga = this->in[0]->grad, *gb = this->in[1]->grad;
    const T* g = this->grad;
    for (int64_t i = 0; i < this->n; ++i) {
      if (cond[i] != T(0)) { if (ga) ga[i] += g[i]; }
      else if (gb) gb[i] += g[i];
    }
  }
};

template <class T>
struct DropoutNode final : Node<T> {
  const T* mask;  // 0 or 1/(1-p)
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    for (int64_t i = 0; i < this->n; ++i) ga[i] += this->grad[i] * mask[i];
  }
};

}  // namespace

template <class T>
Var<T> dropout(const Var<T>& a, double p, Rng& rng) {
  if (!(p >= 0 && p < 1)) throw std::invalid_argument("dropout: p must be in [0, 1), got " + std::to_string(p));
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<DropoutNode<T>>(a.shape(), a.requires_grad(), "dropout");
  node->in = {a.node(), nullptr, nullptr};
  T* mask = tape.alloc(node->n);
  node->mask = mask;
  const T keep = T(1) / static_cast<T>(1 - p);
  // Keep when a 32-bit uniform integer is >= p * 2^32.
  const auto threshold = static_cast<uint64_t>(p * 4294967296.0);
  const T* x = a.data();
  for (int64_t i = 0; i < node->n; ++i) {
    mask[i] = rng.next_u32() >= threshold ? keep : T(0);
    node->val[i] = x[i] * mask[i];
  }
  return tape.record(node);
}

template <class T> Var<T> add(const Var<T>& a, const Var<T>& b) { return binary(a, b, Bin::add); }
template <class T> Var<T> sub(const Var<T>& a, const Var<T>& b) { return binary(a, b, Bin::sub); }
template <class T> Var<T> mul(const Var<T>& a, const Var<T>& b) { return binary(a, b, Bin::mul); }
template <class T> Var<T> div(const Var<T>& a, const Var<T>& b) { return binary(a, b, Bin::div); }
template <class T> Var<T> add_scalar(const Var<T>& a, std::type_identity_t<T> s) { return unary(a, Un::add_scalar, s); }
template <class T> Var<T> scale(const Var<T>& a, std::type_identity_t<T> s) { return unary(a, Un::scale, s); }
template <class T> Var<T> rdiv_scalar(std::type_identity_t<T> s, const Var<T>& a) { return unary(a, Un::rdiv, s); }
template <class T> Var<T> neg(const Var<T>& a) { return unary(a, Un::neg); }
template <class T> Var<T> exp(const Var<T>& a) { return unary(a, Un::exp); }
template <class T> Var<T> log(const Var<T>& a) { return unary(a, Un::log); }
template <class T> Var<T> log1p(const Var<T>& a) { return unary(a, Un::log1p); }
template <class T> Var<T> sqrt(const Var<T>& a) { return unary(a, Un::sqrt); }
template <class T> Var<T> pow(const Var<T>& a, std::type_identity_t<T> p) { return unary(a, Un::pow, p); }
template <class T> Var<T> abs(const Var<T>& a) { return unary(a, Un::abs); }
template <class T> Var<T> square(const Var<T>& a) { return unary(a, Un::square); }
template <class T> Var<T> tanh(const Var<T>& a) { return unary(a, Un::tanh); }
template <class T> Var<T> sigmoid(const Var<T>& a) { return unary(a, Un::sigmoid); }
template <class T> Var<T> softplus(const Var<T>& a) { return unary(a, Un::softplus); }
template <class T> Var<T> relu(const Var<T>& a) { return unary(a, Un::relu); }
template <class T> Var<T> leaky_relu(const Var<T>& a, std::type_identity_t<T> slope) { return unary(a, Un::leaky_relu, slope); }
template <class T> Var<T> elu(const Var<T>& a, std::type_identity_t<T> alpha) { return unary(a, Un::elu, alpha); }
template <class T> Var<T> erf(const Var<T>& a) { return unary(a, Un::erf); }
template <class T> Var<T> erfc(const Var<T>& a) { return unary(a, Un::erfc); }
template <class T>
Var<T> clamp(const Var<T>& a, std::type_identity_t<T> lo, std::type_identity_t<T> hi) {
  if (!(lo <= hi))
    throw std::invalid_argument("clamp: lower bound " + std::to_string(lo) + " exceeds upper bound " + std::to_string(hi));
  return unary(a, Un::clamp, lo, hi);
}

template <class T>
Var<T> where(const Tensor<T>& cond, const Var<T>& a, const Var<T>& b) {
  if (cond.shape() != a.shape() || a.shape() != b.shape())
    throw std::invalid_argument("where: cond " + cond.shape().str() + ", a " + a.shape().str() + " and b " +
                                b.shape().str() + " must have one shape");
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<WhereNode<T>>(a.shape(), a.requires_grad() || b.requires_grad(), "where");
  node->in = {a.node(), b.node(), nullptr};
  T* c = tape.alloc(node->n);
  auto cv = cond.to_vector();
  std::copy(cv.begin(), cv.end(), c);
  node->cond = c;
  for (int64_t i = 0; i < node->n; ++i) node->val[i] = c[i] != T(0) ? a.data()[i] : b.data()[i];
  return tape.record(node);
}

#define TRUSTY_INST(T)                                                                                     \
  template Var<T> add<T>(const Var<T>&, const Var<T>&);                                                    \
  template Var<T> sub<T>(const Var<T>&, const Var<T>&);                                                    \
  template Var<T> mul<T>(const Var<T>&, const Var<T>&);                                                    \
  template Var<T> div<T>(const Var<T>&, const Var<T>&);                                                    \
  template Var<T> add_scalar<T>(const Var<T>&, T);                                                         \
  template Var<T> scale<T>(const Var<T>&, T);                                                              \
  template Var<T> rdiv_scalar<T>(T, const Var<T>&);                                                        \
  template Var<T> neg<T>(const Var<T>&);                                                                   \
  template Var<T> exp<T>(const Var<T>&);                                                                   \
  template Var<T> log<T>(const Var<T>&);                                                                   \
  template Var<T> log1p<T>(const Var<T>&);                                                                 \
  template Var<T> sqrt<T>(const Var<T>&);                                                                  \
  template Var<T> pow<T>(const Var<T>&, T);                                                                \
  template Var<T> abs<T>(const Var<T>&);                                                                   \
  template Var<T> square<T>(const Var<T>&);                                                                \
  template Var<T> tanh<T>(const Var<T>&);                                                                  \
  template Var<T> sigmoid<T>(const Var<T>&);                                                               \
  template Var<T> softplus<T>(const Var<T>&);                                                              \
  template Var<T> relu<T>(const Var<T>&);                                                                  \
  template Var<T> leaky_relu<T>(const Var<T>&, T);                                                         \
  template Var<T> elu<T>(const Var<T>&, T);                                                                \
  template Var<T> erf<T>(const Var<T>&);                                                                   \
  template Var<T> erfc<T>(const Var<T>&);                                                                  \
  template Var<T> clamp<T>(const Var<T>&, T, T);                                                           \
  template Var<T> where<T>(const Tensor<T>&, const Var<T>&, const Var<T>&);                                \
  template Var<T> dropout<T>(const Var<T>&, double, Rng&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
