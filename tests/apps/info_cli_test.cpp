// `trusty info`: the text and JSON descriptions, the brief --probe, the narrow-BLAS-kernel
// warning under OPENBLAS_CORETYPE=Haswell, and the machine object in results.json.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "cli_util.hpp"

namespace {
using trusty::test::run_trusty;

// The JSON printed on stdout, without the "trusty: warning:" lines stderr adds to the
// captured output.
nlohmann::json json_of(const std::string& out) {
  std::istringstream in(out);
  std::string text;
  for (std::string line; std::getline(in, line);)
    if (line.rfind("trusty: warning:", 0) != 0) text += line + "\n";
  return nlohmann::json::parse(text);
}

bool cpu_has_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f");
}
}  // namespace

TEST(InfoCli, PrintsTheMachine) {
  const auto r = run_trusty({"info"});
  ASSERT_EQ(r.code, 0) << r.out;
  for (const char* s : {"CPU ", "SIMD ", "BLAS ", "OpenBLAS", "Environment ", "MPI ", "Data cache "})
    EXPECT_NE(r.out.find(s), std::string::npos) << s << "\n" << r.out;
  EXPECT_EQ(r.out.find("FMA peak"), std::string::npos) << "no probe without --probe";
}

TEST(InfoCli, JsonHasTheExpectedKeys) {
  const auto r = run_trusty({"info", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = json_of(r.out);
  EXPECT_EQ(j["command"], "info");
  for (const char* key : {"cpu", "simd_bits", "build_simd_bits", "cores", "blas", "blas_config", "blas_core", "blas_core_bits",
                          "blas_threads", "trusty_threads", "env", "warnings"})
    EXPECT_TRUE(j["machine"].contains(key)) << key;
  EXPECT_GE(j["machine"]["cores"].get<int>(), 1);
  EXPECT_TRUE(j["mpi"]["compiled"].is_boolean());
  EXPECT_EQ(j["mpi"]["ranks"], 1);
  EXPECT_TRUE(j["data_cache"]["path"].is_string());
  EXPECT_TRUE(j["data_cache"]["entries"].is_array());
  EXPECT_FALSE(j.contains("probe"));
}

TEST(InfoCli, DataCacheListsItsContents) {
  const auto d = trusty::test::fresh_dir("info_cache");
  std::filesystem::create_directories(d + "/cache/mnist");
  trusty::test::write_text(d + "/cache/mnist", "mnist.npz", std::string(1000, 'x'));
  const auto r = run_trusty({"info", "--json"}, {"TRUSTY_CACHE=" + d + "/cache"});
  ASSERT_EQ(r.code, 0) << r.out;
  const auto c = json_of(r.out)["data_cache"];
  EXPECT_EQ(c["path"], d + "/cache");
  ASSERT_EQ(c["entries"].size(), 1u) << c.dump();
  EXPECT_EQ(c["entries"][0]["name"], "mnist");
  EXPECT_EQ(c["entries"][0]["bytes"], 1000);
}

TEST(InfoCli, BriefProbe) {
  const auto r = run_trusty({"info", "--probe", "--seconds", "0.4", "--json"});
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = json_of(r.out);
  ASSERT_TRUE(j.contains("probe")) << r.out;
  EXPECT_GT(j["probe"]["clock_ghz"].get<double>(), 0);
  EXPECT_GT(j["probe"]["peak_gflops"]["f32_1"].get<double>(), 0);
  // Brief: within ten times the time asked for (the slices end on wall time, their
  // calibration on CPU time, which a loaded machine stretches).
  EXPECT_LT(j["probe"]["seconds"].get<double>(), 4.0);
  ASSERT_GE(j["sgemm"].size(), 1u);
  EXPECT_GT(j["sgemm"][0]["gflops"].get<double>(), 0);
  EXPECT_GT(j["sgemm"][0]["fraction_of_peak"].get<double>(), 0);
  const auto t = run_trusty({"info", "--probe", "--seconds", "0.2"});
  ASSERT_EQ(t.code, 0) << t.out;
  EXPECT_NE(t.out.find("FMA peak"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("sgemm"), std::string::npos) << t.out;
  EXPECT_EQ(run_trusty({"info", "--probe", "--seconds", "0"}).code, 2);
}

TEST(InfoCli, WarnsAboutNarrowBlasKernelsFromTheEnvironment) {
  // OPENBLAS_CORETYPE=Haswell makes OpenBLAS run its AVX2 kernels on any x86 CPU with AVX2.
  const auto r = run_trusty({"info", "--json"}, {"OPENBLAS_CORETYPE=Haswell", "OPENBLAS_L2_SIZE=512"});
  ASSERT_EQ(r.code, 0) << r.out;
  const auto j = json_of(r.out);
  const bool narrow = j["machine"]["blas_core"] == "Haswell" && cpu_has_avx512();
  const bool warned = r.out.find("trusty: warning: OPENBLAS_CORETYPE=Haswell is set in the environment") != std::string::npos;
  EXPECT_EQ(warned, narrow) << r.out;
  EXPECT_EQ(j["machine"]["warnings"].size() > 0, narrow) << r.out;
  if (narrow) {
    EXPECT_NE(r.out.find("unset OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE"), std::string::npos) << r.out;
  }
  // Without the overrides (a bare name unsets it in run_trusty's putenv) no warning blames
  // the environment; OpenBLAS picks the kernels for this CPU itself.
  const auto u = run_trusty({"info", "--json"}, {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"});
  ASSERT_EQ(u.code, 0) << u.out;
  EXPECT_EQ(u.out.find("OPENBLAS_CORETYPE=Haswell is set"), std::string::npos) << u.out;
  EXPECT_FALSE(json_of(u.out)["machine"]["env"].contains("OPENBLAS_CORETYPE"));
  std::printf("[ figures  ] OpenBLAS kernels: %s with OPENBLAS_CORETYPE=Haswell, %s without\n",
              j["machine"]["blas_core"].get<std::string>().c_str(), json_of(u.out)["machine"]["blas_core"].get<std::string>().c_str());
}
