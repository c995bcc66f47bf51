// N-d convolution (1, 2 or 3 spatial dimensions) and pooling on [batch, channels, *spatial]
// tensors, as PyTorch lays them out. conv is a cross-correlation (no kernel flip).
//
// Padding: valid (none), same (zeros; output size ceil(n / stride)), periodic (indices wrap
// around: simulation boxes are periodic; output size as same). Forward and backward run
// through GEMMs (see ConvPath); conv_naive is the direct loop they are tested against.
#pragma once
#include <array>
#include <string>

#include "trusty/core/tape.hpp"

namespace trusty::core {

enum class Padding { valid, same, periodic };
Padding parse_padding(const std::string& s);  // throws listing the choices

struct ConvSpec {
  int dims = 2;                               // spatial dimensions: 1, 2 or 3
  std::array<int64_t, 3> stride{1, 1, 1};
  std::array<int64_t, 3> dilation{1, 1, 1};
  Padding padding = Padding::valid;
  bool relu = false;  // fused ReLU: max(conv, 0) in one pass, its gradient masked by output > 0
  // Fused max pooling after the (ReLU) output, window = stride = pool on every spatial axis
  // (0: none): the same as max_pool(conv(...), dims, pool), without the full-size output.
  // Fused on the shifted-grid path in 1-d and 2-d; elsewhere conv runs the two ops.
  int64_t pool = 0;
};

// x [B, Cin, *n], w [Cout, Cin, *k], b [Cout] (or none) -> [B, Cout, *out].
template <class T> Var<T> conv(const Var<T>& x, const Var<T>& w, const Var<T>& b, const ConvSpec& spec);
template <class T> Var<T> conv(const Var<T>& x, const Var<T>& w, const ConvSpec& spec);

// The direct loop (reference): values only.
template <class T> Tensor<T> conv_naive(const Tensor<T>& x, const Tensor<T>& w, const ConvSpec& spec);

// Which implementation conv uses (tests compare them): automatic picks the direct loops
// for few channels (Cin·Cout <= 4), the shifted grid (im2col of contiguous shifted rows of a
// padded copy, chunked to stay in cache) for unit strides, and classic im2col + GEMM
// otherwise. Forcing shifted on a strided convolution falls back to im2col.
enum class ConvPath { automatic, direct, im2col, shifted };
ConvPath& conv_path();  // thread-local
// Forces the fused max pooling through its scalar loop (the reference for the AVX-512 2×2
// kernel); tests. Thread-local.
bool& fused_pool_reference();

// Output spatial size along one axis.
int64_t conv_out_size(int64_t n, int64_t k, int64_t stride, int64_t dilation, Padding p);

// Max and average pooling over windows of `window` with stride `stride` (0: = window),
// valid windows only (floor), over the last `dims` axes.
template <class T> Var<T> max_pool(const Var<T>& x, int dims, int64_t window, int64_t stride = 0);
template <class T> Var<T> avg_pool(const Var<T>& x, int dims, int64_t window, int64_t stride = 0);
// Forces max_pool through its generic loop (the reference for the 2-d fast path); tests.
bool& max_pool_reference();

}  // namespace trusty::core
