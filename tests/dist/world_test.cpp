// The world of a process not started by an MPI launcher (how ctest runs this suite): size 1,
// rank 0, no MPI_Init, whether or not trusty was built with MPI. The collectives keep their
// argument checks, so code that is wrong under mpirun is wrong here too. The multi-rank
// behaviour is checked by dist_mpi_check under mpirun (tests/dist/mpi_check.cpp).
#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/dist/reduce.hpp"
#include "trusty/dist/world.hpp"

using namespace trusty;

namespace {
bool under_launcher() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"})
    if (std::getenv(name) != nullptr) return true;
  return false;
}
}  // namespace

TEST(DistWorld, PlainProcessIsRankZeroOfOneWithoutMpiInit) {
  if (under_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  const dist::World& w = dist::world();
  EXPECT_EQ(w.rank(), 0);
  EXPECT_EQ(w.size(), 1);
  EXPECT_TRUE(w.is_root());
  EXPECT_FALSE(w.is_mpi());
  EXPECT_EQ(&w, &dist::world());
  w.barrier();
}

TEST(DistWorld, BroadcastKeepsDataAndChecksRoot) {
  if (under_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  const dist::World& w = dist::world();
  std::vector<double> d = {1.0, 2.0};
  std::vector<int64_t> k = {5};
  std::vector<std::byte> b = {std::byte(3)};
  w.broadcast(d);
  w.broadcast(k);
  w.broadcast(b);
  EXPECT_EQ(d, (std::vector<double>{1.0, 2.0}));
  EXPECT_EQ(k[0], 5);
  EXPECT_EQ(b[0], std::byte(3));
  EXPECT_THROW(w.broadcast(d, 1), std::invalid_argument);
  EXPECT_THROW(w.broadcast(k, -1), std::invalid_argument);
}

TEST(DistGatherByIndex, OneProcessReturnsItsRows) {
  if (under_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  const std::vector<double> rows = {1, 2, 3, 4, 5, 6};
  EXPECT_EQ(dist::gather_by_index(rows, 2, {0, 3}, 3), rows);
  EXPECT_TRUE(dist::gather_by_index({}, 2, {0, 0}, 0).empty());
  EXPECT_EQ(dist::sum_in_index_order(rows, 2, {0, 3}, 3), (std::vector<double>{9, 12}));
}

TEST(DistGatherByIndex, RefusesInconsistentArguments) {
  if (under_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  const std::vector<double> rows = {1, 2, 3, 4, 5, 6};
  try {
    dist::gather_by_index(rows, 2, {0, 2}, 2);  // 6 values for 2 rows of 2
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("6 local values for rows [0, 2)"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dist::gather_by_index(rows, 2, {1, 4}, 4), std::invalid_argument);  // one rank must hold [0, n)
  EXPECT_THROW(dist::gather_by_index(rows, 2, {0, 3}, 4), std::invalid_argument);
  EXPECT_THROW(dist::gather_by_index(rows, -2, {0, 3}, 3), std::invalid_argument);
}

TEST(DistColumnSums, AddsRowsInIndexOrder) {
  // 1e16 + 1 - 1e16 is 0 in index order (1 is lost) but 1 in any order that adds -1e16 first.
  const std::vector<double> rows = {1e16, 1.0, -1e16};
  EXPECT_EQ(dist::column_sums(rows, 1)[0], 0.0);
  const std::vector<double> two = {1, 10, 2, 20, 3, 30};
  EXPECT_EQ(dist::column_sums(two, 2), (std::vector<double>{6, 60}));
  EXPECT_EQ(dist::column_sums({}, 3), (std::vector<double>{0, 0, 0}));
  EXPECT_THROW(dist::column_sums(two, 4), std::invalid_argument);
  EXPECT_THROW(dist::column_sums(two, 0), std::invalid_argument);
}

TEST(DistSumInIndexOrder, MatchesColumnSumsOfSeededRows) {
  if (under_launcher()) GTEST_SKIP() << "running under an MPI launcher";
  std::vector<double> rows;
  for (int64_t i = 0; i < 257; ++i) {
    core::Rng rng(7, static_cast<uint64_t>(i));
    for (int j = 0; j < 3; ++j) rows.push_back(rng.normal() * (j == 2 ? 1e8 : 1.0));
  }
  const std::vector<double> want = dist::column_sums(rows, 3);
  EXPECT_EQ(dist::sum_in_index_order(rows, 3, dist::split(257, 0, 1), 257), want);
}

TEST(DistCompiledWithMpi, ReportsTheBuild) {
  // Informational: both answers are valid builds; the world above behaves the same.
  RecordProperty("compiled_with_mpi", dist::compiled_with_mpi() ? "yes" : "no");
  SUCCEED();
}
