// Sums and dot products with 16 independent partial sums: the compiler keeps them in vector
// registers (a single running sum is a chain of dependent additions it may not reorder).
#pragma once
#include <cstdint>

namespace trusty::core::kernels {

template <class T>
T sum(const T* p, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += p[i + j];
  T s = 0;
  for (; i < n; ++i) s += p[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

template <class T>
T dot(const T* a, const T* b, int64_t n) {
  T acc[16] = {};
  int64_t i = 0;
  for (; i + 16 <= n; i += 16)
    for (int j = 0; j < 16; ++j) acc[j] += a[i + j] * b[i + j];
  T s = 0;
  for (; i < n; ++i) s += a[i] * b[i];
  for (int j = 0; j < 16; ++j) s += acc[j];
  return s;
}

}  // namespace trusty::core::kernels
