#include "trusty/core/kernels/vmath.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <type_traits>

#if defined(TRUSTY_HAVE_MVEC) && defined(__AVX2__)
#include <immintrin.h>
#endif

namespace trusty::core::kernels {

namespace {
template <class T>
T scalar(VFun f, T x) {
  switch (f) {
    case VFun::exp: return std::exp(x);
    case VFun::log: return std::log(x);
    case VFun::log1p: return std::log1p(x);
    case VFun::expm1: return std::expm1(x);
    case VFun::tanh: return std::tanh(x);
    case VFun::erf: return std::erf(x);
    case VFun::erfc: return std::erfc(x);
  }
  return x;
}
}  // namespace

template <class T>
void vmath_ref(VFun f, int64_t n, const T* x, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = scalar(f, x[i]);
}

#if defined(TRUSTY_HAVE_MVEC) && defined(__AVX512F__)
extern "C" {
__m512d _ZGVeN8v_exp(__m512d);
__m512d _ZGVeN8v_log(__m512d);
__m512d _ZGVeN8v_log1p(__m512d);
__m512d _ZGVeN8v_expm1(__m512d);
__m512d _ZGVeN8v_tanh(__m512d);
__m512d _ZGVeN8v_erf(__m512d);
__m512d _ZGVeN8v_erfc(__m512d);
__m512 _ZGVeN16v_expf(__m512);
__m512 _ZGVeN16v_logf(__m512);
__m512 _ZGVeN16v_log1pf(__m512);
__m512 _ZGVeN16v_expm1f(__m512);
__m512 _ZGVeN16v_tanhf(__m512);
__m512 _ZGVeN16v_erff(__m512);
__m512 _ZGVeN16v_erfcf(__m512);
}
namespace {
using VecD = __m512d (*)(__m512d);
using VecF = __m512 (*)(__m512);
VecD pick(VFun f, double*) {
  switch (f) {
    case VFun::exp: return _ZGVeN8v_exp;
    case VFun::log: return _ZGVeN8v_log;
    case VFun::log1p: return _ZGVeN8v_log1p;
    case VFun::expm1: return _ZGVeN8v_expm1;
    case VFun::tanh: return _ZGVeN8v_tanh;
    case VFun::erf: return _ZGVeN8v_erf;
    case VFun::erfc: return _ZGVeN8v_erfc;
  }
  return nullptr;
}
VecF pick(VFun f, float*) {
  switch (f) {
    case VFun::exp: return _ZGVeN16v_expf;
    case VFun::log: return _ZGVeN16v_logf;
    case VFun::log1p: return _ZGVeN16v_log1pf;
    case VFun::expm1: return _ZGVeN16v_expm1f;
    case VFun::tanh: return _ZGVeN16v_tanhf;
    case VFun::erf: return _ZGVeN16v_erff;
    case VFun::erfc: return _ZGVeN16v_erfcf;
  }
  return nullptr;
}
inline __m512d load(const double* p) { return _mm512_loadu_pd(p); }
inline __m512 load(const float* p) { return _mm512_loadu_ps(p); }
inline void store(double* p, __m512d v) { _mm512_storeu_pd(p, v); }
inline void store(float* p, __m512 v) { _mm512_storeu_ps(p, v); }

inline __m512d vabs(__m512d v) { return _mm512_abs_pd(v); }
inline __m512 vabs(__m512 v) { return _mm512_abs_ps(v); }
inline __m512d vset(double*, double v) { return _mm512_set1_pd(v); }
inline __m512 vset(float*, float v) { return _mm512_set1_ps(v); }
inline __m512d vcopysign(__m512d mag, __m512d sgn) {
  const __m512i m = _mm512_set1_epi64(static_cast<long long>(0x8000000000000000ULL));
  return _mm512_castsi512_pd(_mm512_or_si512(_mm512_castpd_si512(mag), _mm512_and_si512(_mm512_castpd_si512(sgn), m)));
}
inline __m512 vcopysign(__m512 mag, __m512 sgn) {
  const __m512i m = _mm512_set1_epi32(static_cast<int>(0x80000000U));
  return _mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(mag), _mm512_and_si512(_mm512_castps_si512(sgn), m)));
}

// tanh|x| = -m / (2 + m) with m = expm1(-2|x|) in (-1, 0]: no overflow, no cancellation
// near 0, ~2 ulp, and twice as fast as libmvec's own tanh.
template <class T, class V, class Fn>
inline V tanh_via_expm1(V x, Fn expm1) {
  T* tag = nullptr;
  V m = expm1(vset(tag, T(-2)) * vabs(x));
  return vcopysign(-m / (vset(tag, T(2)) + m), x);
}

// expm1(y) for y <= 0 (or NaN), inline so that consecutive vectors overlap (libmvec's call
// was a latency chain per vector): y = k ln2 + r with |r| <= ln2/2 (Cody-Waite), expm1(r) by
// its Taylor series to r^13 (the next term is < 1e-17 relative), then
// expm1(y) = 2^k expm1(r) + (2^k - 1), which is expm1(r) itself when k = 0 (no cancellation
// near 0). Below -40 the result is -1 to double precision.
inline __m512d vexpm1_nonpositive(__m512d y) {
  const __m512d yc = _mm512_max_pd(_mm512_set1_pd(-40.0), y);  // NaN passes (second operand)
  // k = round(y / ln2) by the 1.5·2^52 shifter: t's low mantissa bits then hold k itself.
  const __m512d shifter = _mm512_set1_pd(6755399441055744.0);
  const __m512d t = _mm512_fmadd_pd(yc, _mm512_set1_pd(1.4426950408889634), shifter);
  const __m512d k = _mm512_sub_pd(t, shifter);
  __m512d r = _mm512_fnmadd_pd(k, _mm512_set1_pd(6.93147180369123816490e-01), yc);
  r = _mm512_fnmadd_pd(k, _mm512_set1_pd(1.90821492927058770002e-10), r);
  constexpr double c[12] = {1.0 / 2,         1.0 / 6,          1.0 / 24,          1.0 / 120,          1.0 / 720,           1.0 / 5040,
                            1.0 / 40320,     1.0 / 362880,     1.0 / 3628800,     1.0 / 39916800,     1.0 / 479001600,     1.0 / 6227020800};
  // Estrin's scheme (depth 5 instead of Horner's 11): q = Σ c[i] r^i.
  const __m512d r2 = _mm512_mul_pd(r, r), r4 = _mm512_mul_pd(r2, r2), r8 = _mm512_mul_pd(r4, r4);
  auto pair = [&](int i) { return _mm512_fmadd_pd(_mm512_set1_pd(c[i + 1]), r, _mm512_set1_pd(c[i])); };
  const __m512d q0 = _mm512_fmadd_pd(pair(2), r2, pair(0)), q1 = _mm512_fmadd_pd(pair(6), r2, pair(4));
  const __m512d q2 = _mm512_fmadd_pd(pair(10), r2, pair(8));
  const __m512d q = _mm512_fmadd_pd(q2, r8, _mm512_fmadd_pd(q1, r4, q0));
  const __m512d p = _mm512_fmadd_pd(r2, q, r);                                      // expm1(r)
  const __m512d two_k = _mm512_castsi512_pd(_mm512_slli_epi64(_mm512_add_epi64(_mm512_castpd_si512(t), _mm512_set1_epi64(1023)), 52));  // 2^k
  return _mm512_fmadd_pd(two_k, p, _mm512_sub_pd(two_k, _mm512_set1_pd(1.0)));  // exact 2^k - 1
}

// tanh on doubles without a call: m = expm1(-2|x|) inline, then -m / (2 + m).
void vtanh_inline(int64_t n, const double* x, double* y) {
  const __m512d minus2 = _mm512_set1_pd(-2.0), two = _mm512_set1_pd(2.0);
  for (int64_t i = 0; i < n; i += 8) {
    const __mmask8 msk = static_cast<__mmask8>(n - i >= 8 ? 0xFF : (1u << (n - i)) - 1);
    const __m512d xv = _mm512_maskz_loadu_pd(msk, x + i);
    const __m512d m = vexpm1_nonpositive(_mm512_mul_pd(minus2, _mm512_abs_pd(xv)));
    // A true division: the divider runs beside the FMA ports (a Newton reciprocal was slower).
    _mm512_mask_storeu_pd(y + i, msk, vcopysign(_mm512_div_pd(_mm512_sub_pd(_mm512_setzero_pd(), m), _mm512_add_pd(two, m)), xv));
  }
}
}  // namespace

template <class T>
void vmath(VFun f, int64_t n, const T* x, T* y) {
  constexpr int64_t W = 64 / sizeof(T);
  if constexpr (std::is_same_v<T, double>)
    if (f == VFun::tanh) {
      vtanh_inline(n, x, y);
      return;
    }
  auto fn = pick(f == VFun::tanh ? VFun::expm1 : f, static_cast<T*>(nullptr));
  auto apply = [&](auto v) { return f == VFun::tanh ? tanh_via_expm1<T>(v, fn) : fn(v); };
  int64_t i = 0;
  for (; i + W <= n; i += W) store(y + i, apply(load(x + i)));
  if (i < n) {  // tail through a padded buffer so that every element gets the same accuracy
    alignas(64) T buf[W];
    std::fill(buf, buf + W, T(0));
    std::copy(x + i, x + n, buf);
    store(buf, apply(load(buf)));
    std::copy(buf, buf + (n - i), y + i);
  }
}
const char* vmath_backend() { return "avx512"; }
#else
template <class T>
void vmath(VFun f, int64_t n, const T* x, T* y) {
  vmath_ref(f, n, x, y);
}
const char* vmath_backend() { return "scalar"; }
#endif

template <class T>
void vsigmoid(int64_t n, const T* x, T* y) {
  // 1/(1+e^-x) keeps full relative accuracy in both tails (e^-x -> inf gives 0).
  for (int64_t i = 0; i < n; ++i) y[i] = -x[i];
  vmath(VFun::exp, n, y, y);
  for (int64_t i = 0; i < n; ++i) y[i] = T(1) / (T(1) + y[i]);
}

template <class T>
void vsoftplus(int64_t n, const T* x, T* y) {
  constexpr int64_t B = 256;  // blocks on the stack: no allocation, y may alias x
  alignas(64) T pos[B];
  for (int64_t s = 0; s < n; s += B) {
    const int64_t m = std::min(B, n - s);
    for (int64_t i = 0; i < m; ++i) {
      pos[i] = std::max(x[s + i], T(0));
      y[s + i] = -std::abs(x[s + i]);
    }
    vmath(VFun::exp, m, y + s, y + s);
    vmath(VFun::log1p, m, y + s, y + s);
    for (int64_t i = 0; i < m; ++i) y[s + i] += pos[i];
  }
}

template void vmath<float>(VFun, int64_t, const float*, float*);
template void vmath<double>(VFun, int64_t, const double*, double*);
template void vmath_ref<float>(VFun, int64_t, const float*, float*);
template void vmath_ref<double>(VFun, int64_t, const double*, double*);
template void vsigmoid<float>(int64_t, const float*, float*);
template void vsigmoid<double>(int64_t, const double*, double*);
template void vsoftplus<float>(int64_t, const float*, float*);
template void vsoftplus<double>(int64_t, const double*, double*);

}  // namespace trusty::core::kernels
