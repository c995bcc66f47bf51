#include "trusty/core/peak.hpp"

#include <cblas.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <thread>
#include <vector>

#include <time.h>

#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/machine.hpp"

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace trusty::core {

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// Results go here so that the compiler keeps every loop.
std::atomic<double> g_sink{0};

constexpr int kChains = 12;  // independent FMA chains per loop iteration

#if defined(__x86_64__)
// acc = acc * a + b on kChains accumulators: a just below 1 keeps the values bounded and
// normal. Without -ffast-math the compiler may not reassociate or merge the chains.
#define TRUSTY_FMA_KERNEL(NAME, TARGET, VEC, SET1, FMADD, ADD, STORE, SCALAR, LANES)          \
  __attribute__((target(TARGET))) double NAME(int64_t iters) {                                \
    VEC acc[kChains];                                                                         \
    for (int j = 0; j < kChains; ++j) acc[j] = SET1(SCALAR(1) + SCALAR(j) * SCALAR(1e-3));    \
    const VEC a = SET1(SCALAR(0.9999999)), b = SET1(SCALAR(1e-7));                            \
    for (int64_t i = 0; i < iters; ++i) {                                                     \
      _Pragma("GCC unroll 12") for (int j = 0; j < kChains; ++j) acc[j] = FMADD(acc[j], a, b); \
    }                                                                                         \
    VEC s = acc[0];                                                                           \
    for (int j = 1; j < kChains; ++j) s = ADD(s, acc[j]);                                     \
    alignas(64) SCALAR out[LANES];                                                            \
    STORE(out, s);                                                                            \
    return static_cast<double>(out[0]);                                                       \
  }

TRUSTY_FMA_KERNEL(fma_f32_512, "avx512f", __m512, _mm512_set1_ps, _mm512_fmadd_ps, _mm512_add_ps, _mm512_store_ps, float, 16)
TRUSTY_FMA_KERNEL(fma_f64_512, "avx512f", __m512d, _mm512_set1_pd, _mm512_fmadd_pd, _mm512_add_pd, _mm512_store_pd, double, 8)
TRUSTY_FMA_KERNEL(fma_f32_256, "avx2,fma", __m256, _mm256_set1_ps, _mm256_fmadd_ps, _mm256_add_ps, _mm256_store_ps, float, 8)
TRUSTY_FMA_KERNEL(fma_f64_256, "avx2,fma", __m256d, _mm256_set1_pd, _mm256_fmadd_pd, _mm256_add_pd, _mm256_store_pd, double, 4)
#undef TRUSTY_FMA_KERNEL

// One dependent chain of 8 FMAs per iteration: time per FMA is its latency.
__attribute__((target("avx2,fma"))) double fma_chain(int64_t iters) {
  __m256d x = _mm256_set1_pd(1.0);
  const __m256d a = _mm256_set1_pd(0.9999999), b = _mm256_set1_pd(1e-7);
  for (int64_t i = 0; i < iters; ++i) {
    _Pragma("GCC unroll 8") for (int j = 0; j < 8; ++j) x = _mm256_fmadd_pd(x, a, b);
  }
  alignas(32) double out[4];
  _mm256_store_pd(out, x);
  return out[0];
}
constexpr int kFmaChainPerIter = 8;

// 100 dependent register-to-register adds per iteration: one cycle each (an add of an
// immediate could be folded at rename on some cores; one of a register cannot).
double add_chain(int64_t iters) {
  uint64_t x = 0;
  const uint64_t one = 1;
  for (int64_t i = 0; i < iters; ++i) asm volatile(".rept 100\n\taddq %1, %0\n\t.endr" : "+r"(x) : "r"(one));
  return static_cast<double>(x);
}
constexpr int kAddsPerIter = 100;
#endif

double thread_cpu_seconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

// Iterations of f(iters) per second, summed over `threads` threads each running f at the
// same time (the caller runs one of them), best over repeats within `slice` seconds of wall
// time. Each thread's time is its own CPU time (CLOCK_THREAD_CPUTIME_ID): the rate of a core
// while it runs this thread, not lowered by other processes sharing the machine.
template <class F>
double best_iters_per_second(F f, int threads, double slice) {
  const auto start = Clock::now();
  int64_t iters = 64;
  double t = 0;
  for (;;) {  // calibrate on one thread: a run of at least slice / 8
    const double c0 = thread_cpu_seconds();
    g_sink = g_sink + f(iters);
    t = thread_cpu_seconds() - c0;
    if (t >= slice / 8 || iters > (int64_t{1} << 40)) break;
    iters *= 2;
  }
  double best = threads == 1 && t > 0 ? static_cast<double>(iters) / t : 0;
  do {
    std::atomic<bool> go{false};
    std::vector<double> cpu(static_cast<size_t>(threads), 0);
    auto run = [&](int i) {
      while (!go.load(std::memory_order_acquire)) {
      }
      const double c0 = thread_cpu_seconds();
      const double v = f(iters);
      cpu[static_cast<size_t>(i)] = thread_cpu_seconds() - c0;
      g_sink = g_sink + v;
    };
    std::vector<std::thread> pool;
    for (int i = 1; i < threads; ++i) pool.emplace_back(run, i);
    go.store(true, std::memory_order_release);
    run(0);
    for (auto& th : pool) th.join();
    double sum = 0;
    for (double c : cpu) sum += c > 0 ? static_cast<double>(iters) / c : 0;
    best = std::max(best, sum);
  } while (since(start) < slice);
  return best;
}

}  // namespace

double PeakProbe::peak(const std::string& dtype, int threads) const {
  double best = 0;
  for (const auto& r : rates)
    if (r.available && r.dtype == dtype && r.threads == threads) best = std::max(best, r.gflops);
  return best;
}

PeakProbe probe_peak(double seconds, int cores) {
  if (!(seconds > 0)) throw std::invalid_argument("probe_peak: seconds must be positive, got " + std::to_string(seconds));
  const auto t0 = Clock::now();
  PeakProbe p;
  const MachineInfo m = machine_info();
  p.cores = cores > 0 ? cores : m.cores;
  const double slice = seconds / 10;
#if defined(__x86_64__)
  p.clock_ghz = kAddsPerIter * best_iters_per_second(add_chain, 1, slice) / 1e9;
  if (m.avx2 && m.fma) p.fma_latency_cycles = p.clock_ghz * 1e9 / best_iters_per_second(fma_chain, 1, slice) / kFmaChainPerIter;
  struct Kernel {
    const char* dtype;
    int bits;
    bool available;
    double (*f)(int64_t);
  };
  const Kernel kernels[] = {{"f32", 512, m.avx512f, fma_f32_512},
                            {"f64", 512, m.avx512f, fma_f64_512},
                            {"f32", 256, m.avx2 && m.fma, fma_f32_256},
                            {"f64", 256, m.avx2 && m.fma, fma_f64_256}};
  std::vector<int> thread_counts{1};
  if (p.cores > 1) thread_counts.push_back(p.cores);
  for (const auto& k : kernels)
    for (int threads : thread_counts) {
      FmaRate r{.dtype = k.dtype, .bits = k.bits, .threads = threads, .available = k.available};
      if (k.available) {
        const int lanes = k.bits / (std::string(k.dtype) == "f32" ? 32 : 64);
        r.gflops = 2.0 * lanes * kChains * best_iters_per_second(k.f, threads, slice) / 1e9;
        r.flops_per_cycle = p.clock_ghz > 0 ? r.gflops / p.clock_ghz / threads : 0;
      }
      p.rates.push_back(r);
    }
#endif
  p.seconds = since(t0);
  return p;
}

GemmRate probe_sgemm(int64_t m, int64_t n, int64_t k, int threads, double seconds, const PeakProbe& peak) {
  if (m < 1 || n < 1 || k < 1 || threads < 1 || !(seconds > 0))
    throw std::invalid_argument("probe_sgemm: expected positive m, n, k, threads and seconds");
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)), c(static_cast<size_t>(m * n));
  for (size_t i = 0; i < a.size(); ++i) a[i] = static_cast<float>(i % 97) / 97.0f;
  for (size_t i = 0; i < b.size(); ++i) b[i] = static_cast<float>(i % 89) / 89.0f;
  // OpenBLAS single-threaded, as trusty runs it (kernels/blas.hpp); trusty's own split for
  // more threads. Both settings are restored.
  const int blas_before = openblas_get_num_threads();
  const int split_before = kernels::parallel_threads();
  openblas_set_num_threads(1);
  kernels::set_parallel_threads(threads);
  auto call = [&](int64_t calls) {
    for (int64_t i = 0; i < calls; ++i) {
      if (threads == 1) kernels::gemm_blas<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
      else kernels::gemm<float>(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    }
    return static_cast<double>(c[0]);
  };
  // One thread: its CPU time, as the FMA peak. Two: the products' rate in wall time (trusty's
  // worker thread is not this one), the best of repeated calls.
  double calls_per_second = 0;
  if (threads == 1) {
    calls_per_second = best_iters_per_second(call, 1, seconds);
  } else {
    const auto start = Clock::now();
    call(1);  // warm-up: starts the worker
    do {
      const auto t0 = Clock::now();
      call(4);
      calls_per_second = std::max(calls_per_second, 4 / since(t0));
    } while (since(start) < seconds);
  }
  openblas_set_num_threads(blas_before);
  kernels::set_parallel_threads(split_before);
  GemmRate g{.m = m, .n = n, .k = k, .threads = threads};
  g.gflops = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) * calls_per_second / 1e9;
  // The all-core peak as measured when the probe ran that many threads (cores may share FMA
  // units: SMT siblings), else the one-core peak times the threads.
  const double measured = peak.peak("f32", threads);
  const double p = measured > 0 ? measured : peak.peak("f32", 1) * threads;
  g.fraction_of_peak = p > 0 ? g.gflops / p : 0;
  return g;
}

nlohmann::json to_json(const PeakProbe& p) {
  nlohmann::json rates = nlohmann::json::array();
  for (const auto& r : p.rates) {
    nlohmann::json j = {{"dtype", r.dtype}, {"bits", r.bits}, {"threads", r.threads}, {"available", r.available}};
    if (r.available) {
      j["gflops"] = r.gflops;
      j["flops_per_cycle"] = r.flops_per_cycle;
    }
    rates.push_back(j);
  }
  return {{"seconds", p.seconds},
          {"clock_ghz", p.clock_ghz},
          {"fma_latency_cycles", p.fma_latency_cycles},
          {"cores", p.cores},
          {"peak_gflops", {{"f32_1", p.peak("f32", 1)}, {"f64_1", p.peak("f64", 1)},
                           {"f32_all", p.peak("f32", p.cores)}, {"f64_all", p.peak("f64", p.cores)}}},
          {"fma", rates}};
}

nlohmann::json to_json(const GemmRate& g) {
  return {{"shape", {g.m, g.n, g.k}}, {"threads", g.threads}, {"gflops", g.gflops}, {"fraction_of_peak", g.fraction_of_peak}};
}

}  // namespace trusty::core
