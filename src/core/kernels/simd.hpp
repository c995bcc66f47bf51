// AVX-512 vectors of float or double behind one interface, for kernels written once for
// both element types (small GEMM, the fused linear backward). Only in AVX-512 builds.
#pragma once
#include <cstdint>

#if defined(__AVX512F__)
#include <immintrin.h>

namespace trusty::core::kernels::simd {

template <class T>
struct Vec;
template <>
struct Vec<double> {
  using V = __m512d;
  using M = __mmask8;
  static constexpr int64_t W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V load(M m, const double* p) { return _mm512_maskz_loadu_pd(m, p); }
  static void store(M m, double* p, V v) { _mm512_mask_storeu_pd(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V fnma(V a, V b, V c) { return _mm512_fnmadd_pd(a, b, c); }
  static V max(V a, V b) { return _mm512_max_pd(a, b); }
  static V gt_select(V y, V g) { return _mm512_maskz_mov_pd(_mm512_cmp_pd_mask(y, _mm512_setzero_pd(), _CMP_GT_OQ), g); }
  static M mask(int64_t n) { return static_cast<M>(n >= W ? 0xFF : (1u << n) - 1); }
  static double sum(V v) { return _mm512_reduce_add_pd(v); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  // Pairwise sums of adjacent lanes of a then b: [a0+a1, a2+a3, ..., b6+b7].
  static V pair_sums(V a, V b) {
    const __m512i ev = _mm512_set_epi64(14, 12, 10, 8, 6, 4, 2, 0), od = _mm512_set_epi64(15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_add_pd(_mm512_permutex2var_pd(a, ev, b), _mm512_permutex2var_pd(a, od, b));
  }
};
template <>
struct Vec<float> {
  using V = __m512;
  using M = __mmask16;
  static constexpr int64_t W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V load(M m, const float* p) { return _mm512_maskz_loadu_ps(m, p); }
  static void store(M m, float* p, V v) { _mm512_mask_storeu_ps(p, m, v); }
  static V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V fnma(V a, V b, V c) { return _mm512_fnmadd_ps(a, b, c); }
  static V max(V a, V b) { return _mm512_max_ps(a, b); }
  static V gt_select(V y, V g) { return _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(y, _mm512_setzero_ps(), _CMP_GT_OQ), g); }
  static M mask(int64_t n) { return static_cast<M>(n >= W ? 0xFFFF : (1u << n) - 1); }
  static float sum(V v) { return _mm512_reduce_add_ps(v); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V pair_sums(V a, V b) {
    const __m512i ev = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    const __m512i od = _mm512_set_epi32(31, 29, 27, 25, 23, 21, 19, 17, 15, 13, 11, 9, 7, 5, 3, 1);
    return _mm512_add_ps(_mm512_permutex2var_ps(a, ev, b), _mm512_permutex2var_ps(a, od, b));
  }
};

// The lane sums of W vectors as one vector: out[i] = Σ_lanes v[i] (v is overwritten). A tree
// of pair_sums, log2(W) levels; lane order is kept at every level.
template <class T>
typename Vec<T>::V lane_sums(typename Vec<T>::V* v) {
  using X = Vec<T>;
  for (int64_t n = X::W; n > 1; n /= 2)
    for (int64_t i = 0; i < n / 2; ++i) v[i] = X::pair_sums(v[2 * i], v[2 * i + 1]);
  return v[0];
}

}  // namespace trusty::core::kernels::simd

#endif
