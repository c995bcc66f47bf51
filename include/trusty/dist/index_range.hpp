// Work distribution by index: simulation i (or data row i) goes to the rank whose
// contiguous block holds i. Blocks are contiguous and in rank order, so gathering them
// (gather_by_index) restores global index order without any sorting.
#pragma once
#include <cstdint>
#include <span>
#include <string>

namespace trusty::dist {

// The half-open index range [begin, end).
struct IndexRange {
  int64_t begin = 0;
  int64_t end = 0;

  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool contains(int64_t i) const { return i >= begin && i < end; }
  friend bool operator==(const IndexRange&, const IndexRange&) = default;
};

// Rank `rank`'s block of [0, n) when it is cut into `size` contiguous blocks in rank order:
// the first n % size ranks get one index more. Ranks beyond n get an empty block, so any
// n >= 0 works for any size >= 1. Throws std::invalid_argument on n < 0, size < 1 or a rank
// outside [0, size).
IndexRange split(int64_t n, int rank, int size);

// Rank `rank`'s share of [0, n) when the indices are grouped in fixed chunks of `chunk`
// ([0, chunk), [chunk, 2 chunk), ..., the last one shorter) and whole chunks are split over
// the ranks with split(). Each share begins on a chunk boundary, so a rank that walks its
// share in steps of `chunk` meets exactly the chunks one process meets walking [0, n).
// Use it when a computation's bits depend on how many rows are processed together: a
// network's forward pass over a batch does (a GEMM over 64 rows and over 1,000 rows gives
// some outputs that differ in the last bit), so batches must be the same fixed chunks on
// one process and on N ranks. Throws std::invalid_argument on chunk < 1 or as split().
IndexRange split_chunks(int64_t n, int64_t chunk, int rank, int size);

// Empty when `ranges` (one per rank, in rank order) tile [0, n_total) exactly —
// each range well formed, each beginning where the one before ended, the first at 0 and
// the last at n_total — otherwise a message naming the first offending rank.
std::string tiling_error(std::span<const IndexRange> ranges, int64_t n_total);

}  // namespace trusty::dist
