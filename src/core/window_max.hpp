// The maximum of one pooling window and where it is: the rule max pooling and the pooling
// fused into convolutions share. The first maximum wins and a NaN wins (then the last NaN),
// as max_pool's generic loop (the reference both are tested against) does.
#pragma once
#include <cstdint>

namespace trusty::core {

template <class T>
struct WindowMax {
  T value;
  int64_t row, col;  // position within the window
};

// Window of rows × w elements starting at p, rows `stride` apart; W, R > 0 fix w and rows at
// compile time (the 2×2 case), 0 takes them from w_rt, rows_rt.
template <class T, int64_t W, int64_t R>
inline WindowMax<T> window_max(const T* p, int64_t stride, int64_t w_rt, int64_t rows_rt) {
  const int64_t w = W > 0 ? W : w_rt, rows = R > 0 ? R : rows_rt;
  WindowMax<T> m{p[0], 0, 0};
  for (int64_t a = 0; a < rows; ++a)
    for (int64_t e = 0; e < w; ++e) {
      const T v = p[a * stride + e];
      const bool take = v > m.value || v != v;  // selects, not branches
      m.value = take ? v : m.value;
      m.row = take ? a : m.row;
      m.col = take ? e : m.col;
    }
  return m;
}

}  // namespace trusty::core
