#include "trusty/density/mass_function_check.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>

#include "trusty/core/ops.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;

MassFunctionBins make_mass_function_bins(const Catalogue& c, int64_t nd, int64_t nm) {
  if (nd < 1 || nm < 1)
    throw std::invalid_argument("make_mass_function_bins: " + std::to_string(nd) + " density and " + std::to_string(nm) +
                                " mass bins; expected at least one of each");
  MassFunctionBins b;
  std::vector<double> sorted(c.field.span().begin(), c.field.span().end());
  std::sort(sorted.begin(), sorted.end());
  const auto v = static_cast<int64_t>(sorted.size());
  b.density_edges.push_back(-std::numeric_limits<double>::infinity());
  for (int64_t i = 1; i < nd; ++i) b.density_edges.push_back(sorted[static_cast<size_t>(i * v / nd)]);
  b.density_edges.push_back(std::numeric_limits<double>::infinity());
  for (double d : c.field.span()) {
    const auto it = std::upper_bound(b.density_edges.begin() + 1, b.density_edges.end() - 1, d);
    b.voxel_bin.push_back(static_cast<int64_t>(it - b.density_edges.begin()) - 1);
  }
  const double lo = std::log(c.mass_threshold);
  double hi = lo + 1;
  for (double m : c.masses.span()) hi = std::max(hi, std::log(m));
  for (int64_t k = 0; k < nm; ++k) b.log_mass_edges.push_back(lo + (hi - lo) * static_cast<double>(k) / static_cast<double>(nm));
  b.log_mass_edges.push_back(std::numeric_limits<double>::infinity());
  return b;
}

std::vector<double> observed_counts(const Catalogue& c, const MassFunctionBins& b) {
  const int64_t nm = b.mass_bins();
  std::vector<double> n(static_cast<size_t>(b.density_bins() * nm), 0.0);
  const auto vox = c.halo_voxels();
  for (int64_t j = 0; j < c.size(); ++j) {
    const double u = std::log(c.masses.data()[j]);
    auto it = std::upper_bound(b.log_mass_edges.begin(), b.log_mass_edges.end(), u);
    const int64_t k = std::clamp<int64_t>(static_cast<int64_t>(it - b.log_mass_edges.begin()) - 1, 0, nm - 1);
    n[static_cast<size_t>(b.voxel_bin[static_cast<size_t>(vox[static_cast<size_t>(j)])] * nm + k)] += 1;
  }
  return n;
}

std::vector<double> expected_binned_counts(const NeuralBiasModel& m, std::span<const double> theta, const MassFunctionBins& b) {
  const Catalogue& c = m.catalogue();
  const int64_t n = c.grid(), nm = b.mass_bins();
  core::GradScope<double> scope;
  const Tensor<double> f = c.field.contiguous().reshape(Shape{1, 1, n, n, n});
  const Tensor<double> t(Shape{static_cast<int64_t>(theta.size())}, theta);
  const auto p = bias_model_intensity(core::constant_ref(f), core::constant(t), m.options());
  // λ_j above every finite edge; λ(∞) = 0.
  std::vector<std::vector<double>> above;
  for (int64_t k = 0; k < nm; ++k)
    above.push_back(expected_counts(p, {.voxel_volume = c.voxel_volume(), .log_threshold = b.log_mass_edges[static_cast<size_t>(k)]})
                        .value()
                        .to_vector());
  above.emplace_back(static_cast<size_t>(n * n * n), 0.0);
  std::vector<double> e(static_cast<size_t>(b.density_bins() * nm), 0.0);
  for (int64_t j = 0; j < n * n * n; ++j)
    for (int64_t k = 0; k < nm; ++k)
      e[static_cast<size_t>(b.voxel_bin[static_cast<size_t>(j)] * nm + k)] +=
          above[static_cast<size_t>(k)][static_cast<size_t>(j)] - above[static_cast<size_t>(k + 1)][static_cast<size_t>(j)];
  return e;
}

double chi2_survival(double x, double dof) {
  // Q(a, z), a = dof/2, z = x/2: the series for P when z < a + 1, else Lentz's continued
  // fraction for Q (Numerical Recipes §6.2), both to 1e-15.
  if (!(dof > 0) || std::isnan(x)) return std::numeric_limits<double>::quiet_NaN();
  if (x <= 0) return 1;
  const double a = 0.5 * dof, z = 0.5 * x, log_pre = a * std::log(z) - z - std::lgamma(a);
  if (z < a + 1) {
    double sum = 1 / a, term = sum;
    for (int n = 1; n < 10000 && std::abs(term) > 1e-16 * std::abs(sum); ++n) sum += (term *= z / (a + n));
    return 1 - sum * std::exp(log_pre);
  }
  const double tiny = 1e-300;
  double bb = z + 1 - a, c = 1 / tiny, d = 1 / bb, h = d;
  for (int i = 1; i < 10000; ++i) {
    const double an = -i * (i - a);
    bb += 2;
    d = an * d + bb;
    d = std::abs(d) < tiny ? tiny : d;
    c = bb + an / c;
    c = std::abs(c) < tiny ? tiny : c;
    d = 1 / d;
    const double del = d * c;
    h *= del;
    if (std::abs(del - 1) < 1e-15) break;
  }
  return std::exp(log_pre) * h;
}

}  // namespace trusty::density
