#include "trusty/core/machine.hpp"

#include <cblas.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <thread>

#include "trusty/core/kernels/parallel.hpp"

extern char** environ;

namespace trusty::core {

namespace {

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

std::string cpu_model_name() {
  std::ifstream f("/proc/cpuinfo");
  for (std::string line; std::getline(f, line);) {
    if (line.rfind("model name", 0) != 0) continue;
    const auto colon = line.find(':');
    if (colon == std::string::npos) break;
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(" \t"));
    return v;
  }
  return "unknown";
}

int available_cores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (::sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

std::map<std::string, std::string> blas_environment() {
  std::map<std::string, std::string> env;
  for (char** e = environ; e && *e; ++e) {
    const std::string kv = *e;
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string k = kv.substr(0, eq);
    if (k.rfind("OPENBLAS_", 0) == 0 || k.rfind("GOTO_", 0) == 0 || k == "OMP_NUM_THREADS")
      env[k] = kv.substr(eq + 1);
  }
  return env;
}

std::string blas_version(const std::string& config) {
  // openblas_get_config() starts "OpenBLAS 0.3.21 DYNAMIC_ARCH ...".
  const auto sp = config.find(' ', config.find(' ') + 1);
  return config.substr(0, sp);
}

}  // namespace

int blas_core_bits(const std::string& core_name) {
  const std::string c = lower(core_name);
  for (const char* n : {"skylakex", "cooperlake", "sapphirerapids"})
    if (c == n) return 512;
  // Sandybridge and the Bulldozer family run AVX without (or with FMA4) FMA3; all 256-bit.
  for (const char* n : {"haswell", "zen", "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"})
    if (c == n) return 256;
  for (const char* n : {"katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
                        "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat"})
    if (c == n) return 128;
  return 0;
}

std::optional<std::string> narrow_blas_warning(bool cpu_avx512, const std::string& blas_core,
                                               const std::map<std::string, std::string>& env) {
  const int bits = blas_core_bits(blas_core);
  if (!cpu_avx512 || bits == 0 || bits >= 512) return std::nullopt;
  const std::string what = "OpenBLAS runs its " + blas_core + " kernels (" + std::to_string(bits) +
                           "-bit vectors) on a CPU with 512-bit FMA units: on CPUs whose 512-bit units are full width "
                           "each FMA instruction does half the work it could, which halves the GEMM rate and so roughly "
                           "halves the speed of GEMM-bound training (`trusty info --probe` measures both widths)";
  std::string why, fix;
  if (auto it = env.find("OPENBLAS_CORETYPE"); it != env.end()) {
    why = "OPENBLAS_CORETYPE=" + it->second + " is set in the environment: ";
    fix = "; unset OPENBLAS_CORETYPE";
    if (env.count("OPENBLAS_L2_SIZE")) fix += " and OPENBLAS_L2_SIZE (set with it)";
    fix += " to let OpenBLAS choose its AVX-512 kernels";
  } else {
    fix = "; this OpenBLAS chose them itself (it is older than the CPU or built without DYNAMIC_ARCH): "
          "a newer OpenBLAS would run 512-bit kernels";
  }
  return why + what + fix;
}

MachineInfo machine_info() {
  MachineInfo m;
  m.cpu_model = cpu_model_name();
  __builtin_cpu_init();
  m.avx2 = __builtin_cpu_supports("avx2");
  m.fma = __builtin_cpu_supports("fma");
  m.avx512f = __builtin_cpu_supports("avx512f");
  m.simd_bits = m.avx512f ? 512 : (m.avx2 || m.fma) ? 256 : 128;
#if defined(__AVX512F__)
  m.build_simd_bits = 512;
#elif defined(__AVX2__) || defined(__AVX__)
  m.build_simd_bits = 256;
#endif
  m.cores = available_cores();
  m.blas_config = openblas_get_config();
  m.blas = blas_version(m.blas_config);
  m.blas_core = openblas_get_corename();
  m.blas_core_bits = blas_core_bits(m.blas_core);
  m.blas_threads = openblas_get_num_threads();
  m.trusty_threads = kernels::parallel_threads();
  m.env = blas_environment();
  if (auto w = narrow_blas_warning(m.avx512f, m.blas_core, m.env)) m.warnings.push_back(*w);
  if (m.build_simd_bits > m.simd_bits)
    m.warnings.push_back("trusty was compiled for " + std::to_string(m.build_simd_bits) + "-bit vectors (-march) but this CPU runs " +
                         std::to_string(m.simd_bits) + "-bit ones: rebuild it on this machine");
  return m;
}

nlohmann::json to_json(const MachineInfo& m) {
  return {{"cpu", m.cpu_model},
          {"avx2", m.avx2},
          {"fma", m.fma},
          {"avx512f", m.avx512f},
          {"simd_bits", m.simd_bits},
          {"build_simd_bits", m.build_simd_bits},
          {"cores", m.cores},
          {"blas", m.blas},
          {"blas_config", m.blas_config},
          {"blas_core", m.blas_core},
          {"blas_core_bits", m.blas_core_bits},
          {"blas_threads", m.blas_threads},
          {"trusty_threads", m.trusty_threads},
          {"env", m.env},
          {"warnings", m.warnings}};
}

nlohmann::json short_json(const MachineInfo& m) {
  return {{"cpu", m.cpu_model},         {"simd_bits", m.simd_bits},       {"cores", m.cores},
          {"blas", m.blas},             {"blas_core", m.blas_core},       {"blas_core_bits", m.blas_core_bits},
          {"blas_threads", m.blas_threads}, {"trusty_threads", m.trusty_threads}, {"env", m.env},
          {"warnings", m.warnings}};
}

}  // namespace trusty::core
