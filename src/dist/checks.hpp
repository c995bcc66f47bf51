// Argument checks of World, shared by the MPI and serial builds. For gather_by_index each
// rank describes its call (RankCall); under MPI the descriptions are exchanged first, so
// every rank evaluates the same list and throws the same message — no rank is left waiting
// in the allgatherv of a rank that threw.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "trusty/dist/index_range.hpp"

namespace trusty::dist::detail {

struct RankCall {
  int64_t begin = 0, end = 0;  // IndexRange mine
  int64_t row_len = 0;
  int64_t n_total = 0;
  int64_t local_values = 0;  // local_rows.size()
};

static_assert(sizeof(RankCall) == 5 * sizeof(int64_t), "RankCall is sent as 5 int64");

// Empty when the calls are consistent, else "dist::gather_by_index: ..." naming the rank.
std::string gather_error(std::span<const RankCall> calls);

// Throws std::invalid_argument unless 0 <= root < size; `what` names the element type.
void check_root(int root, int size, const char* what);

}  // namespace trusty::dist::detail
