// Strided iteration over an output shape with two (or one) broadcast inputs.
// f(o, ia, ib) gets the flat output index and the flat input offsets. The innermost
// axis is split into its own loop with the common stride patterns (1,1), (1,0), (0,1)
// so that element-wise kernels vectorise.
#pragma once
#include <array>
#include <cstdint>

#include "trusty/core/shape.hpp"

namespace trusty::core::kernels {

template <class F>
void for_each_broadcast(const Shape& out, const std::array<int64_t, kMaxRank>& sa,
                        const std::array<int64_t, kMaxRank>& sb, F&& f) {
  // Collapse adjacent axes that are contiguous for both inputs.
  std::array<int64_t, kMaxRank> d{}, a{}, b{};
  int r = 0;
  for (int i = 0; i < out.rank(); ++i) {
    int64_t n = out[i];
    if (n == 1) continue;
    auto si = static_cast<size_t>(i);
    if (r > 0) {
      auto p = static_cast<size_t>(r - 1);
      if (a[p] == sa[si] * n && b[p] == sb[si] * n) {
        d[p] *= n;
        a[p] = sa[si];
        b[p] = sb[si];
        continue;
      }
    }
    auto q = static_cast<size_t>(r++);
    d[q] = n;
    a[q] = sa[si];
    b[q] = sb[si];
  }
  if (out.numel() == 0) return;
  if (r == 0) {
    f(int64_t{0}, int64_t{0}, int64_t{0});
    return;
  }
  const auto last = static_cast<size_t>(r - 1);
  const int64_t n = d[last], xa = a[last], xb = b[last];
  std::array<int64_t, kMaxRank> idx{};
  int64_t o = 0, oa = 0, ob = 0;
  const int64_t outer = out.numel() / n;
  for (int64_t it = 0; it < outer; ++it) {
    if (xa == 1 && xb == 1) {
      for (int64_t k = 0; k < n; ++k) f(o + k, oa + k, ob + k);
    } else if (xa == 1 && xb == 0) {
      for (int64_t k = 0; k < n; ++k) f(o + k, oa + k, ob);
    } else if (xa == 0 && xb == 1) {
      for (int64_t k = 0; k < n; ++k) f(o + k, oa, ob + k);
    } else {
      for (int64_t k = 0; k < n; ++k) f(o + k, oa + k * xa, ob + k * xb);
    }
    o += n;
    // Advance the multi-index over the outer axes.
    for (int ax = r - 2; ax >= 0; --ax) {
      auto s = static_cast<size_t>(ax);
      oa += a[s];
      ob += b[s];
      if (++idx[s] < d[s]) break;
      oa -= a[s] * d[s];
      ob -= b[s] * d[s];
      idx[s] = 0;
    }
  }
}

// Strided iteration with one input: f(o, ia).
template <class F>
void for_each_strided(const Shape& out, const std::array<int64_t, kMaxRank>& sa, F&& f) {
  std::array<int64_t, kMaxRank> zero{};
  for_each_broadcast(out, sa, zero, [&](int64_t o, int64_t ia, int64_t) { f(o, ia); });
}

}  // namespace trusty::core::kernels
