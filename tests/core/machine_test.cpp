// core/machine.hpp and core/peak.hpp: the narrow-BLAS-kernel check on fed cases, the machine
// description of this process, and a brief FMA peak probe checked only for what must hold on
// any x86 core (timing-independent bounds, see each test).
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "trusty/core/machine.hpp"
#include "trusty/core/peak.hpp"
#include "sanitizers.hpp"

using namespace trusty::core;

TEST(Machine, NarrowBlasWarningOnAnAvx512CpuWithAnAvx2Core) {
  const std::map<std::string, std::string> env = {{"OPENBLAS_CORETYPE", "Haswell"}, {"OPENBLAS_L2_SIZE", "512"}};
  const auto w = narrow_blas_warning(true, "Haswell", env);
  ASSERT_TRUE(w.has_value());
  // Why (the environment override), what it costs, and what to unset.
  EXPECT_NE(w->find("OPENBLAS_CORETYPE=Haswell is set"), std::string::npos) << *w;
  EXPECT_NE(w->find("256-bit"), std::string::npos) << *w;
  EXPECT_NE(w->find("halves"), std::string::npos) << *w;
  EXPECT_NE(w->find("unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE"), std::string::npos) << *w;
  // Other narrow cores, and no override: the warning says OpenBLAS chose them itself.
  for (const char* core : {"Zen", "Sandybridge", "Nehalem", "haswell"}) {
    const auto v = narrow_blas_warning(true, core, {});
    ASSERT_TRUE(v.has_value()) << core;
    EXPECT_EQ(v->find("OPENBLAS_CORETYPE"), std::string::npos) << *v;
    EXPECT_NE(v->find("chose them itself"), std::string::npos) << *v;
  }
}

TEST(Machine, NoNarrowBlasWarningWhenTheKernelsMatchTheCpu) {
  const std::map<std::string, std::string> env = {{"OPENBLAS_CORETYPE", "SkylakeX"}};
  for (const char* core : {"SkylakeX", "Cooperlake", "SapphireRapids"}) {
    EXPECT_FALSE(narrow_blas_warning(true, core, env).has_value()) << core;
    EXPECT_FALSE(narrow_blas_warning(true, core, {}).has_value()) << core;
  }
  // An AVX2 CPU running Haswell kernels runs the widest it has.
  EXPECT_FALSE(narrow_blas_warning(false, "Haswell", {{"OPENBLAS_CORETYPE", "Haswell"}}).has_value());
  EXPECT_FALSE(narrow_blas_warning(false, "Zen", {}).has_value());
  // A core name not known here (another BLAS, a newer OpenBLAS): no guess.
  EXPECT_FALSE(narrow_blas_warning(true, "", {}).has_value());
  EXPECT_FALSE(narrow_blas_warning(true, "NewCore9000", {}).has_value());
}

TEST(Machine, CoreWidths) {
  EXPECT_EQ(blas_core_bits("SkylakeX"), 512);
  EXPECT_EQ(blas_core_bits("COOPERLAKE"), 512);
  EXPECT_EQ(blas_core_bits("Haswell"), 256);
  EXPECT_EQ(blas_core_bits("Zen"), 256);
  EXPECT_EQ(blas_core_bits("Core2"), 128);
  EXPECT_EQ(blas_core_bits("Unknown"), 0);
}

TEST(Machine, DescribesThisProcess) {
  const auto m = machine_info();
  EXPECT_FALSE(m.cpu_model.empty());
  EXPECT_GE(m.cores, 1);
  EXPECT_TRUE(m.simd_bits == 128 || m.simd_bits == 256 || m.simd_bits == 512);
  EXPECT_EQ(m.simd_bits == 512, m.avx512f);
  EXPECT_EQ(m.blas.rfind("OpenBLAS ", 0), 0u) << m.blas;
  EXPECT_FALSE(m.blas_core.empty());
  EXPECT_GE(m.blas_threads, 1);
  // The warning list is the check applied to this process's own CPU, core and environment.
  EXPECT_EQ(narrow_blas_warning(m.avx512f, m.blas_core, m.env).has_value(),
            !m.warnings.empty() && m.warnings[0].find("OpenBLAS runs its") != std::string::npos);
  const auto j = short_json(m);
  for (const char* key : {"cpu", "simd_bits", "cores", "blas", "blas_core", "blas_threads", "trusty_threads", "env", "warnings"})
    EXPECT_TRUE(j.contains(key)) << key;
  std::printf("[ figures  ] %s, %d-bit FMA, %d cores; %s kernels %s (%d-bit), %d OpenBLAS threads\n", m.cpu_model.c_str(),
              m.simd_bits, m.cores, m.blas.c_str(), m.blas_core.c_str(), m.blas_core_bits, m.blas_threads);
}

TEST(PeakProbe, RatesArePositiveAndPhysicallyPossible) {
  const auto m = machine_info();
  // Other processes on the machine can only lower a measured rate (and so raise or lower the
  // ratios below): a check that fails from load is retried, up to three probes, while a wrong
  // kernel (one the compiler shortened, f64 lanes counted as f32) fails every probe.
  PeakProbe p;
  bool plausible = false;
  for (int attempt = 0; attempt < 3 && !plausible; ++attempt) {
    p = probe_peak(1.0);
    // The clock from a chain of one-cycle adds: x86 cores run in [0.5, 7] GHz. A dependent
    // FMA takes 3-6 cycles on every core with FMA3. f64 vectors hold half the lanes of f32
    // ones and x86 cores issue f32 and f64 FMAs at the same rate: f64 runs at half the f32
    // rate, 0.75 leaves a 50 % margin.
    plausible = p.clock_ghz > 0.5 && p.clock_ghz < 7.0 &&
                (!(m.avx2 && m.fma) || (p.fma_latency_cycles > 2.0 && p.fma_latency_cycles < 8.0 &&
                                        p.peak("f64", 1) < 0.75 * p.peak("f32", 1)));
  }
  EXPECT_TRUE(plausible) << to_json(p).dump(2);
  int ran = 0;
  for (const auto& r : p.rates) {
    EXPECT_EQ(r.available, r.bits == 512 ? m.avx512f : m.avx2 && m.fma);
    if (!r.available) continue;
    ++ran;
    const int lanes = r.bits / (r.dtype == "f32" ? 32 : 64);
    // Whatever the load: no x86 core issues more than 4 FMA instructions per cycle (current
    // ones: 2) nor runs above 7 GHz, so a thread cannot exceed 4 × lanes × 2 flops × 7 GHz;
    // a kernel the compiler shortened would.
    EXPECT_GT(r.gflops, 0) << r.dtype << " " << r.bits << " " << r.threads;
    EXPECT_LT(r.gflops / r.threads, 4.0 * lanes * 2 * 7.0) << r.dtype << " " << r.bits << " " << r.threads;
    std::printf("[ figures  ] %s %d-bit on %d thread(s): %.1f GFLOP/s, %.1f flops/cycle/core\n", r.dtype.c_str(), r.bits, r.threads,
                r.gflops, r.flops_per_cycle);
  }
  EXPECT_EQ(ran > 0, m.avx2 && m.fma);
  std::printf("[ figures  ] clock %.2f GHz, FMA latency %.1f cycles, f32 peak %.1f GFLOP/s/core, probe %.2f s\n", p.clock_ghz,
              p.fma_latency_cycles, p.peak("f32", 1), p.seconds);
}

TEST(PeakProbe, SgemmRateIsAFractionOfThePeak) {
  if (TRUSTY_UNDER_ASAN) GTEST_SKIP() << "timings are meaningless under AddressSanitizer";
  const auto p = probe_peak(0.2);
  const auto g = probe_sgemm(128, 512, 784, 1, 0.1, p);
  EXPECT_GT(g.gflops, 0);
  // A GEMM cannot beat the FMA peak it is made of; 1.3 allows for the two being timed apart
  // (the clock may differ between the runs).
  if (p.peak("f32", 1) > 0) {
    EXPECT_LT(g.fraction_of_peak, 1.3);
  }
  std::printf("[ figures  ] sgemm 128x784 . 784x512 on one thread: %.1f GFLOP/s, %.0f %% of the f32 peak\n", g.gflops,
              100 * g.fraction_of_peak);
  EXPECT_THROW(probe_peak(0), std::invalid_argument);
}
