#include "trusty/density/catalogue.hpp"

#include <cmath>
#include <sstream>
#include <stdexcept>

#include "trusty/io/npy.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;

namespace {

[[noreturn]] void fail(const std::string& what, const std::string& msg) { throw std::invalid_argument(what + ": " + msg); }

std::string num(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

void check_finite(const Tensor<double>& t, const std::string& what, const char* name) {
  const double* p = t.data();
  for (int64_t i = 0; i < t.numel(); ++i)
    if (!std::isfinite(p[i])) fail(what, std::string(name) + "[" + std::to_string(i) + "] = " + num(p[i]) + " is not finite");
}

}  // namespace

double Catalogue::voxel_volume() const {
  const double side = box_size / static_cast<double>(grid());
  return side * side * side;
}

std::vector<int64_t> Catalogue::halo_voxels() const {
  const int64_t n = grid(), h = size();
  const double scale = static_cast<double>(n) / box_size;
  std::vector<int64_t> v(static_cast<size_t>(h));
  const double* p = positions.data();
  for (int64_t j = 0; j < h; ++j) {
    int64_t idx = 0;
    for (int a = 0; a < 3; ++a) {
      const int64_t c = std::min(n - 1, static_cast<int64_t>(std::floor(p[3 * j + a] * scale)));
      idx = idx * n + c;
    }
    v[static_cast<size_t>(j)] = idx;
  }
  return v;
}

void Catalogue::validate(const std::string& what) const {
  if (!std::isfinite(box_size) || !(box_size > 0)) fail(what, "box_size = " + num(box_size) + "; expected a finite value > 0");
  if (!std::isfinite(mass_threshold) || !(mass_threshold > 0))
    fail(what, "mass_threshold = " + num(mass_threshold) + "; expected a finite value > 0");
  if (field.rank() != 3 || field.dim(0) != field.dim(1) || field.dim(0) != field.dim(2) || field.dim(0) < 3)
    fail(what, "field has shape " + field.shape().str() + "; expected a cube [n, n, n] with n >= 3");
  check_finite(field, what, "field");
  if (positions.rank() != 2 || positions.dim(1) != 3)
    fail(what, "positions has shape " + positions.shape().str() + "; expected [H, 3]");
  if (masses.rank() != 1 || masses.dim(0) != positions.dim(0))
    fail(what, "masses has shape " + masses.shape().str() + "; expected [" + std::to_string(positions.dim(0)) +
                   "] (one per row of positions)");
  check_finite(positions, what, "positions");
  check_finite(masses, what, "masses");
  const double* p = positions.data();
  for (int64_t i = 0; i < positions.numel(); ++i)
    if (p[i] < 0 || p[i] >= box_size)
      fail(what, "halo " + std::to_string(i / 3) + " is outside the box: positions[" + std::to_string(i / 3) + ", " +
                     std::to_string(i % 3) + "] = " + num(p[i]) + ", expected in [0, " + num(box_size) + ")");
  const double* m = masses.data();
  for (int64_t i = 0; i < masses.numel(); ++i)
    if (m[i] < mass_threshold)
      fail(what, "masses[" + std::to_string(i) + "] = " + num(m[i]) + " is below mass_threshold = " + num(mass_threshold));
}

void save_catalogue(const std::string& path, const Catalogue& c) {
  c.validate(path);
  io::Npz z;
  z["field"] = io::NpyArray::from(c.field.contiguous());
  z["positions"] = io::NpyArray::from(c.positions.contiguous());
  z["masses"] = io::NpyArray::from(c.masses.contiguous());
  z["box_size"] = io::NpyArray::from(Tensor<double>::scalar(c.box_size));
  z["mass_threshold"] = io::NpyArray::from(Tensor<double>::scalar(c.mass_threshold));
  io::write_npz(path, z);
}

Catalogue load_catalogue(const std::string& path) {
  const io::Npz z = io::read_npz(path);
  auto get = [&](const char* name) -> const io::NpyArray& {
    const auto it = z.find(name);
    if (it == z.end()) fail(path, std::string("no array '") + name + "' (a catalogue holds field, positions, masses, box_size, mass_threshold)");
    return it->second;
  };
  auto scalar = [&](const char* name) {
    const auto& a = get(name);
    if (a.numel() != 1) fail(path, std::string(name) + " holds " + std::to_string(a.numel()) + " values; expected one");
    return a.values<double>()[0];
  };
  Catalogue c;
  c.field = get("field").tensor<double>();
  c.positions = get("positions").tensor<double>();
  c.masses = get("masses").tensor<double>();
  // An empty catalogue saved by numpy has positions of shape (0,) — read it as [0, 3].
  if (c.positions.numel() == 0) c.positions = Tensor<double>(Shape{0, 3});
  c.box_size = scalar("box_size");
  c.mass_threshold = scalar("mass_threshold");
  c.validate(path);
  return c;
}

}  // namespace trusty::density
