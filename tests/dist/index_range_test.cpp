// split() cuts [0, n) into contiguous blocks in rank order that tile it exactly, balanced to
// within one index, for any n >= 0 and size >= 1 (size > n included); tiling_error()
// accepts exactly the tilings and names the first offending rank otherwise.
#include <gtest/gtest.h>

#include <vector>

#include "trusty/dist/index_range.hpp"

using namespace trusty::dist;

namespace {
std::vector<IndexRange> all_blocks(int64_t n, int size) {
  std::vector<IndexRange> blocks;
  for (int r = 0; r < size; ++r) blocks.push_back(split(n, r, size));
  return blocks;
}
}  // namespace

TEST(DistSplit, TilesContiguouslyAndBalanced) {
  for (int64_t n : {0, 1, 2, 3, 7, 10, 1000, 1001}) {
    for (int size : {1, 2, 3, 4, 7, 16}) {
      const std::vector<IndexRange> blocks = all_blocks(n, size);
      EXPECT_EQ(tiling_error(blocks, n), "") << "n=" << n << " size=" << size;
      int64_t lo = n, hi = 0;
      for (const IndexRange& b : blocks) {
        lo = std::min(lo, b.size());
        hi = std::max(hi, b.size());
      }
      EXPECT_LE(hi - lo, 1) << "n=" << n << " size=" << size;
    }
  }
}

TEST(DistSplit, UnevenGivesTheFirstRanksOneMore) {
  EXPECT_EQ(split(10, 0, 3), (IndexRange{0, 4}));
  EXPECT_EQ(split(10, 1, 3), (IndexRange{4, 7}));
  EXPECT_EQ(split(10, 2, 3), (IndexRange{7, 10}));
  EXPECT_EQ(split(1001, 1, 2), (IndexRange{501, 1001}));
}

TEST(DistSplit, MoreRanksThanIndicesLeavesEmptyBlocks) {
  EXPECT_EQ(split(2, 0, 4), (IndexRange{0, 1}));
  EXPECT_EQ(split(2, 1, 4), (IndexRange{1, 2}));
  EXPECT_TRUE(split(2, 2, 4).empty());
  EXPECT_TRUE(split(2, 3, 4).empty());
  EXPECT_TRUE(split(0, 0, 1).empty());
  EXPECT_EQ(split(5, 0, 1), (IndexRange{0, 5}));
}

TEST(DistSplit, RefusesBadArguments) {
  EXPECT_THROW(split(-1, 0, 1), std::invalid_argument);
  EXPECT_THROW(split(5, 0, 0), std::invalid_argument);
  EXPECT_THROW(split(5, 2, 2), std::invalid_argument);
  EXPECT_THROW(split(5, -1, 2), std::invalid_argument);
}

TEST(DistSplitChunks, WholeChunksTileOnChunkBoundaries) {
  for (int64_t n : {0, 1, 5, 64, 65, 1000, 1001}) {
    for (int64_t chunk : {1, 7, 64, 2000}) {
      for (int size : {1, 2, 3, 5, 40}) {
        std::vector<IndexRange> shares;
        for (int r = 0; r < size; ++r) shares.push_back(split_chunks(n, chunk, r, size));
        const std::string where = "n=" + std::to_string(n) + " chunk=" + std::to_string(chunk) + " size=" + std::to_string(size);
        EXPECT_EQ(tiling_error(shares, n), "") << where;
        for (const IndexRange& s : shares) {
          if (s.empty()) continue;
          EXPECT_EQ(s.begin % chunk, 0) << where;
          EXPECT_TRUE(s.end == n || s.end % chunk == 0) << where;
        }
      }
    }
  }
  EXPECT_EQ(split_chunks(1000, 64, 0, 1), (IndexRange{0, 1000}));
  EXPECT_EQ(split_chunks(1000, 64, 0, 2), (IndexRange{0, 512}));  // 16 chunks: 8 + 8
  EXPECT_EQ(split_chunks(1000, 64, 1, 2), (IndexRange{512, 1000}));
  EXPECT_EQ(split_chunks(10, 4, 0, 2), (IndexRange{0, 8}));  // 3 chunks: 2 + 1
  EXPECT_EQ(split_chunks(10, 4, 1, 2), (IndexRange{8, 10}));
  EXPECT_THROW(split_chunks(10, 0, 0, 1), std::invalid_argument);
  EXPECT_THROW(split_chunks(-1, 4, 0, 1), std::invalid_argument);
}

TEST(DistIndexRange, ContainsIsHalfOpen) {
  const IndexRange r{3, 5};
  EXPECT_FALSE(r.contains(2));
  EXPECT_TRUE(r.contains(3));
  EXPECT_TRUE(r.contains(4));
  EXPECT_FALSE(r.contains(5));
  EXPECT_EQ(r.size(), 2);
}

TEST(DistTilingError, NamesTheOffendingRank) {
  const std::vector<IndexRange> gap = {{0, 3}, {4, 6}};
  EXPECT_NE(tiling_error(gap, 6).find("rank 1"), std::string::npos) << tiling_error(gap, 6);
  const std::vector<IndexRange> overlap = {{0, 3}, {2, 6}};
  EXPECT_NE(tiling_error(overlap, 6).find("rank 1"), std::string::npos);
  const std::vector<IndexRange> reversed = {{0, 2}, {3, 2}};
  EXPECT_NE(tiling_error(reversed, 3).find("ends before it begins"), std::string::npos);
  const std::vector<IndexRange> short_of_n = {{0, 3}, {3, 5}};
  EXPECT_NE(tiling_error(short_of_n, 6).find("n_total = 6"), std::string::npos);
  const std::vector<IndexRange> out_of_order = {{3, 6}, {0, 3}};
  EXPECT_NE(tiling_error(out_of_order, 6).find("rank 0"), std::string::npos);
  const std::vector<IndexRange> empty_first = {{0, 0}, {0, 6}};
  EXPECT_EQ(tiling_error(empty_first, 6), "");
  EXPECT_NE(tiling_error(empty_first, -1), "");
}
