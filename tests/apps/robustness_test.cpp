// Inputs at the edges (zero rows, odd shapes) give a result or one clear message, never a
// signal.
#include <gtest/gtest.h>

#include "cli_util.hpp"
#include "trusty/io/npy.hpp"

using trusty::test::fresh_dir;
using trusty::test::run_trusty;
using trusty::test::write_text;

namespace {
// A small trained XOR classifier to predict with.
std::string trained_run(const std::string& d) {
  const auto cfg = write_text(d, "xor.toml", "[data]\nname = \"xor\"\n[model]\nhidden = [4]\n[train]\nepochs = 2\n");
  auto r = run_trusty({"train", cfg, "--out", d + "/run", "--quiet"});
  EXPECT_EQ(r.code, 0) << r.out;
  return d + "/run";
}
}  // namespace

TEST(Robustness, PredictOnZeroRowsWritesEmptyPredictions) {
  const auto d = fresh_dir("robust_zero");
  const auto run = trained_run(d);
  // (0, 2) and (0, 2, 1): the second used to divide by the zero row count (SIGFPE).
  for (auto shape : {std::vector<int64_t>{0, 2}, std::vector<int64_t>{0, 2, 1}}) {
    trusty::io::write_npy(d + "/x.npy", trusty::io::NpyArray::from<float>(std::vector<float>{}, shape));
    auto r = run_trusty({"predict", run, "--input", d + "/x.npy", "--output", d + "/p.npy"});
    ASSERT_EQ(r.code, 0) << r.out;
    EXPECT_EQ(trusty::io::read_npy(d + "/p.npy").shape, (std::vector<int64_t>{0, 2}));
    EXPECT_EQ(trusty::io::read_npy(d + "/p.labels.npy").shape, (std::vector<int64_t>{0}));
  }
}

TEST(Robustness, PredictOnAScalarArrayNamesTheFile) {
  const auto d = fresh_dir("robust_scalar");
  const auto run = trained_run(d);
  trusty::io::write_npy(d + "/x.npy", trusty::io::NpyArray::from<float>(std::vector<float>{1}, {}));
  auto r = run_trusty({"predict", run, "--input", d + "/x.npy", "--output", d + "/p.npy"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find(d + "/x.npy: a 0-dimensional array"), std::string::npos) << r.out;
}
