// Fork-join over [0, n) on two threads: the caller and one persistent worker (no thread is
// created per call; a call costs a wake-up, a few microseconds). Used for large GEMMs (split
// in halves, OpenBLAS itself single-threaded: its spin-wait otherwise took a third of the
// CPU) and for the data-parallel loops around them. Gated on work size: small work (HMC on
// small networks) stays serial. Calls from the worker itself, or nested calls, run serially.
#pragma once
#include <cstdint>
#include <functional>

namespace trusty::core::kernels {

int parallel_threads();
void set_parallel_threads(int n);

// Runs a(…) on this thread and b(…) on the worker, and returns when both are done.
void fork_join(const std::function<void()>& a, const std::function<void()>& b);

// f(begin, end) on two halves when `work` (elements touched) is large enough.
template <class F>
void parallel_for(int64_t n, int64_t work, F&& f) {
  if (parallel_threads() <= 1 || n < 2 || work < (int64_t{1} << 17)) {
    f(int64_t{0}, n);
    return;
  }
  const int64_t mid = n / 2;
  fork_join([&] { f(int64_t{0}, mid); }, [&] { f(mid, n); });
}

}  // namespace trusty::core::kernels
