#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

#include "test_util.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/vmath.hpp"

using namespace trusty::core;
using namespace trusty::core::kernels;

template <class T>
class Kernels : public ::testing::Test {};
using Types = ::testing::Types<float, double>;
TYPED_TEST_SUITE(Kernels, Types);

TYPED_TEST(Kernels, GemmPathsAgreeWithNaive) {
  using T = TypeParam;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  for (auto [m, n, k] : {std::tuple{1, 1, 1}, std::tuple{5, 7, 3}, std::tuple{100, 20, 20}, std::tuple{128, 256, 96}}) {
    for (int ta = 0; ta < 2; ++ta)
      for (int tb = 0; tb < 2; ++tb) {
        auto A = trusty::test::random_tensor<T>(ta ? Shape{k, m} : Shape{m, k}, 7);
        auto B = trusty::test::random_tensor<T>(tb ? Shape{n, k} : Shape{k, n}, 8);
        auto C0 = trusty::test::random_tensor<T>({m, n}, 9);
        const int64_t lda = ta ? m : k, ldb = tb ? k : n;
        Tensor<T> ref = C0.clone(), fast = C0.clone(), eig = C0.clone(), blas = C0.clone();
        gemm_naive<T>(ta, tb, m, n, k, T(0.5), A.data(), lda, B.data(), ldb, T(2), ref.data(), n);
        gemm<T>(ta, tb, m, n, k, T(0.5), A.data(), lda, B.data(), ldb, T(2), fast.data(), n);
        gemm_eigen<T>(ta, tb, m, n, k, T(0.5), A.data(), lda, B.data(), ldb, T(2), eig.data(), n);
        gemm_blas<T>(ta, tb, m, n, k, T(0.5), A.data(), lda, B.data(), ldb, T(2), blas.data(), n);
        const double scale = std::sqrt(static_cast<double>(k));
        EXPECT_LT(max_abs_diff(ref, fast), tol * scale);
        EXPECT_LT(max_abs_diff(ref, eig), tol * scale);
        EXPECT_LT(max_abs_diff(ref, blas), tol * scale);
      }
  }
}

TYPED_TEST(Kernels, SmallGemmKernelAgreesWithNaive) {
  // Every row tail (1-3), panel widths of 1-3 vectors and beyond one panel, the few-column
  // paths (matrix-vector, transposed product), transposes, tight and wide leading
  // dimensions, beta 0 over a C full of NaN (C not read).
  using T = TypeParam;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  uint64_t seed = 40;
  for (int64_t m : {1, 2, 3, 4, 7, 100})
    for (int64_t n : {1, 2, 3, 4, 5, 8, 16, 20, 33, 49, 70})
      for (int64_t k : {1, 3, 20, 100})
        for (int ta = 0; ta < 2; ++ta)
          for (int tb = 0; tb < 2; ++tb)
            for (T beta : {T(0), T(0.75)}) {
              const int64_t pad = seed % 2 ? 0 : 3;  // tight and wide leading dimensions (n = 1, ldb = 1: a contiguous column)
              const int64_t lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + 5;
              auto A = trusty::test::random_tensor<T>(ta ? Shape{k, lda} : Shape{m, lda}, seed++);
              auto B = trusty::test::random_tensor<T>(tb ? Shape{n, ldb} : Shape{k, ldb}, seed++);
              auto C0 = trusty::test::random_tensor<T>({m, ldc}, seed++);
              if (beta == T(0)) C0.fill(std::numeric_limits<T>::quiet_NaN());
              Tensor<T> ref = C0.clone(), fast = C0.clone();
              gemm_naive<T>(ta, tb, m, n, k, T(1.5), A.data(), lda, B.data(), ldb, beta, ref.data(), ldc);
              const bool ran = gemm_small<T>(ta, tb, m, n, k, T(1.5), A.data(), lda, B.data(), ldb, beta, fast.data(), ldc);
              if (!ran) GTEST_SKIP() << "no AVX-512 small-GEMM kernel in this build";
              for (int64_t i = 0; i < m; ++i)
                for (int64_t j = 0; j < ldc; ++j) {
                  const T r = ref.data()[i * ldc + j], f = fast.data()[i * ldc + j];
                  if (j >= n) {  // outside C: untouched
                    ASSERT_TRUE(r == f || (std::isnan(r) && std::isnan(f))) << m << "x" << n << "x" << k << " column " << j;
                    continue;
                  }
                  ASSERT_NEAR(f, r, tol * std::sqrt(static_cast<double>(k)) * 4)
                      << m << "x" << n << "x" << k << " ta " << ta << " tb " << tb << " beta " << beta << " at " << i << "," << j;
                }
            }
}

TYPED_TEST(Kernels, SmallGemmWithBiasAgreesWithNaive) {
  using T = TypeParam;
  const double tol = std::is_same_v<T, float> ? 1e-4 : 1e-12;
  uint64_t seed = 90;
  for (int64_t m : {1, 3, 4, 9, 100})
    for (int64_t n : {1, 7, 20, 50})
      for (int64_t k : {1, 20}) {
        auto A = trusty::test::random_tensor<T>({m, k}, seed++);
        auto B = trusty::test::random_tensor<T>({k, n}, seed++);
        auto bias = trusty::test::random_tensor<T>({n}, seed++);
        Tensor<T> ref({m, n}), fast({m, n});
        fast.fill(std::numeric_limits<T>::quiet_NaN());  // C is not read
        for (int64_t i = 0; i < m; ++i)
          for (int64_t j = 0; j < n; ++j) ref.data()[i * n + j] = bias.data()[j];
        gemm_naive<T>(false, false, m, n, k, T(1), A.data(), k, B.data(), n, T(1), ref.data(), n);
        if (!gemm_small_bias<T>(m, n, k, A.data(), k, B.data(), n, bias.data(), fast.data(), n)) GTEST_SKIP() << "no AVX-512 kernel";
        EXPECT_LT(max_abs_diff(ref, fast), tol * 4) << m << "x" << n << "x" << k;
      }
}

TYPED_TEST(Kernels, VectorMathAgreesWithScalar) {
  using T = TypeParam;
  // Within a few ulp of <cmath>; tails (length not a multiple of the vector width) included.
  const double ulps = 8 * std::numeric_limits<T>::epsilon();
  std::vector<T> x(37);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<T>(-4.0 + 8.0 * static_cast<double>(i) / 36.0);
  for (VFun f : {VFun::exp, VFun::log, VFun::log1p, VFun::expm1, VFun::tanh, VFun::erf, VFun::erfc}) {
    std::vector<T> in = x;
    if (f == VFun::log) for (auto& v : in) v = std::abs(v) + T(0.1);
    if (f == VFun::log1p) for (auto& v : in) v = std::abs(v) - T(0.5);
    std::vector<T> a(in.size()), b(in.size());
    vmath<T>(f, static_cast<int64_t>(in.size()), in.data(), a.data());
    vmath_ref<T>(f, static_cast<int64_t>(in.size()), in.data(), b.data());
    for (size_t i = 0; i < in.size(); ++i)
      EXPECT_LE(std::abs(a[i] - b[i]), ulps * std::max<T>(std::abs(b[i]), std::numeric_limits<T>::min()))
          << "f=" << static_cast<int>(f) << " x=" << in[i];
  }
}

TEST(KernelsTanh, DoubleAccurateEverywhere) {
  // The inline double tanh against <cmath> on a dense sweep, tiny and huge arguments,
  // signed zeros, infinities and NaN: within 4 ulp (measured maximum printed).
  std::vector<double> x;
  for (int i = -200000; i <= 200000; ++i) x.push_back(i * 1e-4);  // [-20, 20]
  for (double t : {1e-300, 4.9e-324, 1e-16, 1e-8, 0.3465, 0.3466, 0.3467, 18.0, 19.06, 25.0, 40.0, 41.0, 700.0, 1e300})
    x.insert(x.end(), {t, -t});
  x.insert(x.end(), {0.0, -0.0, std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(),
                     std::numeric_limits<double>::quiet_NaN()});
  std::vector<double> y(x.size());
  vmath<double>(VFun::tanh, static_cast<int64_t>(x.size()), x.data(), y.data());
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double r = std::tanh(x[i]);
    if (std::isnan(r)) {
      EXPECT_TRUE(std::isnan(y[i]));
      continue;
    }
    EXPECT_EQ(std::signbit(y[i]), std::signbit(r)) << "x=" << x[i];
    const double ulp = std::max(std::abs(r) * std::numeric_limits<double>::epsilon(), std::numeric_limits<double>::denorm_min());
    worst = std::max(worst, std::abs(y[i] - r) / ulp);
    ASSERT_LE(std::abs(y[i] - r), 4 * ulp) << "x=" << x[i] << " tanh " << y[i] << " vs " << r;
  }
  std::printf("max error %.2f ulp\n", worst);
  // In place (x and y alias), with a length that is not a multiple of the vector width.
  std::vector<double> z(x.begin(), x.begin() + 37), ref(37);
  for (size_t i = 0; i < 37; ++i) ref[i] = std::tanh(z[i]);
  vmath<double>(VFun::tanh, 37, z.data(), z.data());
  for (size_t i = 0; i < 37; ++i) EXPECT_NEAR(z[i], ref[i], 4e-16 * std::abs(ref[i]));
}

TYPED_TEST(Kernels, SigmoidSoftplusStableInTails) {
  using T = TypeParam;
  std::vector<T> x = {T(-800), T(-40), T(-1), T(0), T(1), T(40), T(800)};
  std::vector<T> s(x.size()), sp(x.size());
  vsigmoid<T>(7, x.data(), s.data());
  vsoftplus<T>(7, x.data(), sp.data());
  for (size_t i = 0; i < x.size(); ++i) {
    const long double xi = x[i];
    const long double ref_s = 1.0L / (1.0L + std::exp(-xi));
    const long double ref_sp = xi > 0 ? xi + std::log1p(std::exp(-xi)) : std::log1p(std::exp(xi));
    EXPECT_NEAR(s[i], static_cast<T>(ref_s), 4 * std::numeric_limits<T>::epsilon() * ref_s + 1e-300) << x[i];
    EXPECT_NEAR(sp[i], static_cast<T>(ref_sp), 4 * std::numeric_limits<T>::epsilon() * ref_sp + 1e-300) << x[i];
  }
}

#include <atomic>

#include "trusty/core/kernels/parallel.hpp"

TEST(Parallel, ForkJoinCoversEveryIndexAndSurvivesSleeps) {
  set_parallel_threads(2);
  // Many hand-offs, some after the worker has gone to sleep (a lost wake-up would hang).
  for (int round = 0; round < 2000; ++round) {
    if (round % 500 == 499) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    std::vector<int> hit(1 << 18, 0);
    parallel_for(static_cast<int64_t>(hit.size()), int64_t{1} << 20, [&](int64_t a, int64_t b) {
      for (int64_t i = a; i < b; ++i) hit[static_cast<size_t>(i)] += 1;
    });
    ASSERT_EQ(std::count(hit.begin(), hit.end(), 1), static_cast<long>(hit.size())) << "round " << round;
  }
  // Exceptions from either side reach the caller.
  EXPECT_THROW(fork_join([] {}, [] { throw std::runtime_error("worker"); }), std::runtime_error);
  EXPECT_THROW(fork_join([] { throw std::runtime_error("caller"); }, [] {}), std::runtime_error);
  // Large GEMMs split across the two threads agree with the reference.
  auto A = trusty::test::random_tensor<double>({300, 200}, 1), B = trusty::test::random_tensor<double>({200, 250}, 2);
  Tensor<double> C(Shape{300, 250}), R(Shape{300, 250});
  gemm<double>(false, false, 300, 250, 200, 1.0, A.data(), 200, B.data(), 250, 0.0, C.data(), 250);
  gemm_naive<double>(false, false, 300, 250, 200, 1.0, A.data(), 200, B.data(), 250, 0.0, R.data(), 250);
  EXPECT_LT(max_abs_diff(C, R), 1e-11);
  set_parallel_threads(1);
}
