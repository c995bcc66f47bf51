// Convolution through im2col + GEMM: for each sample, cols[Cin·K, L] gathers the input
// under every kernel tap at every output position, and out = W[Cout, Cin·K] · cols.
// Backward: dW += dOut · colsᵀ, dcols = Wᵀ · dOut scattered back (col2im).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "trusty/core/conv.hpp"
#include "trusty/core/kernels/blas.hpp"

namespace trusty::core {

Padding parse_padding(const std::string& s) {
  if (s == "valid") return Padding::valid;
  if (s == "same") return Padding::same;
  if (s == "periodic") return Padding::periodic;
  throw std::invalid_argument("unknown padding '" + s + "' (expected one of valid, same, periodic)");
}

int64_t conv_out_size(int64_t n, int64_t k, int64_t stride, int64_t dilation, Padding p) {
  if (p == Padding::valid) return (n - dilation * (k - 1) - 1) / stride + 1;
  return (n + stride - 1) / stride;
}

namespace {

// Per spatial axis: for every (tap, output position) the input index, or -1 for a zero.
// Trivially destructible (it lives in tape nodes): the index tables come from `alloc`.
constexpr int64_t kZeroIndex[1] = {0};
struct Geometry {
  int dims;
  int64_t batch, cin, cout;
  std::array<int64_t, 3> n{1, 1, 1}, k{1, 1, 1}, out{1, 1, 1};
  int64_t in_size = 1, k_size = 1, out_size = 1;    // products over spatial axes
  std::array<const int64_t*, 3> index{kZeroIndex, kZeroIndex, kZeroIndex};  // [k_d * out_d]
};

template <class Alloc>
Geometry geometry(const Shape& xs, const Shape& ws, const ConvSpec& s, Alloc&& alloc) {
  if (s.dims < 1 || s.dims > 3) throw std::invalid_argument("conv: dims must be 1, 2 or 3, got " + std::to_string(s.dims));
  if (xs.rank() != s.dims + 2 || ws.rank() != s.dims + 2 || xs[1] != ws[1])
    throw std::invalid_argument("conv: input " + xs.str() + " and kernel " + ws.str() + " do not fit a " + std::to_string(s.dims) +
                                "-d convolution (expected [batch, Cin, *n] and [Cout, Cin, *k])");
  Geometry g;
  g.dims = s.dims;
  g.batch = xs[0];
  g.cin = xs[1];
  g.cout = ws[0];
  for (int d = 0; d < s.dims; ++d) {
    const auto D = static_cast<size_t>(d);
    const int64_t n = xs[d + 2], k = ws[d + 2], st = s.stride[D], dil = s.dilation[D];
    if (st < 1 || dil < 1) throw std::invalid_argument("conv: stride and dilation must be >= 1");
    const int64_t o = conv_out_size(n, k, st, dil, s.padding);
    if (o < 1)
      throw std::invalid_argument("conv: kernel " + ws.str() + " (dilation " + std::to_string(dil) + ") does not fit input " + xs.str() +
                                  " with valid padding");
    const int64_t span = dil * (k - 1) + 1;
    const int64_t pad_total = s.padding == Padding::valid ? 0 : std::max<int64_t>((o - 1) * st + span - n, 0);
    const int64_t pad = pad_total / 2;
    g.n[D] = n;
    g.k[D] = k;
    g.out[D] = o;
    int64_t* idx = alloc(k * o);
    for (int64_t t = 0; t < k; ++t)
      for (int64_t p = 0; p < o; ++p) {
        int64_t i = p * st + t * dil - pad;
        if (s.padding == Padding::periodic) i = ((i % n) + n) % n;
        else if (i < 0 || i >= n) i = -1;
        idx[t * o + p] = i;
      }
    g.index[D] = idx;
    g.in_size *= n;
    g.k_size *= k;
    g.out_size *= o;
  }
  return g;
}

// Visits (cols row r = c*K + tap, cols column l, input offset or -1) for one sample.
template <class F>
void for_each_tap(const Geometry& g, F&& f) {
  const int64_t k0 = g.k[0], k1 = g.k[1], k2 = g.k[2], o0 = g.out[0], o1 = g.out[1], o2 = g.out[2];
  const int64_t n1 = g.n[1], n2 = g.n[2];
  const int64_t *I0 = g.index[0], *I1 = g.index[1], *I2 = g.index[2];
  for (int64_t c = 0; c < g.cin; ++c)
    for (int64_t t0 = 0; t0 < k0; ++t0)
      for (int64_t t1 = 0; t1 < k1; ++t1)
        for (int64_t t2 = 0; t2 < k2; ++t2) {
          const int64_t row = c * g.k_size + (t0 * k1 + t1) * k2 + t2;
          for (int64_t p0 = 0; p0 < o0; ++p0) {
            const int64_t i0 = I0[t0 * o0 + p0];
            for (int64_t p1 = 0; p1 < o1; ++p1) {
              const int64_t i1 = I1[t1 * o1 + p1];
              const int64_t col = (p0 * o1 + p1) * o2;
              const bool zero01 = i0 < 0 || i1 < 0;
              const int64_t base = c * g.in_size + (i0 * n1 + i1) * n2;
              const int64_t* i2 = I2 + t2 * o2;
              f(row, col, o2, zero01, base, i2);
            }
          }
        }
}

template <class T>
void im2col(const Geometry& g, const T* x, T* cols) {
  const int64_t L = g.out_size;
  for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2) {
    T* dst = cols + row * L + col;
    if (zero) {
      std::fill(dst, dst + o2, T(0));
      return;
    }
    const T* src = x + base;
    for (int64_t p = 0; p < o2; ++p) dst[p] = i2[p] < 0 ? T(0) : src[i2[p]];
  });
}

template <class T>
void col2im(const Geometry& g, const T* cols, T* gx) {
  const int64_t L = g.out_size;
  for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2) {
    if (zero) return;
    const T* src = cols + row * L + col;
    T* dst = gx + base;
    for (int64_t p = 0; p < o2; ++p)
      if (i2[p] >= 0) dst[i2[p]] += src[p];
  });
}

template <class T>
struct ConvNode final : Node<T> {
  Geometry g;
  T* cols;  // [batch][Cin·K, L], kept for dW
  void backward() override {
    Node<T>*x = this->in[0], *w = this->in[1], *b = this->in[2];
    const int64_t CK = g.cin * g.k_size, L = g.out_size;
    const T* gy = this->grad;
    if (b && b->grad)
      for (int64_t s = 0; s < g.batch; ++s)
        for (int64_t c = 0; c < g.cout; ++c) {
          T acc = 0;
          const T* row = gy + (s * g.cout + c) * L;
          for (int64_t l = 0; l < L; ++l) acc += row[l];
          b->grad[c] += acc;
        }
    std::vector<T> dcols(x->grad ? static_cast<size_t>(CK * L) : 0);
    for (int64_t s = 0; s < g.batch; ++s) {
      const T* gys = gy + s * g.cout * L;
      if (w->grad) kernels::gemm(false, true, g.cout, CK, L, T(1), gys, L, cols + s * CK * L, L, T(1), w->grad, CK);
      if (x->grad) {
        kernels::gemm(true, false, CK, L, g.cout, T(1), w->val, CK, gys, L, T(0), dcols.data(), L);
        col2im(g, dcols.data(), x->grad + s * g.cin * g.in_size);
      }
    }
  }
};

template <class T>
Var<T> conv_impl(const Var<T>& x, const Var<T>& w, const Var<T>* b, const ConvSpec& spec) {
  auto& tape = Tape<T>::current();
  Geometry g = geometry(x.shape(), w.shape(), spec, [&](int64_t n) { return tape.template alloc_array<int64_t>(n); });
  if (b && (b->rank() != 1 || b->dim(0) != g.cout))
    throw std::invalid_argument("conv: bias " + b->shape().str() + " for " + std::to_string(g.cout) + " output channels");
  std::vector<int64_t> od = {g.batch, g.cout};
  for (int d = 0; d < g.dims; ++d) od.push_back(g.out[static_cast<size_t>(d)]);
  const bool grad = x.requires_grad() || w.requires_grad() || (b && b->requires_grad());
  auto* node = tape.template make<ConvNode<T>>(Shape(std::span<const int64_t>(od)), grad, "conv");
  node->in = {x.node(), w.node(), b ? b->node() : nullptr};
  node->g = g;
  const Geometry& G = node->g;
  const int64_t CK = G.cin * G.k_size, L = G.out_size;
  node->cols = tape.alloc(G.batch * CK * L);
  for (int64_t s = 0; s < G.batch; ++s) {
    T* cols = node->cols + s * CK * L;
    im2col(G, x.data() + s * G.cin * G.in_size, cols);
    T* y = node->val + s * G.cout * L;
    if (b)
      for (int64_t c = 0; c < G.cout; ++c) std::fill(y + c * L, y + (c + 1) * L, b->data()[c]);
    kernels::gemm(false, false, G.cout, L, CK, T(1), w.data(), CK, cols, L, b ? T(1) : T(0), y, L);
  }
  return tape.record(node);
}

}  // namespace

template <class T>
Var<T> conv(const Var<T>& x, const Var<T>& w, const Var<T>& b, const ConvSpec& spec) {
  return conv_impl(x, w, &b, spec);
}

template <class T>
Var<T> conv(const Var<T>& x, const Var<T>& w, const ConvSpec& spec) {
  return conv_impl<T>(x, w, nullptr, spec);
}

template <class T>
Tensor<T> conv_naive(const Tensor<T>& x0, const Tensor<T>& w0, const ConvSpec& spec) {
  std::vector<std::vector<int64_t>> store;
  Geometry g = geometry(x0.shape(), w0.shape(), spec, [&](int64_t n) {
    store.emplace_back(static_cast<size_t>(n));
    return store.back().data();
  });
  auto x = x0.contiguous(), w = w0.contiguous();
  std::vector<int64_t> od = {g.batch, g.cout};
  for (int d = 0; d < g.dims; ++d) od.push_back(g.out[static_cast<size_t>(d)]);
  Tensor<T> y{Shape(std::span<const int64_t>(od))};
  const T *xp = x.data(), *wp = w.data();
  T* yp = y.data();
  for (int64_t s = 0; s < g.batch; ++s)
    for (int64_t co = 0; co < g.cout; ++co)
      for (int64_t p0 = 0; p0 < g.out[0]; ++p0)
        for (int64_t p1 = 0; p1 < g.out[1]; ++p1)
          for (int64_t p2 = 0; p2 < g.out[2]; ++p2) {
            long double acc = 0;
            for (int64_t ci = 0; ci < g.cin; ++ci)
              for (int64_t t0 = 0; t0 < g.k[0]; ++t0)
                for (int64_t t1 = 0; t1 < g.k[1]; ++t1)
                  for (int64_t t2 = 0; t2 < g.k[2]; ++t2) {
                    const int64_t i0 = g.index[0][t0 * g.out[0] + p0];
                    const int64_t i1 = g.index[1][t1 * g.out[1] + p1];
                    const int64_t i2 = g.index[2][t2 * g.out[2] + p2];
                    if (i0 < 0 || i1 < 0 || i2 < 0) continue;
                    acc += static_cast<long double>(xp[((s * g.cin + ci) * g.n[0] + i0) * g.n[1] * g.n[2] + i1 * g.n[2] + i2]) *
                           wp[((co * g.cin + ci) * g.k[0] + t0) * g.k[1] * g.k[2] + t1 * g.k[2] + t2];
                  }
            yp[(((s * g.cout + co) * g.out[0] + p0) * g.out[1] + p1) * g.out[2] + p2] = static_cast<T>(acc);
          }
  return y;
}

#define TRUSTY_INST(T)                                                                        \
  template Var<T> conv<T>(const Var<T>&, const Var<T>&, const Var<T>&, const ConvSpec&);      \
  template Var<T> conv<T>(const Var<T>&, const Var<T>&, const ConvSpec&);                     \
  template Tensor<T> conv_naive<T>(const Tensor<T>&, const Tensor<T>&, const ConvSpec&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
