// The shifted-grid convolution (every stride 1), with ReLU and max pooling optionally fused
// into it: see conv_internal.hpp for the plan, ops_conv.cpp for the other paths and the
// tape node. Tested against the direct loops and conv_naive (tests/core/conv_test.cpp).
#include <algorithm>
#include <cstring>
#include <type_traits>
#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "conv_internal.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "window_max.hpp"

namespace trusty::core::conv_detail {

template <class T>
Shifted shifted_grid(const Geometry& g, int64_t pool, Tape<T>& tape) {
  auto alloc = [&](int64_t n) { return tape.template alloc_array<int64_t>(n); };
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

namespace {

// x [B, Cin, *n] -> xp [Cin, NP] (padding and slack zero), samples [b0, b1).
template <class T>
void pack_samples(const Geometry& g, const Shifted& s, const T* x, T* xp, int64_t b0, int64_t b1) {
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

}  // namespace

template <class T>
T* shifted_pack(const Geometry& g, const Shifted& s, const T* x, Tape<T>& tape) {
  T* xp = tape.alloc(g.cin * s.NP);
  kernels::parallel_for(g.batch, g.batch * g.cin * s.P, [&](int64_t b0, int64_t b1) { pack_samples(g, s, x, xp, b0, b1); });
  return xp;
}

namespace {

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

// Fused max pooling of one chunk's window rows -> the pooled outputs (bias added and ReLU
// applied after the maximum: both are monotone) and the argmax within each window
// (a · pool + e), by the rule max_pool uses (window_max.hpp).
// (Locals, not the structs' fields, in the loop: the uint8_t stores may alias anything.)
template <class T, int64_t W, int64_t R>  // W, R > 0: compile-time window and rows per window
void pool_window_loop(const T* __restrict src, int64_t len, int64_t n_out, int64_t w_rt, int64_t rows_rt, T bv, bool relu,
                      T* __restrict y, uint8_t* __restrict arg) {
  const int64_t w = W > 0 ? W : w_rt;
  for (int64_t p = 0; p < n_out; ++p) {
    const auto m = window_max<T, W, R>(src + p * w, len, w_rt, rows_rt);
    const T best = m.value + bv;
    y[p] = relu ? std::max(best, T(0)) : best;
    arg[p] = static_cast<uint8_t>(m.row * w + m.col);
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

// Where the pooled outputs of the window starting at grid row r, channel co, begin.
inline int64_t pooled_at(const Geometry& g, const Shifted& s, int64_t r, int64_t co) {
  const int64_t b = r / s.rows, pooled_row = g.dims == 2 ? (r % s.rows) / s.pool : 0;
  return (b * g.cout + co) * s.pout_size + pooled_row * s.pout_len;
}

// The pooled outputs of the window rows starting at chunk row j (grid row r).
template <class T>
void pool_rows_forward(const Geometry& g, const Shifted& s, const T* out, int64_t n, int64_t r, int64_t j, const T* bias, bool relu,
                       T* y, uint8_t* arg) {
  const int64_t w = s.pool, rows = s.pool_rows, len = s.len, n_out = s.pout_len;
  for (int64_t co = 0; co < g.cout; ++co) {
    const T* src = out + co * n + j * len;
    const int64_t at = pooled_at(g, s, r, co);
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

// The output gradient on a chunk's rows, dout[Cout, n] (n = rows · len): from gy, masked by
// the fused ReLU (y > 0) when y is given; with pooling, each pooled output's gradient at its
// window's argmax; zero everywhere else (columns past the last output included).
template <class T>
void output_grad(const Geometry& g, const Shifted& s, const Chunk& ch, const T* gy, const T* y, const uint8_t* arg, T* dout) {
  const int64_t n = ch.rows * s.len;
  if (s.pool) {
    std::fill(dout, dout + g.cout * n, T(0));
    for_each_row(ch, [&](int64_t r, int64_t j) {
      if (j % s.pool_rows) return;
      for (int64_t co = 0; co < g.cout; ++co) {
        T* dst = dout + co * n + j * s.len;
        const int64_t at = pooled_at(g, s, r, co);
        for (int64_t p = 0; p < s.pout_len; ++p) {
          if (y && !(y[at + p] > T(0))) continue;
          const int64_t a = arg[at + p] / s.pool, e = arg[at + p] % s.pool;
          dst[a * s.len + p * s.pool + e] = gy[at + p];
        }
      }
    });
    return;
  }
  for_each_row(ch, [&](int64_t r, int64_t j) {
    const int64_t b = r / s.rows, ro = s.row_out[r % s.rows];
    for (int64_t co = 0; co < g.cout; ++co) {
      T* dst = dout + co * n + j * s.len;
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
}

}  // namespace

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

template <class T>
void shifted_backward(const Geometry& g, const Shifted& s, const T* xp, const T* w, const T* gy, const T* y, const uint8_t* arg,
                      T* gx, T* gw, T* gb) {
  auto& tape = Tape<T>::current();
  const int64_t CK = g.cin * g.k_size;
  T* dxp = gx ? tape.alloc_zero(g.cin * s.NP) : nullptr;
  const ShiftedScratch<T> second = shifted_chunks(tape, g, s, gw || gb, [&](const Chunk& ch, int64_t end_row, ShiftedScratch<T>& sc) {
    const int64_t n = ch.rows * s.len;
    output_grad(g, s, ch, gy, y, arg, sc.out);
    if (gb) {
      T* to = sc.gb ? sc.gb : gb;
      for (int64_t co = 0; co < g.cout; ++co) to[co] += kernels::sum(sc.out + co * n, n);
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

#define TRUSTY_INST(T)                                                                                                         \
  template Shifted shifted_grid<T>(const Geometry&, int64_t, Tape<T>&);                                                       \
  template T* shifted_pack<T>(const Geometry&, const Shifted&, const T*, Tape<T>&);                                            \
  template void shifted_forward<T>(const Geometry&, const Shifted&, const T*, const T*, const T*, bool, T*, uint8_t*);        \
  template void shifted_backward<T>(const Geometry&, const Shifted&, const T*, const T*, const T*, const T*, const uint8_t*, T*, \
                                    T*, T*);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core::conv_detail
