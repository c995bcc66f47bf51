// `trusty info [--probe] [--seconds S] [--json]`: what to know before trusting a timing —
// the CPU and its widest FMA vector, the cores, the BLAS (version, the kernels it chose, its
// threads), the environment overrides, MPI, the data cache; with --probe the measured FMA
// peak (core/peak.hpp) and the sgemm rate reached as a fraction of it. Warnings (BLAS
// kernels narrower than the CPU's) go to stderr. docs/benchmarks.md explains the figures.
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>

#include "commands.hpp"
#include "trusty/core/machine.hpp"
#include "trusty/core/peak.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/io/dataset.hpp"

namespace trusty::apps {

namespace fs = std::filesystem;

namespace {

// The sgemm shape of a 784-512 layer on a batch of 128 (MNIST MLPs, docs/benchmarks.md).
constexpr int64_t kGemmM = 128, kGemmK = 784, kGemmN = 512;

nlohmann::json data_cache() {
  const std::string dir = io::cache_dir();
  nlohmann::json entries = nlohmann::json::array();
  std::error_code ec;
  if (fs::is_directory(dir, ec)) {
    for (const auto& e : fs::directory_iterator(dir, ec)) {
      uintmax_t bytes = 0;
      if (e.is_directory(ec)) {
        for (const auto& f : fs::recursive_directory_iterator(e.path(), ec))
          if (f.is_regular_file(ec)) bytes += f.file_size(ec);
      } else if (e.is_regular_file(ec)) {
        bytes = e.file_size(ec);
      }
      entries.push_back({{"name", e.path().filename().string()}, {"bytes", bytes}});
    }
  }
  std::sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
  return {{"path", dir}, {"exists", fs::is_directory(dir, ec)}, {"entries", entries}};
}

std::string megabytes(uintmax_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f MB", static_cast<double>(bytes) / 1e6);
  return buf;
}

void print_text(const nlohmann::json& j) {
  const auto& m = j["machine"];
  std::printf("CPU          %s, %d cores available\n", m["cpu"].get<std::string>().c_str(), m["cores"].get<int>());
  std::printf("SIMD         %d-bit FMA%s; trusty compiled for %d-bit vectors\n", m["simd_bits"].get<int>(),
              m["avx512f"].get<bool>() ? " (AVX-512)" : m["avx2"].get<bool>() ? " (AVX2)" : "", m["build_simd_bits"].get<int>());
  const int core_bits = m["blas_core_bits"].get<int>();
  std::printf("BLAS         %s, kernels %s (%s); OpenBLAS's own threads %d (trusty runs it on 1 and splits large products itself over a run's threads)\n",
              m["blas"].get<std::string>().c_str(), m["blas_core"].get<std::string>().c_str(),
              core_bits ? (std::to_string(core_bits) + "-bit").c_str() : "width unknown", m["blas_threads"].get<int>());
  std::printf("             config: %s\n", m["blas_config"].get<std::string>().c_str());
  std::string env;
  for (const auto& [k, v] : m["env"].items()) env += (env.empty() ? "" : ", ") + k + "=" + v.get<std::string>();
  std::printf("Environment  %s\n", env.empty() ? "no OPENBLAS_*, GOTO_* or OMP_NUM_THREADS overrides" : env.c_str());
  std::printf("MPI          %s\n", j["mpi"]["compiled"].get<bool>()
                                       ? (j["mpi"]["running"].get<bool>() ? ("running, " + std::to_string(j["mpi"]["ranks"].get<int>()) + " ranks").c_str()
                                                                          : "available (run under mpirun -np N; docs/mpi.md)")
                                       : "not compiled in (serial build)");
  const auto& c = j["data_cache"];
  std::string listing;
  for (const auto& e : c["entries"])
    listing += (listing.empty() ? "" : ", ") + e["name"].get<std::string>() + " (" + megabytes(e["bytes"].get<uintmax_t>()) + ")";
  std::printf("Data cache   %s: %s\n", c["path"].get<std::string>().c_str(),
              !c["exists"].get<bool>() ? "absent (trusty data fetch NAME fills it)" : listing.empty() ? "empty" : listing.c_str());
  if (!j.contains("probe")) return;
  const auto& p = j["probe"];
  std::printf("Probe        %.2f s; clock %.2f GHz (dependent integer adds), FMA latency %.1f cycles\n", p["seconds"].get<double>(),
              p["clock_ghz"].get<double>(), p["fma_latency_cycles"].get<double>());
  std::printf("FMA peak     GFLOP/s (flops/cycle/core)\n");
  for (const auto& r : p["fma"]) {
    if (!r["available"].get<bool>()) {
      std::printf("             %s %d-bit, %d thread%s: unavailable on this CPU\n", r["dtype"].get<std::string>().c_str(),
                  r["bits"].get<int>(), r["threads"].get<int>(), r["threads"].get<int>() == 1 ? "" : "s");
      continue;
    }
    std::printf("             %s %d-bit, %d thread%s: %7.1f (%.1f)\n", r["dtype"].get<std::string>().c_str(), r["bits"].get<int>(),
                r["threads"].get<int>(), r["threads"].get<int>() == 1 ? " " : "s", r["gflops"].get<double>(),
                r["flops_per_cycle"].get<double>());
  }
  for (const auto& g : j["sgemm"])
    std::printf("sgemm        %ldx%ld . %ldx%ld on %d thread%s: %.1f GFLOP/s, %.0f %% of the f32 FMA peak\n",
                static_cast<long>(g["shape"][0].get<int64_t>()), static_cast<long>(g["shape"][2].get<int64_t>()),
                static_cast<long>(g["shape"][2].get<int64_t>()), static_cast<long>(g["shape"][1].get<int64_t>()),
                g["threads"].get<int>(), g["threads"].get<int>() == 1 ? "" : "s", g["gflops"].get<double>(),
                100 * g["fraction_of_peak"].get<double>());
}

}  // namespace

void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "The machine, BLAS, MPI and data cache behind a timing; --probe measures the FMA peak");
  static bool probe = false, json = false;
  static double seconds = 1.5;
  cmd->add_flag("--probe", probe, "Measure the FMA peak (f32/f64, 512/256-bit, 1 and all cores) and the sgemm rate reached");
  cmd->add_option("--seconds", seconds, "Time the probe may take (default 1.5)");
  cmd->add_flag("--json", json, "Print JSON instead of text");
  cmd->callback([] {
    if (!(seconds > 0 && seconds <= 3600))
      throw std::invalid_argument("--seconds: expected a time in (0, 3600] seconds, got " + std::to_string(seconds));
    const auto m = core::machine_info();
    nlohmann::json j;
    j["command"] = "info";
    j["machine"] = core::to_json(m);
    const auto& w = dist::world();
    j["mpi"] = {{"compiled", dist::compiled_with_mpi()}, {"running", w.is_mpi()}, {"ranks", w.size()}};
    j["data_cache"] = data_cache();
    if (probe) {
      // Three quarters of the time for the FMA peak, an eighth for each sgemm.
      const auto p = core::probe_peak(seconds * 0.75);
      j["probe"] = core::to_json(p);
      j["sgemm"] = nlohmann::json::array();
      j["sgemm"].push_back(core::to_json(core::probe_sgemm(kGemmM, kGemmN, kGemmK, 1, seconds / 8, p)));
      if (m.cores > 1) j["sgemm"].push_back(core::to_json(core::probe_sgemm(kGemmM, kGemmN, kGemmK, 2, seconds / 8, p)));
    }
    if (json) std::printf("%s\n", j.dump(2).c_str());
    else print_text(j);
    std::fflush(stdout);  // the warnings after the description, also when both go to one pipe
    for (const auto& warning : m.warnings) std::fprintf(stderr, "trusty: warning: %s\n", warning.c_str());
  });
}

}  // namespace trusty::apps
