// Deterministic reductions over work distributed by index.
//
// Why not MPI_Allreduce: its result is a sum of per-rank partial sums, combined in an order
// chosen by the MPI library (by rank count, message size and algorithm). Floating-point
// addition is not associative, so the same simulations reduced on 1, 2 or 7 ranks would
// give Fisher matrices, and from them network weights, that differ in the last bits — and
// training amplifies such differences. Here each rank contributes its rows, every rank
// gathers all rows in global index order (World::gather_by_index) and then runs the same
// serial loop over index 0, 1, ..., n-1. The result is bit-identical to one process, for
// any rank count, at the price of moving n * row_len doubles — small for summaries
// (n_sims x n_summaries), the quantities the statistics are built from.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "trusty/dist/index_range.hpp"

namespace trusty::dist {

// world().gather_by_index(...): all n_total rows in global index order, on every rank.
std::vector<double> gather_by_index(std::span<const double> local_rows, int64_t row_len,
                                    IndexRange mine, int64_t n_total);

// Column sums of a row-major n x row_len array, adding rows in index order 0, 1, ..., n-1.
// The serial reference every rank count reproduces.
std::vector<double> column_sums(std::span<const double> rows, int64_t row_len);

// Column sums of the distributed rows, in global index order, on every rank:
// column_sums(gather_by_index(...)). Bit-identical for any rank count.
std::vector<double> sum_in_index_order(std::span<const double> local_rows, int64_t row_len,
                                       IndexRange mine, int64_t n_total);

}  // namespace trusty::dist
