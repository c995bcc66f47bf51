#include "checks.hpp"

#include <climits>
#include <stdexcept>
#include <vector>

namespace trusty::dist::detail {

namespace {
std::string call_error(const RankCall& c, const RankCall& first, size_t r) {
  const std::string rank = "rank " + std::to_string(r);
  if (c.row_len < 0) return rank + ": row_len = " + std::to_string(c.row_len) + ", expected >= 0";
  if (c.row_len != first.row_len)
    return rank + ": row_len = " + std::to_string(c.row_len) + " but rank 0 passed " + std::to_string(first.row_len);
  if (c.n_total != first.n_total)
    return rank + ": n_total = " + std::to_string(c.n_total) + " but rank 0 passed " + std::to_string(first.n_total);
  if (c.end >= c.begin && c.local_values != (c.end - c.begin) * c.row_len)
    return rank + ": " + std::to_string(c.local_values) + " local values for rows [" + std::to_string(c.begin) + ", " +
           std::to_string(c.end) + ") of length " + std::to_string(c.row_len) + ", expected " +
           std::to_string((c.end - c.begin) * c.row_len);
  return {};
}
}  // namespace

std::string gather_error(std::span<const RankCall> calls) {
  const std::string what = "dist::gather_by_index: ";
  if (calls.empty()) return what + "no ranks";
  for (size_t r = 0; r < calls.size(); ++r)
    if (std::string e = call_error(calls[r], calls[0], r); !e.empty()) return what + e;
  const RankCall& first = calls[0];
  // MPI counts are ints: rows are counted in units of one row (a derived datatype).
  if (first.row_len > INT_MAX || first.n_total > INT_MAX)
    return what + "row_len " + std::to_string(first.row_len) + " or n_total " + std::to_string(first.n_total) +
           " exceeds " + std::to_string(INT_MAX);
  std::vector<IndexRange> ranges;
  ranges.reserve(calls.size());
  for (const RankCall& c : calls) ranges.push_back({c.begin, c.end});
  if (std::string e = tiling_error(ranges, first.n_total); !e.empty()) return what + e;
  return {};
}

void check_root(int root, int size, const char* what) {
  if (root < 0 || root >= size)
    throw std::invalid_argument(std::string("dist::broadcast(") + what + "): root " + std::to_string(root) +
                                " outside [0, " + std::to_string(size) + ")");
}

}  // namespace trusty::dist::detail
