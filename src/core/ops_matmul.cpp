// Matrix products: forward one GEMM, backward two (dA = dC Bᵀ, dB = Aᵀ dC).
#include <algorithm>
#include <string>

#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

using kernels::gemm;

// gb[j] += Σ_r g[r, j]: 16 columns at a time summed in a local row (a fixed-width inner
// loop the compiler keeps in vector registers), the last partial chunk by a plain loop.
template <class T>
void add_column_sums(int64_t rows, int64_t cols, const T* g, T* gb) {
  constexpr int64_t C = 16;
  int64_t j0 = 0;
  for (; j0 + C <= cols; j0 += C) {
    T acc[C] = {};
    for (int64_t r = 0; r < rows; ++r) {
      const T* row = g + r * cols + j0;
      for (int64_t j = 0; j < C; ++j) acc[j] += row[j];
    }
    for (int64_t j = 0; j < C; ++j) gb[j0 + j] += acc[j];
  }
  if (j0 < cols) {
    const int64_t w = cols - j0;
    T acc[C] = {};
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < w; ++j) acc[j] += g[r * cols + j0 + j];
    for (int64_t j = 0; j < w; ++j) gb[j0 + j] += acc[j];
  }
}

template <class T>
struct MatmulNode final : Node<T> {
  int64_t batch, m, k, cols;  // (cols, not n: Node::n is the element count)
  bool fold;  // b is 2-D: the batch was folded into the rows of a
  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const T* g = this->grad;
    const int64_t n = cols;
    if (fold) {
      const int64_t rows = batch * m;
      if (a->grad) gemm(false, true, rows, k, n, T(1), g, n, b->val, n, T(1), a->grad, k);
      if (b->grad) gemm(true, false, k, n, rows, T(1), a->val, k, g, n, T(1), b->grad, n);
      return;
    }
    for (int64_t i = 0; i < batch; ++i) {
      const T* gi = g + i * m * n;
      if (a->grad) gemm(false, true, m, k, n, T(1), gi, n, b->val + i * k * n, n, T(1), a->grad + i * m * k, k);
      if (b->grad) gemm(true, false, k, n, m, T(1), a->val + i * m * k, k, gi, n, T(1), b->grad + i * k * n, n);
    }
  }
};

template <class T>
struct LinearNode final : Node<T> {
  int64_t rows, k, cols;
  void backward() override {
    Node<T>*x = this->in[0], *w = this->in[1], *b = this->in[2];
    const T* g = this->grad;
    if (x->grad) gemm(false, true, rows, k, cols, T(1), g, cols, w->val, cols, T(1), x->grad, k);
    if (w->grad) gemm(true, false, k, cols, rows, T(1), x->val, k, g, cols, T(1), w->grad, cols);
    if (b && b->grad) add_column_sums(rows, cols, g, b->grad);
  }
};

template <class T>
Var<T> linear_impl(const Var<T>& x, const Var<T>& w, const Var<T>* b) {
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
  auto* node = tape.template make<LinearNode<T>>(out, grad, "linear");
  node->in = {x.node(), w.node(), b ? b->node() : nullptr};
  node->k = k;
  node->cols = n;
  node->rows = k ? x.numel() / k : 0;
  T* y = node->val;
  if (b && node->rows * n * k < kernels::kSmallGemmFlops &&
      kernels::gemm_small_bias(node->rows, n, k, x.data(), k, w.data(), n, b->data(), y, n))
    return tape.record(node);
  if (b) {
    const T* bv = b->data();
    for (int64_t r = 0; r < node->rows; ++r)
      for (int64_t j = 0; j < n; ++j) y[r * n + j] = bv[j];  // short rows: a loop beats memmove calls
  }
  gemm(false, false, node->rows, n, k, T(1), x.data(), k, w.data(), n, b ? T(1) : T(0), y, n);
  return tape.record(node);
}

template <class T>
struct DotNode final : Node<T> {
  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const T g = this->grad[0];
    if (a->grad) for (int64_t i = 0; i < a->n; ++i) a->grad[i] += g * b->val[i];
    if (b->grad) for (int64_t i = 0; i < b->n; ++i) b->grad[i] += g * a->val[i];
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

template Var<float> linear<float>(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> linear<double>(const Var<double>&, const Var<double>&, const Var<double>&);
template Var<float> linear<float>(const Var<float>&, const Var<float>&);
template Var<double> linear<double>(const Var<double>&, const Var<double>&);
template Var<float> matmul<float>(const Var<float>&, const Var<float>&);
template Var<double> matmul<double>(const Var<double>&, const Var<double>&);
template Var<float> dot<float>(const Var<float>&, const Var<float>&);
template Var<double> dot<double>(const Var<double>&, const Var<double>&);

}  // namespace trusty::core
