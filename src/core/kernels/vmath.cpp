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
// near 0, ~2 ulp, and twice as fast as libmvec's own tanh. Floats; doubles use vtanh below.
template <class T, class V, class Fn>
inline V tanh_via_expm1(V x, Fn expm1) {
  T* tag = nullptr;
  V m = expm1(vset(tag, T(-2)) * vabs(x));
  return vcopysign(-m / (vset(tag, T(2)) + m), x);
}

// tanh on doubles, inline (a call per vector was a latency chain), as -m / (2 + m) with
// m = expm1(-2|x|) in (-1, 0]: no overflow, and no cancellation near 0 because m itself is
// computed without forming e^y - 1 from a rounded e^y.
//   a = min(|x|, 20) (below y = -40 the result is ±1 to double precision);
//   y = -2a = k ln2/16 + r, |r| <= ln2/32, k = 16 n + j (0 <= j < 16);
//   e^y = 2^n 2^(j/16) e^r = s T[j] (1 + p), s = 2^n (1 + j/16), T[j] = 2^(j/16) / (1 + j/16),
//   m = (s T_hi[j] - 1) + s (T_hi[j] p + T_lo[j]),  p = expm1(r) by Taylor to r^7 (next
//   term < 2^-54 relative).
// k = round(16 y / ln2) comes from the 1.5·2^52 shifter, which also carries 1023·16: t's low
// bits then hold k + 1023·16, and one shift puts n + 1023 in s's exponent and j in its top
// four mantissa bits (hence the table holds 2^(j/16) / (1 + j/16)). The sixteen-entry tables
// (as hi + lo pairs) sit in two registers each and are read with one permute. s T_hi - 1 is
// exact for |y| < ln 2 (Sterbenz), so k = 0 gives m = p exactly.
// The loop is bound by how many of these long dependency chains the scheduler holds, not by
// ports, so the chain is kept short: the reduction is one FMA with ln2/16 rounded (its error,
// |k|·2^-58, is scaled by e^y, below 0.1 ulp of the result), written in u = -r/2 = a + k ln2/32
// so that no multiply by -2 precedes it; p = -2u + u² Q(u) (Q(u) = 4 Σ (-2u)^i / (i+2)!) by
// Estrin with u⁴; and 2 + m is formed beside m rather than after it. Within 3 ulp of <cmath>
// (test KernelsTanh). Table: mpmath, 200 bits, v = 2**(j/16) / (1 + j/16); hi = float(v);
// lo = float(v - hi).
alignas(64) constexpr double kTanhTabHi[16] = {
    1.0,                0.98284591287286,   0.9693402068135624, 0.9589799029530035, 0.9513656920021768, 0.9461773806274164,
    0.9431560397461889, 0.9420908152604471, 0.9428090415820634, 0.9451687334012796, 0.9490528156356559, 0.9543646411551137,
    0.9610244745756737, 0.9689667091714755, 0.9781376460849827, 0.9884937091082051};
alignas(64) constexpr double kTanhTabLo[16] = {
    0.0,                     3.4773307979321455e-17,  -2.4108846066629298e-18, -6.750642437429155e-18,
    5.40605823442283e-17,    9.055852494349123e-18,   -4.209761749236249e-17,  -1.883403461605463e-17,
    9.566246218657683e-18,   -4.450202565661702e-17,  -1.9399356532639658e-17, 6.41742504413833e-18,
    1.5130827985461224e-17,  3.930194227747978e-17,   -1.209604212736083e-17,  -5.4812624806172715e-17};

struct TanhTable {
  __m512d hi0 = _mm512_load_pd(kTanhTabHi), hi1 = _mm512_load_pd(kTanhTabHi + 8);
  __m512d lo0 = _mm512_load_pd(kTanhTabLo), lo1 = _mm512_load_pd(kTanhTabLo + 8);
};

inline __m512d vtanh(__m512d x, const TanhTable& tab) {
  // min passes NaN through (its second operand).
  const __m512d a = _mm512_min_pd(_mm512_set1_pd(20.0), _mm512_abs_pd(x));
  const __m512d shifter = _mm512_set1_pd(6755399441055744.0 + 1023 * 16);
  const __m512d t = _mm512_fmadd_pd(a, _mm512_set1_pd(-2 * 23.083120654223414), shifter);  // -32/ln2
  const __m512d k = _mm512_sub_pd(t, shifter);
  const __m512d u = _mm512_fmadd_pd(k, _mm512_set1_pd(0.02166084939249829), a);  // ln2/32
  const __m512i ti = _mm512_castpd_si512(t);  // the permutes read j from its low four bits
  const __m512d th = _mm512_permutex2var_pd(tab.hi0, ti, tab.hi1);
  const __m512d tl = _mm512_permutex2var_pd(tab.lo0, ti, tab.lo1);
  const __m512d s = _mm512_castsi512_pd(_mm512_slli_epi64(ti, 48));
  // Q(u) = 2 - 4/3 u + 2/3 u² - 4/15 u³ + 4/45 u⁴ - 8/315 u⁵
  const __m512d u2 = _mm512_mul_pd(u, u), u4 = _mm512_mul_pd(u2, u2);
  const __m512d q01 = _mm512_fmadd_pd(_mm512_set1_pd(-4.0 / 3), u, _mm512_set1_pd(2.0));
  const __m512d q23 = _mm512_fmadd_pd(_mm512_set1_pd(-4.0 / 15), u, _mm512_set1_pd(2.0 / 3));
  const __m512d q45 = _mm512_fmadd_pd(_mm512_set1_pd(-8.0 / 315), u, _mm512_set1_pd(4.0 / 45));
  const __m512d lo = _mm512_fmadd_pd(u2, q01, _mm512_mul_pd(u, _mm512_set1_pd(-2.0)));  // -2u + u² (2 - 4/3 u)
  const __m512d p = _mm512_fmadd_pd(_mm512_fmadd_pd(q45, u2, q23), u4, lo);
  const __m512d in = _mm512_fmadd_pd(th, p, tl);
  const __m512d m = _mm512_fmadd_pd(s, in, _mm512_fmsub_pd(s, th, _mm512_set1_pd(1.0)));
  const __m512d d = _mm512_fmadd_pd(s, in, _mm512_fmadd_pd(s, th, _mm512_set1_pd(1.0)));  // 2 + m
  // A true division (its unit runs beside the FMA ports); m / (2 + m) = -|tanh x|, then
  // x's sign: (q & ~sign) | (x & sign) in one ternary-logic op.
  const __m512d neg = _mm512_div_pd(m, d);
  const __m512i sign = _mm512_set1_epi64(static_cast<long long>(0x8000000000000000ULL));
  return _mm512_castsi512_pd(_mm512_ternarylogic_epi64(sign, _mm512_castpd_si512(neg), _mm512_castpd_si512(x), 0xAC));
}

void vtanh_inline(int64_t n, const double* x, double* y) {
  const TanhTable tab;
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) {  // two independent chains side by side
    const __m512d a = vtanh(_mm512_loadu_pd(x + i), tab), b = vtanh(_mm512_loadu_pd(x + i + 8), tab);
    _mm512_storeu_pd(y + i, a);
    _mm512_storeu_pd(y + i + 8, b);
  }
  for (; i + 8 <= n; i += 8) _mm512_storeu_pd(y + i, vtanh(_mm512_loadu_pd(x + i), tab));
  if (i < n) {
    const auto msk = static_cast<__mmask8>((1u << (n - i)) - 1);
    _mm512_mask_storeu_pd(y + i, msk, vtanh(_mm512_maskz_loadu_pd(msk, x + i), tab));
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
