// What a timing depends on: the CPU (model, widest FMA vector), the cores this process may
// use, the BLAS library (version, the kernels it chose, its threads) and the environment
// variables that override its choice. `trusty info` prints it; every results.json carries
// short_json() so that figures can be compared across machines (docs/benchmarks.md).
#pragma once
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace trusty::core {

struct MachineInfo {
  std::string cpu_model;     // /proc/cpuinfo "model name"
  bool avx2 = false, fma = false, avx512f = false;  // what the CPU and OS support (cpuid)
  int simd_bits = 128;       // widest FMA vector the CPU runs: 512, 256 or 128
  int build_simd_bits = 128; // widest vector trusty was compiled for (-march)
  int cores = 1;             // CPUs this process may run on (its affinity mask)
  std::string blas;          // "OpenBLAS 0.3.21"
  std::string blas_config;   // openblas_get_config()
  std::string blas_core;     // the kernels OpenBLAS chose (openblas_get_corename())
  int blas_core_bits = 0;    // their vector width (0: unknown core name)
  int blas_threads = 1;      // OpenBLAS's own threads (trusty runs it on one, see kernels/blas.hpp)
  int trusty_threads = 1;    // threads trusty's large products are split over
  std::map<std::string, std::string> env;  // OPENBLAS_*, OMP_NUM_THREADS, GOTO_NUM_THREADS as set
  std::vector<std::string> warnings;
};

// Collects the above for this process (cheap: reads /proc/cpuinfo and asks OpenBLAS).
MachineInfo machine_info();

// Every field, and the short form written into results.json (cpu, simd, cores, blas,
// blas_core, threads, the environment overrides, warnings).
nlohmann::json to_json(const MachineInfo& m);
nlohmann::json short_json(const MachineInfo& m);

// Vector width of an OpenBLAS core name's kernels: 512 (SkylakeX, Cooperlake,
// SapphireRapids), 256 (Haswell, Zen, Sandybridge and the AVX2 AMD/Intel cores), 128 for
// the SSE cores, 0 for a name not known here.
int blas_core_bits(const std::string& core_name);

// The narrow-kernel check: a warning when the CPU runs 512-bit FMAs but the BLAS runs
// narrower kernels (a known core name of under 512 bits), saying why (the environment
// override, when one is set) and what to do. A pure function of its arguments so that
// tests can feed it cases; std::nullopt when nothing is wrong or the core is unknown.
std::optional<std::string> narrow_blas_warning(bool cpu_avx512, const std::string& blas_core,
                                               const std::map<std::string, std::string>& env);

}  // namespace trusty::core
