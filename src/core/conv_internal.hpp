// Internal to the convolution sources (ops_conv.cpp, conv_shifted.cpp): the geometry of one
// convolution, and the shifted-grid path's plan and entry points.
#pragma once
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "trusty/core/conv.hpp"

namespace trusty::core::conv_detail {

// Per spatial axis: for every (tap, output position) the input index, or -1 for a zero.
// Trivially destructible (it lives in tape nodes): the index tables come from `alloc`.
inline constexpr int64_t kZeroIndex[1] = {0};
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

// The shifted-grid convolution (every stride 1; conv_shifted.cpp).
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

// The grid for one convolution (index tables from the tape; pool > 0 fuses max pooling).
template <class T>
Shifted shifted_grid(const Geometry& g, int64_t pool, Tape<T>& tape);
// x [B, Cin, *n] padded into the grid, on the tape: xp [Cin, NP].
template <class T>
T* shifted_pack(const Geometry& g, const Shifted& s, const T* x, Tape<T>& tape);
// y = conv (+ bias, ReLU, pooling as planned); arg receives the pooled argmax (pool > 0).
template <class T>
void shifted_forward(const Geometry& g, const Shifted& s, const T* xp, const T* w, const T* bias, bool relu, T* y, uint8_t* arg);
// Gradients from gy; y is the output when the ReLU is fused (its gradient is masked by
// y > 0), else null. Null gx, gw, gb are not wanted.
template <class T>
void shifted_backward(const Geometry& g, const Shifted& s, const T* xp, const T* w, const T* gy, const T* y, const uint8_t* arg,
                      T* gx, T* gw, T* gb);

}  // namespace trusty::core::conv_detail
