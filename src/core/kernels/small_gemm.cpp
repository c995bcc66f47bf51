// Small matrix products (HMC on small networks: 100×20 · 20×20 and the like), register-
// blocked for AVX-512: a block of up to 8 rows × 3 vectors of C stays in registers while k
// streams; A's elements are broadcast straight from memory (so Aᵀ costs nothing: only its
// strides change); a transposed B is first copied (it is small). No packing, no dispatch
// overhead beyond one call: Eigen's general kernel packed both operands on every call.
// gemm_naive is the reference it is tested against.
#include <algorithm>
#include <vector>

#include "trusty/core/kernels/blas.hpp"
#include "simd.hpp"

namespace trusty::core::kernels {

#if defined(__AVX512F__)
namespace {

using simd::Vec;

// C[R rows, NV vectors] = alpha · Σ_kk A(i, kk) B(kk, :) + beta · C, A(i, kk) = a[i·ra + kk·ca];
// with a bias row (alpha = 1, beta = 0): C = A B + bias, the accumulators starting at it.
template <class T, int R, int NV>
inline void block(int64_t k, T alpha, const T* a, int64_t ra, int64_t ca, const T* b, int64_t ldb, T beta, T* c, int64_t ldc,
                  typename Vec<T>::M last, const T* bias) {
  using X = Vec<T>;
  typename X::V acc[R][NV];
  typename X::M msk[NV];
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) msk[v] = v == NV - 1 ? last : X::mask(X::W);
#pragma GCC unroll 3
  for (int v = 0; v < NV; ++v) {
    const typename X::V init = bias ? X::load(msk[v], bias + v * X::W) : X::zero();
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) acc[r][v] = init;
  }
  int64_t kk = 0;
  if constexpr (R <= 2) {
    // One or two rows: the R·NV accumulators alone are a latency chain along k (an FMA's
    // latency per step); a second set for odd k halves it.
    typename X::V odd[R][NV];
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) odd[r][v] = X::zero();
    for (; kk + 2 <= k; kk += 2) {
#pragma GCC unroll 2
      for (int r = 0; r < R; ++r) {
        const typename X::V a0 = X::set1(a[r * ra + kk * ca]), a1 = X::set1(a[r * ra + (kk + 1) * ca]);
#pragma GCC unroll 3
        for (int v = 0; v < NV; ++v) {
          acc[r][v] = X::fma(a0, X::load(msk[v], b + kk * ldb + v * X::W), acc[r][v]);
          odd[r][v] = X::fma(a1, X::load(msk[v], b + (kk + 1) * ldb + v * X::W), odd[r][v]);
        }
      }
    }
#pragma GCC unroll 2
    for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = X::add(acc[r][v], odd[r][v]);
  }
  for (; kk < k; ++kk) {
    typename X::V bv[NV];
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) bv[v] = X::load(msk[v], b + kk * ldb + v * X::W);
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const typename X::V av = X::set1(a[r * ra + kk * ca]);
#pragma GCC unroll 3
      for (int v = 0; v < NV; ++v) acc[r][v] = X::fma(av, bv[v], acc[r][v]);
    }
  }
  const typename X::V al = X::set1(alpha), be = X::set1(beta);
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      T* cp = c + r * ldc + v * X::W;
      typename X::V out = alpha == T(1) ? acc[r][v] : X::mul(al, acc[r][v]);
      if (beta != T(0)) out = X::fma(be, X::load(msk[v], cp), out);  // beta = 0: C is not read (may hold NaN)
      X::store(msk[v], cp, out);
    }
}

template <class T, int NV>
void panel(int64_t m, int64_t k, T alpha, const T* a, int64_t ra, int64_t ca, const T* b, int64_t ldb, T beta, T* c, int64_t ldc,
           typename Vec<T>::M last, const T* bias) {
  int64_t i = 0;
  for (; i + 8 <= m; i += 8) block<T, 8, NV>(k, alpha, a + i * ra, ra, ca, b, ldb, beta, c + i * ldc, ldc, last, bias);
  for (; i + 4 <= m; i += 4) block<T, 4, NV>(k, alpha, a + i * ra, ra, ca, b, ldb, beta, c + i * ldc, ldc, last, bias);
  switch (m - i) {
    case 3: block<T, 3, NV>(k, alpha, a + i * ra, ra, ca, b, ldb, beta, c + i * ldc, ldc, last, bias); break;
    case 2: block<T, 2, NV>(k, alpha, a + i * ra, ra, ca, b, ldb, beta, c + i * ldc, ldc, last, bias); break;
    case 1: block<T, 1, NV>(k, alpha, a + i * ra, ra, ca, b, ldb, beta, c + i * ldc, ldc, last, bias); break;
    default: break;
  }
}

// One column of C (n = 1, A not transposed, op(B) a contiguous column): 4 rows of A at a
// time against the column, vectorised along k, one horizontal sum per row.
template <class T>
void column(int64_t m, int64_t k, T alpha, const T* a, int64_t lda, const T* bcol, T beta, T* c, int64_t ldc, const T* bias) {
  using X = Vec<T>;
  int64_t i = 0;
  auto finish = [&](int64_t row, T dotv) {
    T& out = c[row * ldc];
    out = bias ? dotv + bias[0] : beta == T(0) ? alpha * dotv : alpha * dotv + beta * out;
  };
  for (; i + 4 <= m; i += 4) {
    typename X::V acc[4] = {X::zero(), X::zero(), X::zero(), X::zero()};
    for (int64_t kk = 0; kk < k; kk += X::W) {
      const auto msk = X::mask(k - kk);
      const typename X::V bv = X::load(msk, bcol + kk);
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[r] = X::fma(X::load(msk, a + (i + r) * lda + kk), bv, acc[r]);
    }
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) finish(i + r, X::sum(acc[r]));
  }
  for (; i < m; ++i) {
    typename X::V acc = X::zero();
    for (int64_t kk = 0; kk < k; kk += X::W) {
      const auto msk = X::mask(k - kk);
      acc = X::fma(X::load(msk, a + i * lda + kk), X::load(msk, bcol + kk), acc);
    }
    finish(i, X::sum(acc));
  }
}

}  // namespace

namespace {
template <class T>
bool small_impl(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
                T* c, int64_t ldc, const T* bias) {
  using X = Vec<T>;
  if (m <= 0 || n <= 0) return true;
  if (k <= 0) return false;  // the caller's general path handles C = beta·C
  // Few columns of C: the kernel's vectors would run along n nearly empty.
  if (n == 1 && !ta && (tb || ldb == 1)) {  // a matrix-vector product
    column(m, k, alpha, a, lda, b, beta, c, ldc, bias);
    return true;
  }
  if (ta && n <= X::W / 4 && m >= X::W && !bias) {
    // Cᵀ = op(B)ᵀ op(A)ᵀ, where op(A)ᵀ is A as stored (rows along m): vectors along m.
    thread_local std::vector<T> t;
    t.resize(static_cast<size_t>(n * m));
    small_impl(!tb, false, n, m, k, T(1), b, ldb, a, lda, T(0), t.data(), m, static_cast<const T*>(nullptr));
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) {
        T& out = c[i * ldc + j];
        const T v = alpha * t[static_cast<size_t>(j * m + i)];
        out = beta == T(0) ? v : v + beta * out;
      }
    return true;
  }
  // op(B) must be row-major with unit column stride: copy a transposed B (small) first.
  thread_local std::vector<T> bt;
  if (tb) {
    bt.resize(static_cast<size_t>(k * n));
    T* dst = bt.data();
    for (int64_t j = 0; j < n; ++j) {  // small: both sides stay in L1
      const T* src = b + j * ldb;
      for (int64_t kk = 0; kk < k; ++kk) dst[kk * n + j] = src[kk];
    }
    b = dst;
    ldb = n;
  }
  const int64_t ra = ta ? 1 : lda, ca = ta ? lda : 1;
  constexpr int64_t P = 3 * X::W;  // columns per panel: 3 vectors
  for (int64_t j = 0; j < n; j += P) {
    const int64_t w = std::min(P, n - j);
    const int64_t nv = (w + X::W - 1) / X::W;
    const auto last = X::mask(w - (nv - 1) * X::W);
    const T* bj = bias ? bias + j : nullptr;
    if (nv == 3) panel<T, 3>(m, k, alpha, a, ra, ca, b + j, ldb, beta, c + j, ldc, last, bj);
    else if (nv == 2) panel<T, 2>(m, k, alpha, a, ra, ca, b + j, ldb, beta, c + j, ldc, last, bj);
    else panel<T, 1>(m, k, alpha, a, ra, ca, b + j, ldb, beta, c + j, ldc, last, bj);
  }
  return true;
}
}  // namespace

template <class T>
bool gemm_small(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b, int64_t ldb, T beta,
                T* c, int64_t ldc) {
  return small_impl(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, static_cast<const T*>(nullptr));
}

template <class T>
bool gemm_small_bias(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, const T* bias, T* c, int64_t ldc) {
  return small_impl(false, false, m, n, k, T(1), a, lda, b, ldb, T(0), c, ldc, bias);
}

#else

template <class T>
bool gemm_small(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, T*, int64_t) {
  return false;  // no vector kernel in this build: the caller uses Eigen
}
template <class T>
bool gemm_small_bias(int64_t, int64_t, int64_t, const T*, int64_t, const T*, int64_t, const T*, T*, int64_t) {
  return false;
}

#endif

template bool gemm_small<float>(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t, const float*, int64_t, float, float*,
                                int64_t);
template bool gemm_small<double>(bool, bool, int64_t, int64_t, int64_t, double, const double*, int64_t, const double*, int64_t, double,
                                 double*, int64_t);
template bool gemm_small_bias<float>(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t, const float*, float*, int64_t);
template bool gemm_small_bias<double>(int64_t, int64_t, int64_t, const double*, int64_t, const double*, int64_t, const double*, double*,
                                      int64_t);

}  // namespace trusty::core::kernels
