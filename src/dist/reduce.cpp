#include "trusty/dist/reduce.hpp"

#include <stdexcept>

#include "trusty/dist/world.hpp"

namespace trusty::dist {

std::vector<double> gather_by_index(std::span<const double> local_rows, int64_t row_len, IndexRange mine,
                                    int64_t n_total) {
  return world().gather_by_index(local_rows, row_len, mine, n_total);
}

std::vector<double> column_sums(std::span<const double> rows, int64_t row_len) {
  if (row_len < 0 || (row_len == 0 && !rows.empty()) ||
      (row_len > 0 && rows.size() % static_cast<size_t>(row_len) != 0))
    throw std::invalid_argument("dist::column_sums: " + std::to_string(rows.size()) +
                                " values are not whole rows of length " + std::to_string(row_len));
  std::vector<double> sums(static_cast<size_t>(row_len), 0.0);
  for (size_t i = 0; i < rows.size(); i += sums.size())
    for (size_t j = 0; j < sums.size(); ++j) sums[j] += rows[i + j];
  return sums;
}

std::vector<double> sum_in_index_order(std::span<const double> local_rows, int64_t row_len, IndexRange mine,
                                       int64_t n_total) {
  return column_sums(gather_by_index(local_rows, row_len, mine, n_total), row_len);
}

}  // namespace trusty::dist
