#include "trusty/density/lognormal_field.hpp"

#include <fftw3.h>

#include <cmath>
#include <complex>
#include <mutex>
#include <numbers>
#include <stdexcept>
#include <string>
#include <vector>

#include "trusty/core/fft.hpp"
#include "trusty/core/rng.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;

void FieldOptions::validate() const {
  auto bad = [](const std::string& m) { throw std::invalid_argument("FieldOptions: " + m); };
  if (grid < 4 || grid > 1024) bad("grid = " + std::to_string(grid) + "; expected 4 to 1024");
  if (!(box_size > 0) || !std::isfinite(box_size)) bad("box_size = " + std::to_string(box_size) + "; expected > 0");
  if (!std::isfinite(spectral_index)) bad("spectral_index is not finite");
  if (!(smoothing >= 0) || !std::isfinite(smoothing)) bad("smoothing = " + std::to_string(smoothing) + "; expected >= 0");
  if (!(sigma > 0) || !(sigma < 5)) bad("sigma = " + std::to_string(sigma) + "; expected in (0, 5)");
}

namespace {

// FFTW's planner is not thread-safe; execution with a plan is. One lock for every FFTW user.
std::mutex& planner_mutex() { return core::fftw_planner_mutex(); }

double shape_of(double k, const FieldOptions& o) {
  return k > 0 ? std::pow(k, o.spectral_index) * std::exp(-(k * o.smoothing) * (k * o.smoothing)) : 0.0;
}

}  // namespace

Tensor<double> gaussian_field(const FieldOptions& o, uint64_t seed) {
  o.validate();
  const int n = static_cast<int>(o.grid);
  const int64_t total = o.grid * o.grid * o.grid, nc = o.grid * o.grid * (o.grid / 2 + 1);
  Tensor<double> g(Shape{o.grid, o.grid, o.grid});
  core::Rng rng(seed, 0);
  for (auto& v : g.span()) v = rng.normal();
  std::vector<std::complex<double>> w(static_cast<size_t>(nc));
  auto* wc = reinterpret_cast<fftw_complex*>(w.data());
  fftw_plan fwd, bwd;
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fwd = fftw_plan_dft_r2c_3d(n, n, n, g.data(), wc, FFTW_ESTIMATE);
    bwd = fftw_plan_dft_c2r_3d(n, n, n, wc, g.data(), FFTW_ESTIMATE);
  }
  // FFTW_ESTIMATE plans do not touch the arrays; the noise is still in g.
  fftw_execute(fwd);
  const double kf = 2 * std::numbers::pi / o.box_size, vcell = std::pow(o.box_size / o.grid, 3);
  // Amplitude: Var(g) = (1/L³) Σ_k A·shape(k) = sigma².
  double sum_shape = 0;
  auto freq = [&](int64_t i) { return static_cast<double>(i <= o.grid / 2 ? i : i - o.grid) * kf; };
  for (int64_t i = 0; i < o.grid; ++i)
    for (int64_t j = 0; j < o.grid; ++j)
      for (int64_t l = 0; l < o.grid; ++l) sum_shape += shape_of(std::hypot(freq(i), freq(j), freq(l)), o);
  const double amp = o.sigma * o.sigma * std::pow(o.box_size, 3) / sum_shape;
  const int64_t nh = o.grid / 2 + 1;
  for (int64_t i = 0; i < o.grid; ++i)
    for (int64_t j = 0; j < o.grid; ++j)
      for (int64_t l = 0; l < nh; ++l) {
        const double p = amp * shape_of(std::hypot(freq(i), freq(j), freq(l)), o);
        w[static_cast<size_t>((i * o.grid + j) * nh + l)] *= std::sqrt(p / vcell) / static_cast<double>(total);
      }
  fftw_execute(bwd);  // unnormalised inverse: the 1/n³ is in the factor above
  {
    std::lock_guard<std::mutex> lock(planner_mutex());
    fftw_destroy_plan(fwd);
    fftw_destroy_plan(bwd);
  }
  return g;
}

Tensor<double> lognormal_field(const FieldOptions& o, uint64_t seed) {
  Tensor<double> g = gaussian_field(o, seed);
  const double half_var = 0.5 * o.sigma * o.sigma;
  for (auto& v : g.span()) v = std::exp(v - half_var) - 1;
  return g;
}

}  // namespace trusty::density
