// Users' CSV data, read strictly: every cell a whole number token (no "1.5abc" read as 1.5),
// class labels whole and non-negative, NaN and infinity an error naming file, row and
// column (or the row dropped when asked), an optional header only as the first line and
// only when none of its cells is a number.
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <stdexcept>

#include "trusty/io/dataset.hpp"

namespace trusty::io {

namespace {
std::string trim(const std::string& s) {
  const size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

// The whole token as a number (strtod syntax: 1, -2.5e3, nan, inf), else nullopt.
std::optional<double> full_number(const std::string& cell) {
  if (cell.empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const double v = std::strtod(cell.c_str(), &end);
  if (end != cell.c_str() + cell.size()) return std::nullopt;
  return v;
}

std::vector<std::string> split(const std::string& line) {
  std::vector<std::string> cells;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    cells.push_back(trim(line.substr(start, comma == std::string::npos ? std::string::npos : comma - start)));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}
}  // namespace

CsvTable read_csv_table(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot open data file '" + path + "'");
  CsvTable t;
  std::string line;
  int64_t lineno = 0;
  bool first = true;
  while (std::getline(in, line)) {
    ++lineno;
    if (trim(line).empty() || line[0] == '#') continue;
    auto cells = split(line);
    std::vector<double> row;
    row.reserve(cells.size());
    size_t bad = cells.size(), numeric = 0;
    for (size_t c = 0; c < cells.size(); ++c) {
      auto v = full_number(cells[c]);
      if (v) ++numeric, row.push_back(*v);
      else if (bad == cells.size()) bad = c;
    }
    if (first && numeric == 0) {  // a header: names, no numbers
      t.header = cells;
      first = false;
      continue;
    }
    first = false;
    const std::string at = path + ": row " + std::to_string(lineno) + ", column " + std::to_string(bad + 1) + ": ";
    if (bad < cells.size())
      throw std::invalid_argument(at + (cells[bad].empty() ? std::string("empty cell") : "'" + cells[bad] + "' is not a number") +
                                  ", expected a number (only the first line may be a header, and a header has no numbers)");
    const size_t want = t.rows.empty() ? (t.header.empty() ? row.size() : t.header.size()) : t.rows[0].size();
    if (row.size() != want)
      throw std::invalid_argument(path + ": row " + std::to_string(lineno) + ": " + std::to_string(row.size()) + " columns, expected " +
                                  std::to_string(want));
    t.rows.push_back(std::move(row));
    t.lines.push_back(lineno);
  }
  return t;
}

template <class T>
Dataset<T> load_csv(const std::string& path, std::vector<int> target_columns, bool classification, bool drop_nonfinite) {
  CsvTable table = read_csv_table(path);
  if (table.rows.empty()) throw std::invalid_argument(path + ": no data rows (expected numbers after an optional header line)");
  const int ncol = static_cast<int>(table.rows[0].size());
  std::vector<bool> is_target(static_cast<size_t>(ncol));
  for (int& c : target_columns) {
    const int given = c;
    if (c < 0) c += ncol;
    if (c < 0 || c >= ncol)
      throw std::invalid_argument(path + ": target column " + std::to_string(given) + " out of range for " + std::to_string(ncol) + " columns");
    if (is_target[static_cast<size_t>(c)]) throw std::invalid_argument(path + ": target column " + std::to_string(given) + " named twice");
    is_target[static_cast<size_t>(c)] = true;
  }
  const int64_t nf = ncol - static_cast<int64_t>(target_columns.size());
  if (nf < 1) throw std::invalid_argument(path + ": every one of the " + std::to_string(ncol) + " columns is a target: no features left");
  // Non-finite values: an error naming the cell, or (drop_nonfinite) the row left out.
  std::vector<size_t> keep;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    bool finite = true;
    for (int c = 0; c < ncol && finite; ++c) {
      const double v = table.rows[i][static_cast<size_t>(c)];
      if (std::isfinite(v)) continue;
      if (!drop_nonfinite)
        throw std::invalid_argument(path + ": row " + std::to_string(table.lines[i]) + ", column " + std::to_string(c + 1) + ": " +
                                    std::to_string(v) + ", expected a finite number (set [data] drop_nonfinite = true to leave such rows out)");
      finite = false;
    }
    if (finite) keep.push_back(i);
  }
  if (keep.empty()) throw std::invalid_argument(path + ": no rows left after dropping those with NaN or infinite values");
  const int64_t n = static_cast<int64_t>(keep.size());
  Dataset<T> d;
  d.x = core::Tensor<T>(core::Shape{n, nf});
  if (!classification) d.y = core::Tensor<T>(core::Shape{n, static_cast<int64_t>(target_columns.size())});
  if (classification && target_columns.size() != 1)
    throw std::invalid_argument(path + ": classification takes one target column (the class label), got " + std::to_string(target_columns.size()));
  for (int64_t i = 0; i < n; ++i) {
    const auto& row = table.rows[keep[static_cast<size_t>(i)]];
    int64_t f = 0;
    for (int c = 0; c < ncol; ++c)
      if (!is_target[static_cast<size_t>(c)]) d.x.at({i, f++}) = static_cast<T>(row[static_cast<size_t>(c)]);
    for (size_t k = 0; k < target_columns.size(); ++k) {
      const double v = row[static_cast<size_t>(target_columns[k])];
      if (classification) {
        const std::string at = path + ": row " + std::to_string(table.lines[keep[static_cast<size_t>(i)]]) + ", column " +
                               std::to_string(target_columns[k] + 1);
        d.labels.push_back(class_label(v, at));
        d.classes = std::max<int64_t>(d.classes, d.labels.back() + 1);
      } else {
        d.y.at({i, static_cast<int64_t>(k)}) = static_cast<T>(v);
      }
    }
  }
  return d;
}

int64_t class_label(double v, const std::string& where) {
  if (!(v >= 0 && v < kMaxClasses && v == std::floor(v)))
    throw std::invalid_argument(where + ": class label " + std::to_string(v) + ", expected a whole number in [0, " +
                                std::to_string(kMaxClasses) + ")");
  return static_cast<int64_t>(v);
}

template Dataset<float> load_csv<float>(const std::string&, std::vector<int>, bool, bool);
template Dataset<double> load_csv<double>(const std::string&, std::vector<int>, bool, bool);

}  // namespace trusty::io
