// Convolution: the op, its tape node and the choice of path; the direct few-channel loops and
// im2col + GEMM here, the shifted grid in conv_shifted.cpp, conv_naive as the reference.
// im2col: cols[Cin·K, L] gathers the input under every kernel tap at every output position,
// and out = W[Cout, Cin·K] · cols. Backward: dW += dOut · colsᵀ, dcols = Wᵀ · dOut scattered
// back (col2im).
#include <algorithm>
#include <cstring>

#include "conv_internal.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "trusty/core/ops.hpp"
#include "tangent_util.hpp"

namespace trusty::core {

bool& fused_pool_reference() {
  thread_local bool on = false;
  return on;
}

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

using namespace conv_detail;

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
  for (int64_t s = 0; s < g.batch; ++s)
    for (int64_t c = 0; c < g.cout; ++c) gb[c] += kernels::sum(gy + (s * g.cout + c) * g.out_size, g.out_size);
}

// automatic: the direct loops for few channels, the shifted grid for unit strides,
// im2col + GEMM otherwise.
ConvPath choose_path(const Geometry& g) {
  ConvPath p = conv_path();
  if (p == ConvPath::automatic) p = g.cin * g.cout <= 4 ? ConvPath::direct : g.unit_stride ? ConvPath::shifted : ConvPath::im2col;
  if (p == ConvPath::shifted && !g.unit_stride) p = ConvPath::im2col;
  return p;
}

template <class T>
struct ConvNode final : Node<T> {
  Geometry g;
  ConvPath path;
  Shifted s;   // shifted path: the grid
  T* xp;       // shifted path: the padded input [Cin, NP]
  T* cols;     // im2col path: [Cin·K, B·L], kept for dW
  bool relu;   // fused ReLU on the output
  uint8_t* arg;  // fused max pooling (shifted path): each output's argmax within its window
  ConvSpec spec;  // as given (for the tangent rule)
  // Linear in x, in w and in b separately: ẏ = conv(ẋ, w) + conv(x, ẇ) + ḃ, then the fused
  // ReLU's mask (output > 0) and the fused pooling's selection of each window's maximum.
  Node<T>* tangent(TangentMap<T>& t) override;
  void backward() override {
    Node<T>*x = this->in[0], *w = this->in[1], *b = this->in[2];
    const T* gy = this->grad;
    T* gb = b ? b->grad : nullptr;
    if (path == ConvPath::shifted) {
      shifted_backward(g, s, xp, w->val, gy, relu ? this->val : nullptr, arg, x->grad, w->grad, gb);
      return;
    }
    if (relu) {  // the gradient through max(·, 0), from the tape's arena
      T* masked = Tape<T>::current().alloc(this->n);
      for (int64_t i = 0; i < this->n; ++i) masked[i] = this->val[i] > T(0) ? gy[i] : T(0);
      gy = masked;
    }
    if (gb) add_bias_grad(g, gy, gb);
    if (path == ConvPath::direct) {
      direct_backward(g, x->val, w->val, gy, x->grad, w->grad);
      return;
    }
    if (!w->grad && !x->grad) return;
    const int64_t CK = g.cin * g.k_size, L = g.out_size, BL = g.batch * L;
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
  auto alloc_index = [&](int64_t n) { return tape.template alloc_array<int64_t>(n); };
  Geometry g = geometry(x.shape(), w.shape(), spec, alloc_index);
  if (b && (b->rank() != 1 || b->dim(0) != g.cout))
    throw std::invalid_argument("conv: bias " + b->shape().str() + " for " + std::to_string(g.cout) + " output channels");
  const ConvPath path = choose_path(g);
  if (spec.pool > 0) {
    for (int d = 0; d < g.dims; ++d)
      if (spec.pool > g.out[static_cast<size_t>(d)] || spec.pool > 255)
        throw std::invalid_argument("conv: fused max pooling window " + std::to_string(spec.pool) + " does not fit the convolution's output " +
                                    std::to_string(g.out[static_cast<size_t>(d)]) + " along axis " + std::to_string(d));
    if (path != ConvPath::shifted || g.dims > 2) {  // fused only there: otherwise the two ops
      ConvSpec unpooled = spec;
      unpooled.pool = 0;
      return max_pool(conv_impl(x, w, b, unpooled), g.dims, spec.pool);
    }
  }
  std::vector<int64_t> od = {g.batch, g.cout};
  for (int d = 0; d < g.dims; ++d) od.push_back(g.out[static_cast<size_t>(d)] / std::max<int64_t>(spec.pool, 1));
  const bool grad = x.requires_grad() || w.requires_grad() || (b && b->requires_grad());
  auto* node = tape.template make<ConvNode<T>>(Shape(std::span<const int64_t>(od)), grad, "conv");
  node->in = {x.node(), w.node(), b ? b->node() : nullptr};
  node->g = g;
  node->path = path;
  node->xp = node->cols = nullptr;
  node->arg = nullptr;
  node->relu = spec.relu;
  node->spec = spec;
  const Geometry& G = node->g;
  const T* bias = b ? b->data() : nullptr;
  auto finish = [&] {
    if (spec.relu)
      for (int64_t i = 0; i < node->n; ++i) node->val[i] = std::max(node->val[i], T(0));
    return tape.record(node);
  };
  if (node->path == ConvPath::direct) {
    direct_forward(G, x.data(), w.data(), bias, node->val);
    return finish();
  }
  if (node->path == ConvPath::shifted) {
    node->s = shifted_grid(G, spec.pool, tape);
    if (spec.pool > 0) node->arg = tape.template alloc_array<uint8_t>(node->n);
    node->xp = shifted_pack(G, node->s, x.data(), tape);
    shifted_forward(G, node->s, node->xp, w.data(), bias, spec.relu, node->val, node->arg);
    return tape.record(node);
  }
  const int64_t CK = G.cin * G.k_size, L = G.out_size, BL = G.batch * L;
  node->cols = tape.alloc(CK * BL);
  kernels::parallel_for(G.batch, CK * BL, [&](int64_t s0, int64_t s1) {
    for (int64_t s = s0; s < s1; ++s) im2col(G, x.data() + s * G.cin * G.in_size, node->cols + s * L, BL);
  });
  T* yc = tape.alloc(G.cout * BL);
  if (b)
    for (int64_t c = 0; c < G.cout; ++c) std::fill(yc + c * BL, yc + (c + 1) * BL, bias[c]);
  kernels::gemm(false, false, G.cout, BL, CK, T(1), w.data(), CK, node->cols, BL, b ? T(1) : T(0), yc, BL);
  columns_to_batch(yc, node->val, G.batch, G.cout, L);
  return finish();
}

// The flat index into the unpooled output y [B, Cout, *out] of each window's maximum
// (window = stride = pool on the first `dims` spatial axes), NaN winning as in max_pool.
template <class T>
std::vector<int64_t> window_argmax(const Geometry& g, int64_t pool, const T* y) {
  std::array<int64_t, 3> o{1, 1, 1}, w{1, 1, 1};
  for (int d = 0; d < 3; ++d) {
    w[static_cast<size_t>(d)] = d < g.dims ? pool : 1;
    o[static_cast<size_t>(d)] = g.out[static_cast<size_t>(d)] / w[static_cast<size_t>(d)];
  }
  std::vector<int64_t> idx;
  idx.reserve(static_cast<size_t>(g.batch * g.cout * o[0] * o[1] * o[2]));
  for (int64_t bc = 0; bc < g.batch * g.cout; ++bc)
    for (int64_t p0 = 0; p0 < o[0]; ++p0)
      for (int64_t p1 = 0; p1 < o[1]; ++p1)
        for (int64_t p2 = 0; p2 < o[2]; ++p2) {
          int64_t best = -1;
          for (int64_t a = 0; a < w[0]; ++a)
            for (int64_t c = 0; c < w[1]; ++c)
              for (int64_t e = 0; e < w[2]; ++e) {
                const int64_t i = ((bc * g.out[0] + p0 * w[0] + a) * g.out[1] + p1 * w[1] + c) * g.out[2] + p2 * w[2] + e;
                if (best < 0 || y[i] > y[best] || y[i] != y[i]) best = i;
              }
          idx.push_back(best);
        }
  return idx;
}

template <class T>
Node<T>* ConvNode<T>::tangent(TangentMap<T>& t) {
  Var<T> tx = detail::tangent_of(t, this->in[0]), tw = detail::tangent_of(t, this->in[1]), tb = detail::tangent_of(t, this->in[2]);
  if (!tx && !tw && !tb) return nullptr;
  ConvSpec lin = spec;
  lin.relu = false;
  lin.pool = 0;
  Var<T> x(this->in[0]), w(this->in[1]), d;
  if (tx) d = conv(tx, w, lin);
  if (tw) d = d ? add(d, conv(x, tw, lin)) : conv(x, tw, lin);
  if (tb) {
    std::vector<int64_t> bs(static_cast<size_t>(g.dims + 2), 1);
    bs[1] = g.cout;
    auto b = reshape(tb, Shape(std::span<const int64_t>(bs)));
    if (d) d = add(d, b);
    else {
      std::vector<int64_t> full = {g.batch, g.cout};
      for (int a = 0; a < g.dims; ++a) full.push_back(g.out[static_cast<size_t>(a)]);
      d = detail::broadcast_to(b, Shape(std::span<const int64_t>(full)));
    }
  }
  if (spec.pool > 0 && this->shape != d.shape()) {  // fused pooling: the unpooled output again, as values
    ConvSpec unpooled = spec;
    unpooled.pool = 0;
    auto value = [](const Node<T>* a) { return constant(Tensor<T>(a->shape, std::span<const T>(a->val, static_cast<size_t>(a->n)))); };
    Var<T> y = this->in[2] ? conv(value(this->in[0]), value(this->in[1]), value(this->in[2]), unpooled)
                           : conv(value(this->in[0]), value(this->in[1]), unpooled);
    if (spec.relu) d = mul(d, detail::constant_map(y.node(), [](T v) { return v > T(0) ? T(1) : T(0); }));
    const auto idx = window_argmax(g, spec.pool, y.data());
    return reshape(gather(reshape(d, Shape{d.numel()}), 0, std::span<const int64_t>(idx)), this->shape).node();
  }
  if (spec.relu) d = mul(d, detail::constant_map(this, [](T v) { return v > T(0) ? T(1) : T(0); }));
  return d.node();
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
