// Matrix products on row-major storage. gemm() dispatches on size: small products go
// through a register-blocked kernel with no packing (gemm_small; Eigen where it is not
// built), since per-call cost matters for HMC on small networks; large ones go to OpenBLAS.
// gemm_naive() is the reference both are tested against.
#pragma once
#include <cstdint>

namespace trusty::core::kernels {

// C = alpha * op(A) * op(B) + beta * C, op(X) = X or Xᵀ; row-major with leading dimensions.
template <class T>
void gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
          const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

template <class T>
void gemm_naive(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Always OpenBLAS (for benchmarks and tests of the dispatch).
template <class T>
void gemm_blas(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
               int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// Always Eigen.
template <class T>
void gemm_eigen(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a,
                int64_t lda, const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// The register-blocked small-product kernel (AVX-512 builds; returns false, doing nothing,
// where it is not built or k = 0).
template <class T>
bool gemm_small(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, T alpha, const T* a, int64_t lda,
                const T* b, int64_t ldb, T beta, T* c, int64_t ldc);

// C = A B + bias (the bias row added to every row of C; A, B not transposed) through the
// small kernel, the accumulators starting at the bias; false (nothing done) where not built.
template <class T>
bool gemm_small_bias(int64_t m, int64_t n, int64_t k, const T* a, int64_t lda, const T* b, int64_t ldb, const T* bias, T* c,
                     int64_t ldc);

// Products with m*n*k below this go to the small kernel (or Eigen).
inline constexpr int64_t kSmallGemmFlops = 64 * 64 * 64;

// Threads for large GEMMs and data-parallel loops (process-wide). OpenBLAS itself is kept
// single-threaded; gemm() splits large products across these threads.
void set_blas_threads(int n);
int blas_threads();

}  // namespace trusty::core::kernels
