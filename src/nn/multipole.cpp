#include "trusty/nn/multipole.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace trusty::nn {

double real_spherical_harmonic(int ell, int m, double theta, double phi) {
  const unsigned l = static_cast<unsigned>(ell), am = static_cast<unsigned>(std::abs(m));
  const double y = std::sph_legendre(l, am, theta);  // Y_ℓ^|m|(θ, 0), with (-1)^m
  if (m == 0) return y;
  const double s = std::sqrt(2.0) * ((am % 2) ? -1.0 : 1.0);
  return m > 0 ? s * y * std::cos(am * phi) : s * y * std::sin(am * phi);
}

MultipoleTable multipole_table(int dims, int64_t k, int ell, int m) {
  if (dims != 2 && dims != 3) throw std::invalid_argument("multipole kernels are 2-d or 3-d, got " + std::to_string(dims));
  if (k < 1) throw std::invalid_argument("multipole kernel size must be >= 1, got " + std::to_string(k));
  if (ell < 0 || (dims == 3 && std::abs(m) > ell))
    throw std::invalid_argument("multipole: need ell >= 0 and |m| <= ell, got ell = " + std::to_string(ell) + ", m = " + std::to_string(m));
  const double c = static_cast<double>(k - 1) / 2;
  const int64_t n = dims == 2 ? k * k : k * k * k;
  std::vector<double> key(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const double x = static_cast<double>(dims == 2 ? i / k : i / (k * k)) - c;
    const double y = static_cast<double>(dims == 2 ? i % k : (i / k) % k) - c;
    const double z = dims == 2 ? 0.0 : static_cast<double>(i % k) - c;
    const double r = std::sqrt(x * x + y * y + z * z);
    double v = 0;
    if (r > 0) {
      const double phi = std::atan2(y, x);
      if (dims == 2) v = r * std::cos(ell * phi);
      else v = r * real_spherical_harmonic(ell, m, std::acos(std::clamp(z / r, -1.0, 1.0)), phi);
    }
    key[static_cast<size_t>(i)] = v;
  }
  MultipoleTable t;
  t.group.assign(static_cast<size_t>(n), -1);
  std::vector<double> seen;
  for (int64_t i = 0; i < n; ++i) {
    const double v = key[static_cast<size_t>(i)];
    int64_t g = -1;
    for (size_t j = 0; j < seen.size(); ++j)
      if (std::abs(seen[j] - v) <= 1e-9 * std::max(1.0, std::abs(v))) {
        g = static_cast<int64_t>(j);
        break;
      }
    if (g < 0) {
      g = static_cast<int64_t>(seen.size());
      seen.push_back(v);
    }
    t.group[static_cast<size_t>(i)] = g;
  }
  t.groups = static_cast<int64_t>(seen.size());
  return t;
}

}  // namespace trusty::nn
