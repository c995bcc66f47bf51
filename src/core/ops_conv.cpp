// Convolution through im2col + GEMM: for each sample, cols[Cin·K, L] gathers the input
// under every kernel tap at every output position, and out = W[Cout, Cin·K] · cols.
// Backward: dW += dOut · colsᵀ, dcols = Wᵀ · dOut scattered back (col2im).
#include <algorithm>
#include <cstring>
#include <numeric>

#include "trusty/core/conv.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"

namespace trusty::core {

ConvPath& conv_path() {
  thread_local ConvPath p = ConvPath::automatic;
  return p;
}

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
  const uint8_t* contiguous = nullptr;  // per innermost tap: index = first + p, all in range
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
    if (d == s.dims - 1) {
      auto* c = reinterpret_cast<uint8_t*>(alloc(k));  // k int64 slots hold k flags
      for (int64_t t = 0; t < k; ++t) {
        bool ok = idx[t * o] >= 0;
        for (int64_t p = 1; ok && p < o; ++p) ok = idx[t * o + p] == idx[t * o] + p;
        c[t] = ok;
      }
      g.contiguous = c;
    }
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
              f(row, col, o2, zero01, base, i2, g.contiguous[t2] != 0);
            }
          }
        }
}

// cols is [Cin·K, ld]; this sample's L columns start at `cols`.
template <class T>
void im2col(const Geometry& g, const T* x, T* cols, int64_t ld) {
  for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2, bool contiguous) {
    T* dst = cols + row * ld + col;
    if (zero) {
      std::fill(dst, dst + o2, T(0));
      return;
    }
    const T* src = x + base;
    if (contiguous) {  // short rows: an inline loop beats a memcpy call
      const T* from = src + i2[0];
      for (int64_t p = 0; p < o2; ++p) dst[p] = from[p];
      return;
    }
    for (int64_t p = 0; p < o2; ++p) dst[p] = i2[p] < 0 ? T(0) : src[i2[p]];
  });
}

template <class T>
void col2im(const Geometry& g, const T* cols, T* gx, int64_t ld) {
  for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2, bool contiguous) {
    if (zero) return;
    const T* src = cols + row * ld + col;
    T* dst = gx + base;
    if (contiguous) {
      T* d = dst + i2[0];
      for (int64_t p = 0; p < o2; ++p) d[p] += src[p];
      return;
    }
    for (int64_t p = 0; p < o2; ++p)
      if (i2[p] >= 0) dst[i2[p]] += src[p];
  });
}

// [B, C, L] <-> [C, B·L]: the batch is folded into the columns of one GEMM per layer,
// large enough for OpenBLAS to thread well (per-sample GEMMs are not).
template <class T>
void batch_to_columns(const T* src, T* dst, int64_t B, int64_t C, int64_t L) {
  kernels::parallel_for(B, B * C * L, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < C; ++c) std::memcpy(dst + c * B * L + b * L, src + (b * C + c) * L, static_cast<size_t>(L) * sizeof(T));
  });
}
template <class T>
void columns_to_batch(const T* src, T* dst, int64_t B, int64_t C, int64_t L) {
  kernels::parallel_for(B, B * C * L, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t c = 0; c < C; ++c) std::memcpy(dst + (b * C + c) * L, src + c * B * L + b * L, static_cast<size_t>(L) * sizeof(T));
  });
}

// Splits an index row into maximal runs where consecutive outputs read consecutive inputs
// (a periodic row wraps once: two runs), skipping padding (-1): f(first output, length, first input).
template <class F>
void for_each_run(const int64_t* idx, int64_t n, F&& f) {
  int64_t p = 0;
  while (p < n) {
    if (idx[p] < 0) {
      ++p;
      continue;
    }
    int64_t q = p + 1;
    while (q < n && idx[q] == idx[p] + (q - p)) ++q;
    f(p, q - p, idx[p]);
    p = q;
  }
}

// Direct convolution for few channels (the neural physical engine's 1 -> 1 on a 64³ box):
// no im2col buffer, one fused multiply-add pass per tap over contiguous rows.
template <class T>
void direct_forward(const Geometry& g, const T* x, const T* w, const T* b, T* y) {
  const int64_t L = g.out_size, CK = g.cin * g.k_size;
  for (int64_t s = 0; s < g.batch; ++s) {
    const T* xs = x + s * g.cin * g.in_size;
    for (int64_t co = 0; co < g.cout; ++co) {
      T* ys = y + (s * g.cout + co) * L;
      std::fill(ys, ys + L, b ? b[co] : T(0));
      const T* wc = w + co * CK;
      for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2, bool contiguous) {
        if (zero) return;
        const T wv = wc[row];
        T* out = ys + col;
        const T* in = xs + base;
        auto segment = [&](int64_t p0, int64_t len, int64_t src) {
          const T* from = in + src;
          T* o = out + p0;
          for (int64_t p = 0; p < len; ++p) o[p] += wv * from[p];
        };
        if (contiguous) segment(0, o2, i2[0]);
        else for_each_run(i2, o2, segment);
      });
    }
  }
}

template <class T>
void direct_backward(const Geometry& g, const T* x, const T* w, const T* gy, T* gx, T* gw) {
  const int64_t L = g.out_size, CK = g.cin * g.k_size;
  for (int64_t s = 0; s < g.batch; ++s) {
    const T* xs = x + s * g.cin * g.in_size;
    T* gxs = gx ? gx + s * g.cin * g.in_size : nullptr;
    for (int64_t co = 0; co < g.cout; ++co) {
      const T* gys = gy + (s * g.cout + co) * L;
      const T* wc = w + co * CK;
      T* gwc = gw ? gw + co * CK : nullptr;
      for_each_tap(g, [&](int64_t row, int64_t col, int64_t o2, bool zero, int64_t base, const int64_t* i2, bool contiguous) {
        if (zero) return;
        const T* go = gys + col;
        auto segment = [&](int64_t p0, int64_t len, int64_t src) {
          const int64_t off = base + src;
          const T* g2 = go + p0;
          if (gwc) {
            T acc = 0;
            for (int64_t p = 0; p < len; ++p) acc += g2[p] * xs[off + p];
            gwc[row] += acc;
          }
          if (gxs) {
            const T wv = wc[row];
            for (int64_t p = 0; p < len; ++p) gxs[off + p] += wv * g2[p];
          }
        };
        if (contiguous) segment(0, o2, i2[0]);
        else for_each_run(i2, o2, segment);
      });
    }
  }
}

// d(loss)/d(bias): the output gradient summed over batch and positions.
template <class T>
void add_bias_grad(const Geometry& g, const T* gy, T* gb) {
  const int64_t L = g.out_size;
  for (int64_t s = 0; s < g.batch; ++s)
    for (int64_t c = 0; c < g.cout; ++c) {
      T acc = 0;
      const T* row = gy + (s * g.cout + c) * L;
      for (int64_t l = 0; l < L; ++l) acc += row[l];
      gb[c] += acc;
    }
}

// Few channels: the direct loops; otherwise im2col + GEMM.
bool use_direct(const Geometry& g) { return g.cin * g.cout <= 4 && conv_path() != ConvPath::gemm; }

template <class T>
struct ConvNode final : Node<T> {
  Geometry g;
  T* cols;  // [Cin·K, B·L], kept for dW (null on the direct path)
  void backward() override {
    Node<T>*x = this->in[0], *w = this->in[1], *b = this->in[2];
    const T* gy = this->grad;
    if (b && b->grad) add_bias_grad(g, gy, b->grad);
    if (!cols) {
      direct_backward(g, x->val, w->val, gy, x->grad, w->grad);
      return;
    }
    const int64_t CK = g.cin * g.k_size, L = g.out_size, BL = g.batch * L;
    if (!w->grad && !x->grad) return;
    // Scratch from the tape's arena (released with the scope): no per-step heap pages.
    auto& tape = Tape<T>::current();
    T* gyc = tape.alloc(g.cout * BL);
    batch_to_columns(gy, gyc, g.batch, g.cout, L);
    if (w->grad) kernels::gemm(false, true, g.cout, CK, BL, T(1), gyc, BL, cols, BL, T(1), w->grad, CK);
    if (x->grad) {
      T* dcols = tape.alloc(CK * BL);
      kernels::gemm(true, false, CK, BL, g.cout, T(1), w->val, CK, gyc, BL, T(0), dcols, BL);
      kernels::parallel_for(g.batch, CK * BL, [&](int64_t s0, int64_t s1) {
        for (int64_t s = s0; s < s1; ++s) col2im(g, dcols + s * L, x->grad + s * g.cin * g.in_size, BL);
      });
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
  if (use_direct(G)) {
    node->cols = nullptr;
    direct_forward(G, x.data(), w.data(), b ? b->data() : nullptr, node->val);
    return tape.record(node);
  }
  const int64_t CK = G.cin * G.k_size, L = G.out_size, BL = G.batch * L;
  node->cols = tape.alloc(CK * BL);
  kernels::parallel_for(G.batch, CK * BL, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) im2col(G, x.data() + s * G.cin * G.in_size, node->cols + s * L, BL);
  });
  T* yc = tape.alloc(G.cout * BL);
  if (b)
    for (int64_t c = 0; c < G.cout; ++c) std::fill(yc + c * BL, yc + (c + 1) * BL, b->data()[c]);
  kernels::gemm(false, false, G.cout, BL, CK, T(1), w.data(), CK, node->cols, BL, b ? T(1) : T(0), yc, BL);
  columns_to_batch(yc, node->val, G.batch, G.cout, L);
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
