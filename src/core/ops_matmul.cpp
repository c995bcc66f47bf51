// Matrix products: forward one GEMM, backward two (dA = dC Bᵀ, dB = Aᵀ dC).
#include <algorithm>
#include <string>

#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "trusty/core/kernels/vmath.hpp"
#include "kernels/simd.hpp"
#include "linear_act.hpp"
#include "trusty/core/ops.hpp"
#include "tangent_util.hpp"

namespace trusty::core {
namespace {

using kernels::gemm;

// gb[j] (+)= Σ_r g[r, j] (added when `acc`, else written): 16 columns at a time summed in a
// local row (a fixed-width inner loop the compiler keeps in vector registers), the last
// partial chunk by a plain loop.
template <class T>
void column_sums(int64_t rows, int64_t cols, const T* g, T* gb, bool acc) {
  if (cols == 1) {  // one output: a chain of additions down the rows otherwise
    const T v = kernels::sum(g, rows);
    gb[0] = acc ? gb[0] + v : v;
    return;
  }
  constexpr int64_t C = 16;
  auto put = [&](int64_t j0, int64_t w, const T* s) {
    for (int64_t j = 0; j < w; ++j) gb[j0 + j] = acc ? gb[j0 + j] + s[j] : s[j];
  };
  int64_t j0 = 0;
  for (; j0 + C <= cols; j0 += C) {
    T sum[C] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = g + r * cols + j0;
      for (int64_t j = 0; j < C; ++j) sum[j] += row[j];
    }
    put(j0, C, sum);
  }
  if (j0 < cols) {
    const int64_t w = cols - j0;
    T sum[C] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w; ++j) sum[j] += g[r * cols + j0 + j];
    put(j0, w, sum);
  }
}

// The backward GEMMs write a fresh gradient (beta = 0: nothing read) or add to it.
template <class T>
T beta_for(Node<T>* in) {
  return accumulate_into(in) ? T(1) : T(0);
}

template <class T>
struct MatmulNode final : Node<T> {
  int64_t batch, m, k, cols;  // (cols, not n: Node::n is the element count)
  bool fold;  // b is 2-D: the batch was folded into the rows of a
  Node<T>* tangent(TangentMap<T>& t) override {  // a' b + a b'
    Var<T> ta = detail::tangent_of(t, this->in[0]), tb = detail::tangent_of(t, this->in[1]);
    Var<T> r;
    if (ta) r = matmul(ta, Var<T>(this->in[1]));
    if (tb) r = r ? add(r, matmul(Var<T>(this->in[0]), tb)) : matmul(Var<T>(this->in[0]), tb);
    return r ? r.node() : nullptr;
  }
  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const T* g = this->grad;
    const int64_t n = cols;
    if (fold) {
      const int64_t rows = batch * m;
      if (a->grad) gemm(false, true, rows, k, n, T(1), g, n, b->val, n, beta_for(a), a->grad, k);
      if (b->grad) gemm(true, false, k, n, rows, T(1), a->val, k, g, n, beta_for(b), b->grad, n);
      return;
    }
    // Every batch entry writes its own part of each gradient: one decision for all of them.
    const T ba = a->grad ? beta_for(a) : T(1), bb = b->grad ? beta_for(b) : T(1);
    for (int64_t i = 0; i < batch; ++i) {
      const T* gi = g + i * m * n;
      if (a->grad) gemm(false, true, m, k, n, T(1), gi, n, b->val + i * k * n, n, ba, a->grad + i * m * k, k);
      if (b->grad) gemm(true, false, k, n, m, T(1), a->val + i * m * k, k, gi, n, bb, b->grad + i * k * n, n);
    }
  }
};

// The activation's derivative from its output, dz = g · act'(y), with the bias gradient's
// column sums taken in the same pass: sums[j] = Σ_r dz[r, j] (sums may be null).
// Reference: one row at a time, the sums in memory.
template <class T, class D>
void dz_rows_ref(int64_t rows, int64_t cols, const T* g, const T* y, T* dz, T* sums, D d) {
  if (sums) std::fill(sums, sums + cols, T(0));
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < cols; ++j) {
      dz[r * cols + j] = d(g[r * cols + j], y[r * cols + j]);
      if (sums) sums[j] += dz[r * cols + j];
    }
}

#if defined(__AVX512F__)
// AVX-512: a chunk of up to NV vectors of columns at a time, its sums in registers, even and
// odd rows in separate accumulators (the reference's sums were a latency chain through
// memory, a third of this node's backward).
template <class T, int NV, class D>
void dz_chunk(int64_t rows, int64_t cols, int64_t j0, const T* g, const T* y, T* dz, T* sums, D d) {
  using X = kernels::simd::Vec<T>;
  typename X::M msk[NV];
  const int64_t w = std::min<int64_t>(NV * X::W, cols - j0);
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) msk[v] = X::mask(w - v * X::W);
  typename X::V s0[NV], s1[NV];
#pragma GCC unroll 4
  for (int v = 0; v < NV; ++v) s0[v] = s1[v] = X::zero();
  // Two rows per step, written out (a helper taking the sums by pointer kept them in memory).
  int64_t r = 0;
  for (; r + 2 <= rows; r += 2) {
    const int64_t o0 = r * cols + j0, o1 = o0 + cols;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const int64_t e = v * X::W;
      const auto z0 = d(X::load(msk[v], g + o0 + e), X::load(msk[v], y + o0 + e));
      const auto z1 = d(X::load(msk[v], g + o1 + e), X::load(msk[v], y + o1 + e));
      X::store(msk[v], dz + o0 + e, z0);
      X::store(msk[v], dz + o1 + e, z1);
      s0[v] = X::add(s0[v], z0);
      s1[v] = X::add(s1[v], z1);
    }
  }
  if (r < rows) {
    const int64_t o0 = r * cols + j0;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      const auto z0 = d(X::load(msk[v], g + o0 + v * X::W), X::load(msk[v], y + o0 + v * X::W));
      X::store(msk[v], dz + o0 + v * X::W, z0);
      s0[v] = X::add(s0[v], z0);
    }
  }
  if (sums)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) X::store(msk[v], sums + j0 + v * X::W, X::add(s0[v], s1[v]));
}

template <class T, class D>
void dz_rows(int64_t rows, int64_t cols, const T* g, const T* y, T* dz, T* sums, D d) {
  constexpr int64_t W = kernels::simd::Vec<T>::W;
  for (int64_t j0 = 0; j0 < cols; j0 += 4 * W) {
    switch (std::min<int64_t>(4, (cols - j0 + W - 1) / W)) {
      case 4: dz_chunk<T, 4>(rows, cols, j0, g, y, dz, sums, d); break;
      case 3: dz_chunk<T, 3>(rows, cols, j0, g, y, dz, sums, d); break;
      case 2: dz_chunk<T, 2>(rows, cols, j0, g, y, dz, sums, d); break;
      default: dz_chunk<T, 1>(rows, cols, j0, g, y, dz, sums, d); break;
    }
  }
}

template <class T>
void activation_backward(LinearAct act, int64_t rows, int64_t cols, const T* g, const T* y, T* dz, T* sums) {
  using X = kernels::simd::Vec<T>;
  using V = typename X::V;
  const V one = X::set1(T(1));
  switch (act) {
    case LinearAct::none: break;  // not called: dz is the gradient itself
    case LinearAct::tanh: dz_rows(rows, cols, g, y, dz, sums, [one](V gv, V yv) { return X::mul(gv, X::fnma(yv, yv, one)); }); break;
    case LinearAct::sigmoid:
      dz_rows(rows, cols, g, y, dz, sums, [one](V gv, V yv) { return X::mul(X::mul(gv, yv), X::fnma(yv, one, one)); });
      break;
    case LinearAct::relu: dz_rows(rows, cols, g, y, dz, sums, [](V gv, V yv) { return X::gt_select(yv, gv); }); break;
  }
}
#else
template <class T>
void activation_backward(LinearAct act, int64_t rows, int64_t cols, const T* g, const T* y, T* dz, T* sums) {
  switch (act) {
    case LinearAct::none: break;  // not called: dz is the gradient itself
    case LinearAct::tanh: dz_rows_ref(rows, cols, g, y, dz, sums, [](T gv, T yv) { return gv * (T(1) - yv * yv); }); break;
    case LinearAct::sigmoid: dz_rows_ref(rows, cols, g, y, dz, sums, [](T gv, T yv) { return gv * yv * (T(1) - yv); }); break;
    case LinearAct::relu: dz_rows_ref(rows, cols, g, y, dz, sums, [](T gv, T yv) { return yv > 0 ? gv : T(0); }); break;
  }
}
#endif

using linear_detail::activation_forward;

constexpr const char* linear_name(LinearAct act) {
  switch (act) {
    case LinearAct::none: return "linear";
    case LinearAct::tanh: return "linear+tanh";
    case LinearAct::sigmoid: return "linear+sigmoid";
    case LinearAct::relu: return "linear+relu";
  }
  return "linear";
}

// y = act(x W + b). Backward: dz = g · act'(y) (into scratch, so that this node's gradient
// stays dL/dy), then db = Σ_rows dz, dW = xᵀ dz, dx = dz Wᵀ.
template <class T>
struct LinearNode final : Node<T> {
  int64_t rows, k, cols;
  LinearAct act;
  Node<T>* tangent(TangentMap<T>& t) override;
  void backward() override {
    Node<T>*x = this->in[0], *w = this->in[1], *b = this->in[2];
    // dz into scratch (this node's gradient stays dL/dy), with short rows' bias sums taken
    // in the same pass; without an activation dz is the gradient itself.
    const T* dz = this->grad;
    const bool db = b && b->grad;
    constexpr int64_t kLocal = 256;
    T sums[kLocal];
    const bool fused_sums = act != LinearAct::none && db && cols <= kLocal;
    if (act != LinearAct::none) {
      T* s = Tape<T>::current().scratch(this->n);
      activation_backward(act, rows, cols, this->grad, this->val, s, fused_sums ? sums : nullptr);
      dz = s;
    }
    if (db) {
      const bool acc = accumulate_into(b);
      if (!fused_sums) column_sums(rows, cols, dz, b->grad, acc);
      else if (acc) for (int64_t j = 0; j < cols; ++j) b->grad[j] += sums[j];
      else std::copy(sums, sums + cols, b->grad);
    }
    if (w->grad) gemm(true, false, k, cols, rows, T(1), x->val, k, dz, cols, beta_for(w), w->grad, cols);
    if (x->grad) gemm(false, true, rows, k, cols, T(1), dz, cols, w->val, cols, beta_for(x), x->grad, k);
  }
};

// z' = x' W + x W' + b', then through the activation by its output: y' = act'(y) z'.
template <class T>
Node<T>* LinearNode<T>::tangent(TangentMap<T>& t) {
  Var<T> tx = detail::tangent_of(t, this->in[0]), tw = detail::tangent_of(t, this->in[1]);
  Var<T> tb = detail::tangent_of(t, this->in[2]);
  if (!tx && !tw && !tb) return nullptr;
  Var<T> x(this->in[0]), w(this->in[1]), y(this), dz;
  if (tx) dz = linear(tx, w);
  if (tw) dz = dz ? add(dz, linear(x, tw)) : linear(x, tw);
  if (tb) dz = dz ? add(dz, tb) : detail::broadcast_to(tb, this->shape);
  switch (act) {
    case LinearAct::none: return dz.node();
    case LinearAct::tanh: return mul(dz, add_scalar(neg(square(y)), T(1))).node();
    case LinearAct::sigmoid: return mul(dz, mul(y, add_scalar(neg(y), T(1)))).node();
    case LinearAct::relu: return mul(dz, detail::constant_map(this, [](T v) { return v > 0 ? T(1) : T(0); })).node();
  }
  return nullptr;
}

template <class T>
Var<T> linear_impl(const Var<T>& x, const Var<T>& w, const Var<T>* b, LinearAct act = LinearAct::none) {
  const Shape &sx = x.shape(), &sw = w.shape();
  const bool ok = sx.rank() >= 1 && sw.rank() == 2 && sx[sx.rank() - 1] == sw[0] &&
                  (!b || (b->shape().rank() == 1 && b->shape()[0] == sw[1]));
  if (!ok)
    throw std::invalid_argument("linear: input " + sx.str() + ", weight " + sw.str() +
                                (b ? ", bias " + b->shape().str() : std::string()) +
                                " are not compatible (expected [..., k], [k, n], [n])");
  const int64_t k = sw[0], n = sw[1];
  Shape out = sx;
  out[out.rank() - 1] = n;
  auto& tape = Tape<T>::current();
  const bool grad = x.requires_grad() || w.requires_grad() || (b && b->requires_grad());
  auto* node = tape.template make<LinearNode<T>>(out, grad, linear_name(act));
  node->in = {x.node(), w.node(), b ? b->node() : nullptr};
  node->first_write = true;
  node->k = k;
  node->cols = n;
  node->rows = k ? x.numel() / k : 0;
  node->act = act;
  T* y = node->val;
  if (!(b && node->rows * n * k < kernels::kSmallGemmFlops &&
        kernels::gemm_small_bias(node->rows, n, k, x.data(), k, w.data(), n, b->data(), y, n))) {
    if (b) {
      const T* bv = b->data();
      for (int64_t r = 0; r < node->rows; ++r)
        for (int64_t j = 0; j < n; ++j) y[r * n + j] = bv[j];  // short rows: a loop beats memmove calls
    }
    gemm(false, false, node->rows, n, k, T(1), x.data(), k, w.data(), n, b ? T(1) : T(0), y, n);
  }
  activation_forward(act, node->n, y);
  return tape.record(node);
}

template <class T>
struct DotNode final : Node<T> {
  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const T g = this->grad[0];
    auto push = [g](Node<T>* to, const T* other) {
      if (!to->grad) return;
      T* d = to->grad;
      if (accumulate_into(to)) for (int64_t i = 0; i < to->n; ++i) d[i] += g * other[i];
      else for (int64_t i = 0; i < to->n; ++i) d[i] = g * other[i];
    };
    push(a, b->val);
    push(b, a->val);
  }
  Node<T>* tangent(TangentMap<T>& t) override {  // a'·b + a·b'
    Var<T> ta = detail::tangent_of(t, this->in[0]), tb = detail::tangent_of(t, this->in[1]);
    Var<T> r;
    if (ta) r = dot(ta, Var<T>(this->in[1]));
    if (tb) r = r ? add(r, dot(Var<T>(this->in[0]), tb)) : dot(Var<T>(this->in[0]), tb);
    return r ? r.node() : nullptr;
  }
};

}  // namespace

template <class T>
Var<T> matmul(const Var<T>& a, const Var<T>& b) {
  const Shape &sa = a.shape(), &sb = b.shape();
  bool ok = sa.rank() >= 2 && sb.rank() >= 2 && sa[sa.rank() - 1] == sb[sb.rank() - 2];
  if (ok && sb.rank() > 2) {
    ok = sa.rank() == sb.rank();
    for (int i = 0; ok && i < sa.rank() - 2; ++i) ok = sa[i] == sb[i];
  }
  if (!ok)
    throw std::invalid_argument("matmul: shapes " + sa.str() + " and " + sb.str() +
                                " are not compatible (expected [...,m,k] @ [k,n] or [...,m,k] @ [...,k,n])");
  const int64_t m = sa[sa.rank() - 2], k = sa[sa.rank() - 1], n = sb[sb.rank() - 1];
  Shape out = sa;
  out[out.rank() - 1] = n;
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<MatmulNode<T>>(out, a.requires_grad() || b.requires_grad(), "matmul");
  node->in = {a.node(), b.node(), nullptr};
  node->first_write = true;
  node->m = m;
  node->k = k;
  node->cols = n;
  node->batch = (m * k != 0) ? a.numel() / (m * k) : 0;
  node->fold = sb.rank() == 2;
  if (node->fold) {
    gemm(false, false, node->batch * m, n, k, T(1), a.data(), k, b.data(), n, T(0), node->val, n);
  } else {
    for (int64_t i = 0; i < node->batch; ++i)
      gemm(false, false, m, n, k, T(1), a.data() + i * m * k, k, b.data() + i * k * n, n, T(0), node->val + i * m * n, n);
  }
  return tape.record(node);
}

template <class T>
Var<T> dot(const Var<T>& a, const Var<T>& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("dot: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<DotNode<T>>(Shape{}, a.requires_grad() || b.requires_grad(), "dot");
  node->in = {a.node(), b.node(), nullptr};
  node->first_write = true;
  node->val[0] = kernels::dot(a.data(), b.data(), a.numel());
  return tape.record(node);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b) {
  return linear_impl(x, w, &b);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w) {
  return linear_impl<T>(x, w, nullptr);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, const Var<T>& b, LinearAct act) {
  return linear_impl(x, w, &b, act);
}

template <class T>
Var<T> linear(const Var<T>& x, const Var<T>& w, LinearAct act) {
  return linear_impl<T>(x, w, nullptr, act);
}

template Var<float> linear<float>(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> linear<double>(const Var<double>&, const Var<double>&, const Var<double>&);
template Var<float> linear<float>(const Var<float>&, const Var<float>&);
template Var<float> linear<float>(const Var<float>&, const Var<float>&, const Var<float>&, LinearAct);
template Var<double> linear<double>(const Var<double>&, const Var<double>&, const Var<double>&, LinearAct);
template Var<float> linear<float>(const Var<float>&, const Var<float>&, LinearAct);
template Var<double> linear<double>(const Var<double>&, const Var<double>&, LinearAct);
template Var<double> linear<double>(const Var<double>&, const Var<double>&);
template Var<float> matmul<float>(const Var<float>&, const Var<float>&);
template Var<double> matmul<double>(const Var<double>&, const Var<double>&);
template Var<float> dot<float>(const Var<float>&, const Var<float>&);
template Var<double> dot<double>(const Var<double>&, const Var<double>&);

}  // namespace trusty::core
