#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"

#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <thread>

namespace trusty::core::kernels {

template <class T>
void gemm_naive(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i)
    for (int64_t j = 0; j < n; ++j) {
      long double s = 0;
      for (int64_t p = 0; p < k; ++p) {
        T av = ta ? a[p * lda + i] : a[i * lda + p];
        T bv = tb ? b[j * ldb + p] : b[p * ldb + j];
        s += static_cast<long double>(av) * bv;
      }
      T prev = beta == T(0) ? T(0) : beta * c[i * ldc + j];
      c[i * ldc + j] = static_cast<T>(alpha * s) + prev;
    }
}

template <>
void gemm_blas<float>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
                      int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

template <>
void gemm_blas<double>(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* a,
                       int64_t lda, const double* b, int64_t ldb, double beta, double* c, int64_t ldc) {
  cblas_dgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), alpha, a,
              static_cast<blasint>(lda), b, static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

namespace {
template <class T>
using RowMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using ColMat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::ColMajor>;
template <class M>
using CMap = Eigen::Map<const M, 0, Eigen::OuterStride<>>;
template <class M>
using MMap = Eigen::Map<M, 0, Eigen::OuterStride<>>;

template <class T, class A, class B>
void finish(MMap<RowMat<T>>& C, const A& Am, const B& Bm, T alpha, T beta) {
  if (beta == T(0)) {
    if (alpha == T(1)) C.noalias() = Am * Bm;
    else C.noalias() = alpha * (Am * Bm);
  } else {
    if (beta != T(1)) C *= beta;
    if (alpha == T(1)) C.noalias() += Am * Bm;
    else C.noalias() += alpha * (Am * Bm);
  }
}
}  // namespace

template <class T>
void gemm_eigen(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc) {
  MMap<RowMat<T>> C(c, m, n, Eigen::OuterStride<>(ldc));
  // A transposed row-major matrix is the same memory read as column-major.
  if (!ta && !tb) {
    finish(C, CMap<RowMat<T>>(a, m, k, Eigen::OuterStride<>(lda)),
           CMap<RowMat<T>>(b, k, n, Eigen::OuterStride<>(ldb)), alpha, beta);
  } else if (ta && !tb) {
    finish(C, CMap<ColMat<T>>(a, m, k, Eigen::OuterStride<>(lda)),
           CMap<RowMat<T>>(b, k, n, Eigen::OuterStride<>(ldb)), alpha, beta);
  } else if (!ta && tb) {
    finish(C, CMap<RowMat<T>>(a, m, k, Eigen::OuterStride<>(lda)),
           CMap<ColMat<T>>(b, k, n, Eigen::OuterStride<>(ldb)), alpha, beta);
  } else {
    finish(C, CMap<ColMat<T>>(a, m, k, Eigen::OuterStride<>(lda)),
           CMap<ColMat<T>>(b, k, n, Eigen::OuterStride<>(ldb)), alpha, beta);
  }
}

template <class T>
void gemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda, const T* b,
          int64_t ldb, T beta, T* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (int64_t i = 0; i < m; ++i)
      for (int64_t j = 0; j < n; ++j) c[i * ldc + j] = beta == T(0) ? T(0) : beta * c[i * ldc + j];
    return;
  }
  if (m * n * k < kSmallGemmFlops) {
    if (!gemm_small(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)) gemm_eigen(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  // Large products on 2 threads: split C in two halves (along its longer side) and run
  // single-threaded OpenBLAS on each, instead of OpenBLAS's own threads, whose spin-wait
  // between calls took a third of the CPU in convolutional training.
  if (parallel_threads() > 1 && m * n * k >= (int64_t{1} << 21) && std::max(m, n) >= 32) {
    if (n >= m) {
      const int64_t h = n / 2;
      const T* b2 = tb ? b + h * ldb : b + h;
      fork_join([&] { gemm_blas(ta, tb, m, h, k, alpha, a, lda, b, ldb, beta, c, ldc); },
                [&] { gemm_blas(ta, tb, m, n - h, k, alpha, a, lda, b2, ldb, beta, c + h, ldc); });
    } else {
      const int64_t h = m / 2;
      const T* a2 = ta ? a + h : a + h * lda;
      fork_join([&] { gemm_blas(ta, tb, h, n, k, alpha, a, lda, b, ldb, beta, c, ldc); },
                [&] { gemm_blas(ta, tb, m - h, n, k, alpha, a2, lda, b, ldb, beta, c + h * ldc, ldc); });
    }
    return;
  }
  gemm_blas(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

// trusty's threads: OpenBLAS itself runs single-threaded and gemm() splits large products.
void set_blas_threads(int n) {
  openblas_set_num_threads(1);
  set_parallel_threads(n);
}
int blas_threads() { return parallel_threads(); }


#define TRUSTY_INST(T)                                                                                   \
  template void gemm<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*, int64_t, T, \
                        T*, int64_t);                                                                    \
  template void gemm_naive<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,       \
                              int64_t, T, T*, int64_t);                                                  \
  template void gemm_eigen<T>(bool, bool, int64_t, int64_t, int64_t, T, const T*, int64_t, const T*,       \
                              int64_t, T, T*, int64_t);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core::kernels
