#include "trusty/io/dataset.hpp"

#include <cmath>
#include <cstdlib>
#include <tuple>
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

namespace {
// "row 3, column 2" of element i of an array whose rows hold `per_row` values.
std::string cell(int64_t i, int64_t per_row) {
  return "row " + std::to_string(i / std::max<int64_t>(per_row, 1) + 1) + ", column " + std::to_string(i % std::max<int64_t>(per_row, 1) + 1);
}
}  // namespace

template <class T>
Dataset<T> load_arrays(const std::string& x_path, const std::string& y_path, bool classification, bool drop_nonfinite) {
  const auto xa = read_npy(x_path);
  const auto ya = read_npy(y_path);
  if (xa.shape.empty()) throw std::invalid_argument(x_path + ": a 0-dimensional array, expected inputs of shape (n, features...)");
  if (ya.shape.empty()) throw std::invalid_argument(y_path + ": a 0-dimensional array, expected " + std::to_string(xa.shape[0]) + " rows of targets");
  const int64_t n = xa.shape[0];
  if (ya.shape[0] != n)
    throw std::invalid_argument(y_path + ": " + std::to_string(ya.shape[0]) + " rows, but " + x_path + " has " + std::to_string(n));
  if (n == 0) throw std::invalid_argument(x_path + ": 0 rows, expected at least one sample");
  const int64_t xr = xa.numel() / n, yr = ya.numel() / n;
  if (classification && yr != 1)
    throw std::invalid_argument(y_path + ": " + std::to_string(yr) + " values per row, expected one class label per row (shape (n,))");
  // Non-finite values: an error naming the element, or (drop_nonfinite) the row left out.
  const auto xv = xa.values<double>();
  const auto yv = ya.values<double>();
  std::vector<int64_t> keep;
  for (int64_t i = 0; i < n; ++i) {
    bool finite = true;
    for (auto [v, per, path] : {std::tuple{&xv, xr, &x_path}, std::tuple{&yv, yr, &y_path}})
      for (int64_t j = i * per; j < (i + 1) * per && finite; ++j) {
        if (std::isfinite((*v)[static_cast<size_t>(j)])) continue;
        if (!drop_nonfinite)
          throw std::invalid_argument(*path + ": " + cell(j, per) + ": " + std::to_string((*v)[static_cast<size_t>(j)]) +
                                      ", expected a finite number (set [data] drop_nonfinite = true to leave such rows out)");
        finite = false;
      }
    if (finite) keep.push_back(i);
  }
  if (keep.empty()) throw std::invalid_argument(x_path + ": no rows left after dropping those with NaN or infinite values");
  Dataset<T> d;
  d.x = xa.tensor<T>();
  if (classification) {
    for (int64_t i = 0; i < n; ++i) d.labels.push_back(class_label(yv[static_cast<size_t>(i)], y_path + ": row " + std::to_string(i + 1)));
    for (auto l : d.labels) d.classes = std::max<int64_t>(d.classes, l + 1);
  } else {
    d.y = ya.tensor<T>().reshape(core::Shape{n, yr});
  }
  if (static_cast<int64_t>(keep.size()) < n) d = d.subset(keep);
  return d;
}

template struct Dataset<float>;
template struct Dataset<double>;
template Dataset<float> load_arrays<float>(const std::string&, const std::string&, bool, bool);
template Dataset<double> load_arrays<double>(const std::string&, const std::string&, bool, bool);

}  // namespace trusty::io
