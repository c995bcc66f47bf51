#include "trusty/dist/index_range.hpp"

#include <algorithm>
#include <stdexcept>

namespace trusty::dist {

IndexRange split(int64_t n, int rank, int size) {
  if (n < 0) throw std::invalid_argument("dist::split: n = " + std::to_string(n) + ", expected n >= 0");
  if (size < 1) throw std::invalid_argument("dist::split: size = " + std::to_string(size) + ", expected size >= 1");
  if (rank < 0 || rank >= size)
    throw std::invalid_argument("dist::split: rank " + std::to_string(rank) + " outside [0, " +
                                std::to_string(size) + ")");
  const int64_t base = n / size, extra = n % size;
  const int64_t begin = rank * base + (rank < extra ? rank : extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

IndexRange split_chunks(int64_t n, int64_t chunk, int rank, int size) {
  if (chunk < 1) throw std::invalid_argument("dist::split_chunks: chunk = " + std::to_string(chunk) + ", expected >= 1");
  if (n < 0) throw std::invalid_argument("dist::split_chunks: n = " + std::to_string(n) + ", expected n >= 0");
  const IndexRange c = split(n / chunk + (n % chunk != 0 ? 1 : 0), rank, size);
  return {std::min(n, c.begin * chunk), std::min(n, c.end * chunk)};
}

std::string tiling_error(std::span<const IndexRange> ranges, int64_t n_total) {
  if (n_total < 0) return "n_total = " + std::to_string(n_total) + ", expected >= 0";
  int64_t expect = 0;
  for (size_t r = 0; r < ranges.size(); ++r) {
    const IndexRange& g = ranges[r];
    const std::string who = "rank " + std::to_string(r) + "'s range [" + std::to_string(g.begin) + ", " +
                            std::to_string(g.end) + ")";
    if (g.end < g.begin) return who + " ends before it begins";
    if (g.begin != expect)
      return who + " should begin at " + std::to_string(expect) +
             " (ranges must tile [0, n_total) contiguously in rank order)";
    expect = g.end;
  }
  if (expect != n_total)
    return "the ranges end at " + std::to_string(expect) + ", expected n_total = " + std::to_string(n_total);
  return {};
}

}  // namespace trusty::dist
