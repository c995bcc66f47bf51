// Vectorised elementwise maths on contiguous arrays: y[i] = f(x[i]).
// The fast versions call glibc's libmvec (AVX-512 or AVX2 variants, <= 4 ulp) where the
// build targets them; the *_ref versions are the scalar <cmath> loops they are tested
// against. x and y may alias.
#pragma once
#include <cstdint>

namespace trusty::core::kernels {

enum class VFun { exp, log, log1p, expm1, tanh, erf, erfc };

template <class T> void vmath(VFun f, int64_t n, const T* x, T* y);
template <class T> void vmath_ref(VFun f, int64_t n, const T* x, T* y);

// Composite kernels built on the above.
template <class T> void vsigmoid(int64_t n, const T* x, T* y);   // 1/(1+e^-x) = (1+tanh(x/2))/2
template <class T> void vsoftplus(int64_t n, const T* x, T* y);  // max(x,0) + log1p(e^-|x|)

const char* vmath_backend();  // "avx512", "avx2" or "scalar"

}  // namespace trusty::core::kernels
