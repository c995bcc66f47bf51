// The machine's measured floating-point peak, so that GEMM-bound figures can be reported as
// a fraction of the machine rather than of a library (docs/benchmarks.md).
//
// Peak: loops of independent fused multiply-adds (12 accumulator chains, more than FMA
// latency × FMA units on current x86 cores: 4 cycles × 2 units), in 512-bit and 256-bit
// vectors, f32 and f64, on one thread and on all cores; 2 flops per FMA lane. Clock: a
// dependent chain of register-to-register integer adds (one cycle each on every x86 core),
// and from it the latency of a dependent FMA chain in cycles. The kernels are compiled with
// target attributes and run only when the CPU and OS support them (reported unavailable
// otherwise), whatever -march the build used.
//
// Each figure is the best of repeated runs within its time slice, each thread timed by its
// own CPU time (CLOCK_THREAD_CPUTIME_ID): what a core does while it runs the thread, so that
// other processes sharing the machine lower the figures little (they still share caches and
// can lower the all-core clock). The two-thread sgemm rate is in wall time.
#pragma once
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace trusty::core {

struct FmaRate {
  std::string dtype;     // "f32" or "f64"
  int bits = 0;          // vector width: 512 or 256
  int threads = 0;       // 1, or all cores
  bool available = false;
  double gflops = 0;     // 2 flops per FMA lane
  double flops_per_cycle = 0;  // gflops / clock / threads
};

struct PeakProbe {
  double seconds = 0;            // wall time the probe took
  double clock_ghz = 0;          // from the dependent integer-add chain
  double fma_latency_cycles = 0; // dependent 256-bit f64 FMA chain (0 when unavailable)
  int cores = 1;
  std::vector<FmaRate> rates;
  // The best rate over vector widths for dtype on `threads` (0 when none ran).
  double peak(const std::string& dtype, int threads) const;
};

// Takes about `seconds`: ten slots of seconds / 10 (the clock, the FMA latency, four kernels
// on one thread and on all cores). seconds must be positive; cores <= 0 means all available.
PeakProbe probe_peak(double seconds, int cores = 0);

struct GemmRate {
  int64_t m = 0, n = 0, k = 0;
  int threads = 1;
  double gflops = 0;
  double fraction_of_peak = 0;  // of peak.peak("f32", threads), else peak.peak("f32", 1) × threads
};

// sgemm C[m,n] = A[m,k] · B[k,n] as trusty runs it: OpenBLAS on one thread (threads = 1,
// timed in thread CPU time), or trusty's split over `threads` (kernels/blas.hpp; wall time),
// best rate within `seconds`.
GemmRate probe_sgemm(int64_t m, int64_t n, int64_t k, int threads, double seconds, const PeakProbe& peak);

nlohmann::json to_json(const PeakProbe& p);
nlohmann::json to_json(const GemmRate& g);

}  // namespace trusty::core
