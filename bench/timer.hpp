// Wall-clock timing for the benchmarks: run f repeatedly for at least `seconds`, return
// calls per second.
#pragma once
#include <chrono>

namespace trusty::bench {

template <class F>
double rate(F&& f, double seconds = 1.0) {
  using clock = std::chrono::steady_clock;
  for (int i = 0; i < 3; ++i) f();  // warm-up
  long calls = 0;
  const auto t0 = clock::now();
  double elapsed = 0;
  long batch = 1;
  while (elapsed < seconds) {
    for (long i = 0; i < batch; ++i) f();
    calls += batch;
    elapsed = std::chrono::duration<double>(clock::now() - t0).count();
    if (elapsed < seconds / 10) batch *= 2;
  }
  return static_cast<double>(calls) / elapsed;
}

}  // namespace trusty::bench
