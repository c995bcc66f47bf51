// Convolution through im2col + GEMM: for each sample, cols[Cin·K, L] gathers the input
// under every kernel tap at every output position, and out = W[Cout, Cin·K] · cols.
// Backward: dW += dOut · colsᵀ, dcols = Wᵀ · dOut scattered back (col2im).
#include <algorithm>
#include <cstring>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#include <numeric>

#include "trusty/core/conv.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"

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
  std::array<int64_t, 3> pad{0, 0, 0}, dil{1, 1, 1};
  bool unit_stride = true;
  Padding padding = Padding::valid;
};

template <class Alloc>
Geometry geometry(const Shape& xs, const Shape& ws, const ConvSpec& s, Alloc&& alloc) {
  if (s.dims < 1 || s.dims > 3) throw std::invalid_argument("conv: dims must be 1, 2 or 3, got " + std::to_string(s.dims));
  if (xs.rank() != s.dims + 2 || ws.rank() != s.dims + 2 || xs[1] != ws[1])
    throw std::invalid_argument("conv: input " + xs.str() + " and kernel " + ws.str() + " do not fit a " + std::to_string(s.dims) +
                                "-d convolution (expected [batch, Cin, *n] and [Cout, Cin, *k])");
  Geometry g;
  g.dims = s.dims;
  g.padding = s.padding;
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
    g.pad[D] = pad;
    g.dil[D] = dil;
    g.unit_stride = g.unit_stride && st == 1;
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

// Sum of a row with 16 independent partial sums (vectorised; a single running sum is not).
template <class T>
T row_sum(const T* p, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
  T s = 0;
  for (; i < n; ++i) s += p[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

// d(loss)/d(bias): the output gradient summed over batch and positions.
template <class T>
void add_bias_grad(const Geometry& g, const T* gy, T* gb) {
  for (int64_t s = 0; s < g.batch; ++s)
    for (int64_t c = 0; c < g.cout; ++c) gb[c] += row_sum(gy + (s * g.cout + c) * g.out_size, g.out_size);
}

// ---- Shifted-grid convolution (every stride 1) ----
// The input is padded once into column layout xp[Cin, B·P + slack], P the size of the padded
// grid, each sample's grid contiguous. On that grid the output at position q reads input
// q + off[t] under tap t: one fixed shift per tap, whatever the padding. So im2col over a
// chunk of positions is Cin·K contiguous copies and col2im Cin·K contiguous adds, on chunks
// small enough to stay in L2. Only grid rows that hold outputs are multiplied; within them
// the columns past the last output are computed and dropped (a few wasted columns, no index
// tables in the inner loops).
struct Shifted {
  int64_t P = 1, len = 1, rows = 1, NP = 0, out_len = 1, chunk_rows = 1;  // len: innermost padded extent; rows = P / len
  const int64_t* off = nullptr;      // [K] shift of each tap, in grid positions
  const int64_t* row_src = nullptr;  // [rows] input offset of a grid row's axes before the last, or -1 (padding)
  const int64_t* row_out = nullptr;  // [rows] output offset of the row, or -1 (not an output row)
  const int64_t* col_src = nullptr;  // [len] input index along the last axis, or -1 (padding)
  const int64_t* runs = nullptr;     // [2 · nruns] (first row, rows): the output rows of a sample, as contiguous runs
  int64_t nruns = 0;
  // Fused max pooling (window = stride = pool on every axis, 1-d and 2-d): pool_rows grid
  // rows per window, pooled outputs per row and per channel; rows and columns past the last
  // whole window are not outputs.
  int64_t pool = 0, pool_rows = 1, pout_len = 1, pout_size = 1;
};

template <class Alloc>
Shifted shifted_grid(const Geometry& g, int64_t pool, Alloc&& alloc) {
  Shifted s;
  const int D = g.dims;
  if (pool > 0) {
    s.pool = pool;
    s.pool_rows = D == 2 ? pool : 1;
    s.pout_len = g.out[static_cast<size_t>(D - 1)] / pool;
    s.pout_size = s.pout_len * (D == 2 ? g.out[0] / pool : 1);
  }
  std::array<int64_t, 3> np{1, 1, 1}, in_stride{1, 1, 1}, out_stride{1, 1, 1}, grid_stride{1, 1, 1};
  for (int d = D - 1; d >= 0; --d) {
    const auto u = static_cast<size_t>(d);
    np[u] = g.out[u] + g.dil[u] * (g.k[u] - 1);
    if (d < D - 1) {
      in_stride[u] = in_stride[u + 1] * g.n[u + 1];
      out_stride[u] = out_stride[u + 1] * g.out[u + 1];
      grid_stride[u] = grid_stride[u + 1] * np[u + 1];
    }
  }
  auto src = [&](size_t u, int64_t q) {  // padded coordinate -> input coordinate or -1
    int64_t i = q - g.pad[u];
    const int64_t n = g.n[u];
    if (g.padding == Padding::periodic) return ((i % n) + n) % n;
    return i < 0 || i >= n ? int64_t{-1} : i;
  };
  const auto last = static_cast<size_t>(D - 1);
  s.len = np[last];
  s.out_len = g.out[last];
  s.P = grid_stride[0] * np[0];
  s.rows = s.P / s.len;
  int64_t* col_src = alloc(s.len);
  for (int64_t q = 0; q < s.len; ++q) col_src[q] = src(last, q);
  int64_t* row_src = alloc(s.rows);
  int64_t* row_out = alloc(s.rows);
  for (int64_t r = 0; r < s.rows; ++r) {
    int64_t rest = r, in_off = 0, out_off = 0;
    for (int d = D - 2; d >= 0; --d) {
      const auto u = static_cast<size_t>(d);
      const int64_t q = rest % np[u];
      rest /= np[u];
      const int64_t i = src(u, q);
      if (in_off >= 0) in_off = i < 0 ? -1 : in_off + i * in_stride[u];
      const int64_t used = pool > 0 ? g.out[u] / pool * pool : g.out[u];  // pooling drops a partial window
      if (out_off >= 0) out_off = q >= used ? -1 : out_off + q * out_stride[u];
    }
    row_src[r] = in_off;
    row_out[r] = out_off;
  }
  int64_t nruns = 0;
  for (int64_t r = 0; r < s.rows; ++r) nruns += row_out[r] >= 0 && (r == 0 || row_out[r - 1] < 0);
  int64_t* runs = alloc(2 * nruns);
  for (int64_t r = 0, i = -1; r < s.rows; ++r) {
    if (row_out[r] < 0) continue;
    if (r == 0 || row_out[r - 1] < 0) runs[2 * ++i] = r, runs[2 * i + 1] = 0;
    ++runs[2 * i + 1];
  }
  s.runs = runs;
  s.nruns = nruns;
  int64_t* off = alloc(g.k_size);
  int64_t max_off = 0;
  for (int64_t t = 0; t < g.k_size; ++t) {
    int64_t rest = t, o = 0;
    for (int d = D - 1; d >= 0; --d) {
      const auto u = static_cast<size_t>(d);
      o += (rest % g.k[u]) * g.dil[u] * grid_stride[u];
      rest /= g.k[u];
    }
    off[t] = o;
    max_off = std::max(max_off, o);
  }
  s.off = off;
  s.row_src = row_src;
  s.row_out = row_out;
  s.col_src = col_src;
  s.NP = g.batch * s.P + max_off;  // slack: the last rows' garbage columns read past the grid
  // Chunks of grid rows whose im2col block (Cin·K rows) stays near 64k elements (L2).
  const int64_t target = std::max<int64_t>(s.len, (int64_t{1} << 16) / std::max<int64_t>(g.cin * g.k_size, 1));
  s.chunk_rows = std::max<int64_t>(s.pool_rows, target / s.len / s.pool_rows * s.pool_rows);  // whole pooling windows
  return s;
}

// x [B, Cin, *n] -> xp [Cin, NP] (padding and slack zero), samples [b0, b1).
template <class T>
void shifted_pack(const Geometry& g, const Shifted& s, const T* x, T* xp, int64_t b0, int64_t b1) {
  for (int64_t c = 0; c < g.cin; ++c)
    for (int64_t b = b0; b < b1; ++b) {
      const T* xs = x + (b * g.cin + c) * g.in_size;
      T* dst = xp + c * s.NP + b * s.P;
      for (int64_t r = 0; r < s.rows; ++r, dst += s.len) {
        const int64_t ro = s.row_src[r];
        if (ro < 0) {
          std::fill(dst, dst + s.len, T(0));
          continue;
        }
        const T* row = xs + ro;
        for (int64_t q = 0; q < s.len; ++q) dst[q] = s.col_src[q] < 0 ? T(0) : row[s.col_src[q]];
      }
      if (b == g.batch - 1) std::fill(xp + c * s.NP + g.batch * s.P, xp + (c + 1) * s.NP, T(0));
    }
}

// The reverse of shifted_pack: gx [B, Cin, *n] += the grid gradient (periodic images add up).
template <class T>
void shifted_unpack_add(const Geometry& g, const Shifted& s, const T* dxp, T* gx, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b)
    for (int64_t c = 0; c < g.cin; ++c) {
      T* gs = gx + (b * g.cin + c) * g.in_size;
      const T* src = dxp + c * s.NP + b * s.P;
      for (int64_t r = 0; r < s.rows; ++r, src += s.len) {
        const int64_t ro = s.row_src[r];
        if (ro < 0) continue;
        T* row = gs + ro;
        for (int64_t q = 0; q < s.len; ++q)
          if (s.col_src[q] >= 0) row[s.col_src[q]] += src[q];
      }
    }
}

// A chunk: output rows of the grid, as runs of consecutive global rows (b · rows + r).
struct Run {
  int64_t row, count;
};
struct Chunk {
  const Run* runs;
  int64_t nruns, rows;
};

// cols[Cin·K, n] = the grid shifted by each tap, at the chunk's positions.
template <class T>
void shifted_im2col(const Geometry& g, const Shifted& s, const T* xp, const Chunk& ch, T* cols) {
  const int64_t n = ch.rows * s.len;
  for (int64_t c = 0; c < g.cin; ++c)
    for (int64_t t = 0; t < g.k_size; ++t) {
      T* dst = cols + (c * g.k_size + t) * n;
      const T* src = xp + c * s.NP + s.off[t];
      for (int64_t i = 0; i < ch.nruns; ++i) {
        const int64_t m = ch.runs[i].count * s.len;
        std::memcpy(dst, src + ch.runs[i].row * s.len, static_cast<size_t>(m) * sizeof(T));
        dst += m;
      }
    }
}

// Work buffers for one thread's share of a shifted convolution.
template <class T>
struct ShiftedScratch {
  T *cols, *out, *dcols, *gw, *gb;  // gw, gb: the second thread's own gradient sums
  Run* runs;
};

template <class T>
ShiftedScratch<T> shifted_scratch(Tape<T>& tape, const Geometry& g, const Shifted& s, bool second) {
  const int64_t n = s.chunk_rows * s.len, CK = g.cin * g.k_size;
  return {tape.alloc(CK * n),
          tape.alloc(g.cout * n),
          tape.alloc(CK * n),
          second ? tape.alloc_zero(g.cout * CK) : nullptr,
          second ? tape.alloc_zero(g.cout) : nullptr,
          tape.template alloc_array<Run>(s.chunk_rows)};
}

// Runs f(chunk, end row of this thread, scratch) over chunks of at most chunk_rows output
// rows (rows that are not outputs are skipped), on two threads when the work is large: each
// thread owns whole samples (so col2im never crosses between them). Returns the second
// thread's scratch (its gradient sums are added by the caller; null when there was none).
template <class T, class F>
ShiftedScratch<T> shifted_chunks(Tape<T>& tape, const Geometry& g, const Shifted& s, bool with_gw, F&& f) {
  const int64_t work = g.batch * s.P * g.cin * g.k_size * std::max<int64_t>(g.cout / 8, 1);
  const bool split = kernels::parallel_threads() > 1 && g.batch >= 2 && work >= (int64_t{1} << 17);
  ShiftedScratch<T> sc[2] = {shifted_scratch(tape, g, s, false), {}};
  if (split) sc[1] = shifted_scratch(tape, g, s, with_gw);
  kernels::parallel_for(g.batch, split ? work : 0, [&](int64_t b0, int64_t b1) {
    ShiftedScratch<T>& my = sc[b0 == 0 ? 0 : 1];
    const int64_t end = b1 * s.rows;
    Chunk ch{my.runs, 0, 0};
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t i = 0; i < s.nruns; ++i) {
        int64_t r = b * s.rows + s.runs[2 * i], left = s.runs[2 * i + 1];
        while (left > 0) {
          const int64_t take = std::min(left, s.chunk_rows - ch.rows);
          my.runs[ch.nruns++] = {r, take};
          ch.rows += take;
          r += take;
          left -= take;
          if (ch.rows == s.chunk_rows) {
            f(ch, end, my);
            ch.nruns = ch.rows = 0;
          }
        }
      }
    if (ch.rows > 0) f(ch, end, my);
  });
  return sc[1];
}

// Visits the chunk's rows: f(global row, row index within the chunk).
template <class F>
void for_each_row(const Chunk& ch, F&& f) {
  for (int64_t i = 0, j = 0; i < ch.nruns; ++i)
    for (int64_t r = ch.runs[i].row; r < ch.runs[i].row + ch.runs[i].count; ++r, ++j) f(r, j);
}

// Fused max pooling of one chunk: windows of pool_rows rows starting at chunk row j (grid
// row r) -> the pooled outputs (bias added and ReLU applied after the maximum: both are
// monotone) and the argmax within each window (a · pool + e). The first maximum wins and a
// NaN wins, as in max_pool.
// (Locals, not the structs' fields, in the loop: the uint8_t stores may alias anything.)
template <class T, int64_t W, int64_t R>  // W, R > 0: compile-time window and rows per window
void pool_window_loop(const T* __restrict src, int64_t len, int64_t n_out, int64_t w_rt, int64_t rows_rt, T bv, bool relu,
                      T* __restrict y, uint8_t* __restrict arg) {
  const int64_t w = W > 0 ? W : w_rt, rows = R > 0 ? R : rows_rt;
  for (int64_t p = 0; p < n_out; ++p) {
    T best = src[p * w];
    int64_t bi = 0;
    for (int64_t a = 0; a < rows; ++a)
      for (int64_t e = 0; e < w; ++e) {
        const T v = src[a * len + p * w + e];
        const bool take = v > best || v != v;
        best = take ? v : best;
        bi = take ? a * w + e : bi;
      }
    best += bv;
    y[p] = relu ? std::max(best, T(0)) : best;
    arg[p] = static_cast<uint8_t>(bi);
  }
}

#if defined(__AVX512F__)
// The 2×2 window on float, 16 outputs at a time: even and odd columns of both rows split by
// one permute each, then the same compare-and-select chain as the scalar loop (the reference
// it is tested against): first maximum wins, NaN wins; the ReLU keeps NaN as std::max does.
void pool_window_2x2_avx512(const float* src, int64_t len, int64_t n_out, float bv, bool relu, float* y, uint8_t* arg) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  const __m512 bias = _mm512_set1_ps(bv), zero = _mm512_setzero_ps();
  for (int64_t p = 0; p < n_out; p += 16) {
    const int64_t rem = std::min<int64_t>(16, n_out - p), m2 = 2 * rem;
    const __mmask16 lo = static_cast<__mmask16>(m2 >= 16 ? 0xFFFF : (1u << m2) - 1);
    const __mmask16 hi = static_cast<__mmask16>(m2 > 16 ? (1u << (m2 - 16)) - 1 : 0);
    const __mmask16 out = static_cast<__mmask16>(rem == 16 ? 0xFFFF : (1u << rem) - 1);
    const float* r0 = src + 2 * p;
    const float* r1 = r0 + len;
    const __m512 a0 = _mm512_maskz_loadu_ps(lo, r0), a1 = _mm512_maskz_loadu_ps(hi, r0 + 16);
    const __m512 b0 = _mm512_maskz_loadu_ps(lo, r1), b1 = _mm512_maskz_loadu_ps(hi, r1 + 16);
    const __m512 v[4] = {_mm512_permutex2var_ps(a0, even, a1), _mm512_permutex2var_ps(a0, odd, a1), _mm512_permutex2var_ps(b0, even, b1),
                         _mm512_permutex2var_ps(b0, odd, b1)};
    __m512 best = v[0];
    __m512i bi = _mm512_setzero_si512();
    for (int k = 1; k < 4; ++k) {
      const __mmask16 take = _mm512_cmp_ps_mask(v[k], best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v[k], v[k], _CMP_UNORD_Q);
      best = _mm512_mask_mov_ps(best, take, v[k]);
      bi = _mm512_mask_mov_epi32(bi, take, _mm512_set1_epi32(k));
    }
    best = _mm512_add_ps(best, bias);
    if (relu) best = _mm512_max_ps(zero, best);  // NaN stays NaN (max returns its second operand)
    _mm512_mask_storeu_ps(y + p, out, best);
    _mm512_mask_cvtepi32_storeu_epi8(arg + p, out, bi);
  }
}
#endif

template <class T>
void pool_rows_forward(const Geometry& g, const Shifted& s, const T* out, int64_t n, int64_t r, int64_t j, const T* bias, bool relu,
                       T* y, uint8_t* arg) {
  const int64_t b = r / s.rows, pr = g.dims == 2 ? (r % s.rows) / s.pool : 0, w = s.pool, rows = s.pool_rows, len = s.len;
  const int64_t n_out = s.pout_len, cout = g.cout, pout_size = s.pout_size;
  for (int64_t co = 0; co < cout; ++co) {
    const T* src = out + co * n + j * len;
    const int64_t at = (b * cout + co) * pout_size + pr * n_out;
    const T bv = bias ? bias[co] : T(0);
#if defined(__AVX512F__)
    if constexpr (std::is_same_v<T, float>)
      if (w == 2 && rows == 2 && !fused_pool_reference()) {
        pool_window_2x2_avx512(src, len, n_out, bv, relu, y + at, arg + at);
        continue;
      }
#endif
    if (w == 2 && rows == 2) pool_window_loop<T, 2, 2>(src, len, n_out, w, rows, bv, relu, y + at, arg + at);
    else pool_window_loop<T, 0, 0>(src, len, n_out, w, rows, bv, relu, y + at, arg + at);
  }
}

template <class T>
void shifted_forward(const Geometry& g, const Shifted& s, const T* xp, const T* w, const T* bias, bool relu, T* y, uint8_t* arg) {
  auto& tape = Tape<T>::current();
  const int64_t CK = g.cin * g.k_size;
  shifted_chunks(tape, g, s, false, [&](const Chunk& ch, int64_t, ShiftedScratch<T>& sc) {
    const int64_t n = ch.rows * s.len;
    shifted_im2col(g, s, xp, ch, sc.cols);
    kernels::gemm(false, false, g.cout, n, CK, T(1), w, CK, sc.cols, n, T(0), sc.out, n);
    if (s.pool) {
      for_each_row(ch, [&](int64_t r, int64_t j) {
        if (j % s.pool_rows == 0) pool_rows_forward(g, s, sc.out, n, r, j, bias, relu, y, arg);
      });
      return;
    }
    for_each_row(ch, [&](int64_t r, int64_t j) {
      const int64_t b = r / s.rows, ro = s.row_out[r % s.rows];
      for (int64_t co = 0; co < g.cout; ++co) {
        const T* src = sc.out + co * n + j * s.len;
        T* dst = y + (b * g.cout + co) * g.out_size + ro;
        const T bv = bias ? bias[co] : T(0);
        if (relu)
          for (int64_t q = 0; q < s.out_len; ++q) dst[q] = std::max(src[q] + bv, T(0));
        else
          for (int64_t q = 0; q < s.out_len; ++q) dst[q] = src[q] + bv;
      }
    });
  });
}

// y: the (ReLU) output when the ReLU is fused (its gradient is masked by y > 0), else null.
template <class T>
void shifted_backward(const Geometry& g, const Shifted& s, const T* xp, const T* w, const T* gy, const T* y, const uint8_t* arg,
                      T* gx, T* gw, T* gb) {
  auto& tape = Tape<T>::current();
  const int64_t CK = g.cin * g.k_size;
  T* dxp = gx ? tape.alloc_zero(g.cin * s.NP) : nullptr;
  const ShiftedScratch<T> second = shifted_chunks(tape, g, s, gw || gb, [&](const Chunk& ch, int64_t end_row, ShiftedScratch<T>& sc) {
    const int64_t n = ch.rows * s.len;
    if (s.pool) {
      // Each pooled output's gradient goes to its window's argmax (zero where the ReLU was off).
      std::fill(sc.out, sc.out + g.cout * n, T(0));
      for_each_row(ch, [&](int64_t r, int64_t j) {
        if (j % s.pool_rows) return;
        const int64_t b = r / s.rows, pr = g.dims == 2 ? (r % s.rows) / s.pool : 0;
        for (int64_t co = 0; co < g.cout; ++co) {
          T* dst = sc.out + co * n + j * s.len;
          const int64_t at = (b * g.cout + co) * s.pout_size + pr * s.pout_len;
          for (int64_t p = 0; p < s.pout_len; ++p) {
            if (y && !(y[at + p] > T(0))) continue;
            const int64_t a = arg[at + p] / s.pool, e = arg[at + p] % s.pool;
            dst[a * s.len + p * s.pool + e] = gy[at + p];
          }
        }
      });
    } else
    // The output gradient on the chunk's rows: zero past the last output column.
    for_each_row(ch, [&](int64_t r, int64_t j) {
      const int64_t b = r / s.rows, ro = s.row_out[r % s.rows];
      for (int64_t co = 0; co < g.cout; ++co) {
        T* dst = sc.out + co * n + j * s.len;
        const int64_t at = (b * g.cout + co) * g.out_size + ro;
        const T* src = gy + at;
        int64_t q = 0;
        if (y)
          for (const T* yv = y + at; q < s.out_len; ++q) dst[q] = yv[q] > T(0) ? src[q] : T(0);
        else
          for (; q < s.out_len; ++q) dst[q] = src[q];
        for (; q < s.len; ++q) dst[q] = T(0);
      }
    });
    if (gb) {
      T* to = sc.gb ? sc.gb : gb;
      for (int64_t co = 0; co < g.cout; ++co) to[co] += row_sum(sc.out + co * n, n);
    }
    if (gw) {
      shifted_im2col(g, s, xp, ch, sc.cols);
      kernels::gemm(false, true, g.cout, CK, n, T(1), sc.out, n, sc.cols, n, T(1), sc.gw ? sc.gw : gw, CK);
    }
    if (dxp) {
      kernels::gemm(true, false, CK, n, g.cout, T(1), w, CK, sc.out, n, T(0), sc.dcols, n);
      // Adds past this thread's last sample only come from non-output columns (zero
      // gradient): clipping them keeps the two threads' writes apart.
      const int64_t limit = end_row * s.len;
      for (int64_t c = 0; c < g.cin; ++c)
        for (int64_t t = 0; t < g.k_size; ++t) {
          const T* src = sc.dcols + (c * g.k_size + t) * n;
          for (int64_t i = 0; i < ch.nruns; ++i) {
            const int64_t at = ch.runs[i].row * s.len + s.off[t], len = ch.runs[i].count * s.len;
            const int64_t m = std::min(len, limit - at);
            T* dst = dxp + c * s.NP + at;
            for (int64_t j = 0; j < m; ++j) dst[j] += src[j];
            src += len;
          }
        }
    }
  });
  if (gw && second.gw)
    for (int64_t i = 0; i < g.cout * CK; ++i) gw[i] += second.gw[i];
  if (gb && second.gb)
    for (int64_t i = 0; i < g.cout; ++i) gb[i] += second.gb[i];
  if (gx)
    kernels::parallel_for(g.batch, g.batch * g.cin * s.P, [&](int64_t b0, int64_t b1) { shifted_unpack_add(g, s, dxp, gx, b0, b1); });
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
    node->s = shifted_grid(G, spec.pool, alloc_index);
    if (spec.pool > 0) node->arg = tape.template alloc_array<uint8_t>(node->n);
    node->xp = tape.alloc(G.cin * node->s.NP);
    kernels::parallel_for(G.batch, G.batch * G.cin * node->s.P,
                          [&](int64_t b0, int64_t b1) { shifted_pack(G, node->s, x.data(), node->xp, b0, b1); });
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
