#include "trusty/core/fpenv.hpp"

#if defined(__SSE__) || defined(__x86_64__)
#include <xmmintrin.h>
#define TRUSTY_HAVE_MXCSR 1
#endif

namespace trusty::core {

FlushDenormals::FlushDenormals(bool on) {
#ifdef TRUSTY_HAVE_MXCSR
  if (!on) return;
  prev_ = _mm_getcsr();
  _mm_setcsr(prev_ | 0x8040u);  // FTZ (bit 15) | DAZ (bit 6)
  active_ = true;
#else
  (void)on;
#endif
}

FlushDenormals::~FlushDenormals() {
#ifdef TRUSTY_HAVE_MXCSR
  if (active_) _mm_setcsr(prev_);
#endif
}

}  // namespace trusty::core
