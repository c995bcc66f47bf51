#pragma once
// Whether this test binary runs under AddressSanitizer (tools/sanitize.sh): timings are then
// meaningless (instrumented code against uninstrumented BLAS) and malloc is ASan's own.
#if defined(__SANITIZE_ADDRESS__)
#define TRUSTY_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TRUSTY_UNDER_ASAN 1
#endif
#endif
#ifndef TRUSTY_UNDER_ASAN
#define TRUSTY_UNDER_ASAN 0
#endif
