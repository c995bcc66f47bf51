#include "trusty/io/dataset.hpp"

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "trusty/io/npy.hpp"
#include "trusty/core/rng.hpp"

namespace trusty::io {

namespace fs = std::filesystem;

template <class T>
Dataset<T> Dataset<T>::subset(const std::vector<int64_t>& idx) const {
  Dataset<T> d;
  d.classes = classes;
  const int64_t n = static_cast<int64_t>(idx.size());
  auto take = [&](const core::Tensor<T>& src) {
    if (src.rank() == 0 || src.numel() == 0) return core::Tensor<T>();
    auto dims = src.shape().to_vector();
    const int64_t row = src.numel() / dims[0];
    dims[0] = n;
    core::Tensor<T> out{core::Shape(std::span<const int64_t>(dims))};
    const T* s = src.data();
    T* o = out.data();
    for (int64_t i = 0; i < n; ++i) std::memcpy(o + i * row, s + idx[static_cast<size_t>(i)] * row, static_cast<size_t>(row) * sizeof(T));
    return out;
  };
  d.x = take(x);
  if (y.numel() > 0 && y.rank() > 0) d.y = take(y);
  if (!labels.empty())
    for (int64_t i : idx) d.labels.push_back(labels[static_cast<size_t>(i)]);
  return d;
}

template <class T>
std::pair<Dataset<T>, Dataset<T>> Dataset<T>::split(double fraction, uint64_t seed) const {
  if (!(fraction > 0 && fraction < 1)) throw std::invalid_argument("validation fraction must be in (0, 1), got " + std::to_string(fraction));
  core::Rng rng(seed, 7);
  auto perm = rng.permutation(size());
  const auto nval = static_cast<int64_t>(static_cast<double>(size()) * fraction);
  std::vector<int64_t> a(perm.begin(), perm.end() - nval), b(perm.end() - nval, perm.end());
  return {subset(a), subset(b)};
}

template <class T>
Dataset<T> load_csv(const std::string& path, std::vector<int> target_columns, bool classification) {
  std::ifstream in(path);
  if (!in) throw std::invalid_argument("cannot open data file '" + path + "'");
  std::vector<std::vector<double>> rows;
  std::string line;
  int64_t lineno = 0;
  while (std::getline(in, line)) {
    ++lineno;
    if (line.empty() || line[0] == '#') continue;
    std::vector<double> row;
    std::stringstream ss(line);
    std::string cell;
    bool numeric = true;
    while (std::getline(ss, cell, ',')) {
      char* end = nullptr;
      double v = std::strtod(cell.c_str(), &end);
      if (end == cell.c_str()) numeric = false;
      row.push_back(v);
    }
    if (!numeric) {
      if (rows.empty()) continue;  // a header line
      throw std::invalid_argument(path + ":" + std::to_string(lineno) + ": non-numeric value");
    }
    if (!rows.empty() && row.size() != rows[0].size())
      throw std::invalid_argument(path + ":" + std::to_string(lineno) + ": " + std::to_string(row.size()) + " columns, expected " +
                                  std::to_string(rows[0].size()));
    rows.push_back(std::move(row));
  }
  if (rows.empty()) throw std::invalid_argument(path + ": no data rows");
  const int ncol = static_cast<int>(rows[0].size());
  std::vector<bool> is_target(static_cast<size_t>(ncol));
  for (int& c : target_columns) {
    if (c < 0) c += ncol;
    if (c < 0 || c >= ncol) throw std::invalid_argument(path + ": target column out of range for " + std::to_string(ncol) + " columns");
    is_target[static_cast<size_t>(c)] = true;
  }
  const int64_t n = static_cast<int64_t>(rows.size()), nf = ncol - static_cast<int64_t>(target_columns.size());
  Dataset<T> d;
  d.x = core::Tensor<T>(core::Shape{n, nf});
  if (!classification) d.y = core::Tensor<T>(core::Shape{n, static_cast<int64_t>(target_columns.size())});
  for (int64_t i = 0; i < n; ++i) {
    int64_t f = 0;
    for (int c = 0; c < ncol; ++c)
      if (!is_target[static_cast<size_t>(c)]) d.x.at({i, f++}) = static_cast<T>(rows[static_cast<size_t>(i)][static_cast<size_t>(c)]);
    for (size_t k = 0; k < target_columns.size(); ++k) {
      const double v = rows[static_cast<size_t>(i)][static_cast<size_t>(target_columns[k])];
      if (classification) {
        d.labels.push_back(static_cast<int64_t>(v));
        d.classes = std::max<int64_t>(d.classes, static_cast<int64_t>(v) + 1);
      } else {
        d.y.at({i, static_cast<int64_t>(k)}) = static_cast<T>(v);
      }
    }
  }
  return d;
}

template <class T>
Dataset<T> load_arrays(const std::string& x_path, const std::string& y_path, bool classification) {
  Dataset<T> d;
  d.x = read_npy(x_path).tensor<T>();
  auto y = read_npy(y_path);
  if (y.shape.empty() || y.shape[0] != d.x.dim(0))
    throw std::invalid_argument(y_path + ": " + std::to_string(y.shape.empty() ? 0 : y.shape[0]) + " rows, but " + x_path +
                                " has " + std::to_string(d.x.dim(0)));
  if (classification) {
    d.labels = y.values<int64_t>();
    for (auto l : d.labels) d.classes = std::max<int64_t>(d.classes, l + 1);
  } else {
    d.y = y.tensor<T>();
    if (d.y.rank() == 1) d.y = d.y.reshape(core::Shape{d.y.dim(0), 1});
  }
  return d;
}

template struct Dataset<float>;
template struct Dataset<double>;
template Dataset<float> load_csv<float>(const std::string&, std::vector<int>, bool);
template Dataset<double> load_csv<double>(const std::string&, std::vector<int>, bool);
template Dataset<float> load_arrays<float>(const std::string&, const std::string&, bool);
template Dataset<double> load_arrays<double>(const std::string&, const std::string&, bool);

}  // namespace trusty::io
