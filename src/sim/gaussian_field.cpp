#include "trusty/sim/gaussian_field.hpp"

#include <fftw3.h>

#include <cmath>
#include <complex>
#include <mutex>
#include <stdexcept>

#include "trusty/core/fft.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/core/rng.hpp"

namespace trusty::sim {

namespace {
std::mutex& planner_mutex() { return core::fftw_planner_mutex(); }  // shared with every FFTW user
struct Buffer {
  explicit Buffer(int64_t n) : p(fftw_alloc_complex(static_cast<size_t>(n))) {}
  ~Buffer() { fftw_free(p); }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;
  fftw_complex* p;
};
void check_theta(std::span<const double> theta, const char* who) {
  if (theta.size() != 2) throw std::invalid_argument(std::string(who) + ": expected θ = (A, B), got " + std::to_string(theta.size()) + " values");
  if (!(theta[0] > 0) || !std::isfinite(theta[1]))
    throw std::invalid_argument(std::string(who) + ": expected amplitude A > 0 and a finite slope B, got A = " +
                                std::to_string(theta[0]) + ", B = " + std::to_string(theta[1]));
}
}  // namespace

struct GaussianField::Fft {
  fftw_plan forward = nullptr, backward = nullptr;
};

GaussianField::GaussianField(int64_t n) : n_(n), fft_(std::make_unique<Fft>()) {
  if (n_ < 2) throw std::invalid_argument("GaussianField: grid size N must be at least 2, got " + std::to_string(n_));
  const int64_t m = n_ * n_;
  logk_.assign(static_cast<size_t>(m), 0.0);
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < n_; ++j) {
      const double kx = static_cast<double>(2 * i < n_ ? i : i - n_), ky = static_cast<double>(2 * j < n_ ? j : j - n_);
      if (i || j) logk_[static_cast<size_t>(i * n_ + j)] = 0.5 * std::log(kx * kx + ky * ky);
    }
  Buffer a(m), b(m);
  std::lock_guard lock(planner_mutex());
  const int ni = static_cast<int>(n_);
  fft_->forward = fftw_plan_dft_2d(ni, ni, a.p, b.p, FFTW_FORWARD, FFTW_ESTIMATE);
  fft_->backward = fftw_plan_dft_2d(ni, ni, a.p, b.p, FFTW_BACKWARD, FFTW_ESTIMATE);
  if (!fft_->forward || !fft_->backward) throw std::runtime_error("GaussianField: FFTW could not plan an N×N transform");
}

GaussianField::~GaussianField() {
  std::lock_guard lock(planner_mutex());
  if (fft_->forward) fftw_destroy_plan(fft_->forward);
  if (fft_->backward) fftw_destroy_plan(fft_->backward);
}

void GaussianField::simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  check_theta(theta, "gaussian_field");
  const int64_t m = n_ * n_;
  Buffer a(m), b(m);
  core::Rng rng(seed, static_cast<uint64_t>(index));
  for (int64_t i = 0; i < m; ++i) {
    a.p[i][0] = rng.normal();
    a.p[i][1] = 0;
  }
  fftw_execute_dft(fft_->forward, a.p, b.p);
  const double amp = theta[0], slope = theta[1];
  b.p[0][0] = b.p[0][1] = 0;  // k = 0
  for (int64_t i = 1; i < m; ++i) {
    const double s = std::sqrt(amp * std::exp(-slope * logk_[static_cast<size_t>(i)]));
    b.p[i][0] *= s;
    b.p[i][1] *= s;
  }
  fftw_execute_dft(fft_->backward, b.p, a.p);
  const double inv_m = 1.0 / static_cast<double>(m);
  for (int64_t i = 0; i < m; ++i) out[static_cast<size_t>(i)] = a.p[i][0] * inv_m;
}

// The same field on the tape: w as simulate() draws it, its half spectrum (rfftn; w is real,
// so the full spectrum is its Hermitian extension and irfftn of the product is the real
// part simulate() keeps), times √P(k) = √A · exp(−B ln k / 2), zero at k = 0. irfftn divides
// by M as simulate() does.
core::Var<double> GaussianField::simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const {
  check_tape_theta(*this, theta);
  check_theta(std::span<const double>(theta.data(), 2), "gaussian_field");
  const int64_t m = n_ * n_, h = n_ / 2 + 1;
  Tensor<double> w(Shape{n, n_, n_});
  for (int64_t s = 0; s < n; ++s) {
    core::Rng rng(seed, static_cast<uint64_t>(first + s));
    for (int64_t i = 0; i < m; ++i) w.data()[s * m + i] = rng.normal();
  }
  Tensor<double> lk(Shape{n_, h, 1}), nonzero(Shape{n_, h, 1});
  for (int64_t i = 0; i < n_; ++i)
    for (int64_t j = 0; j < h; ++j) {
      lk.data()[i * h + j] = logk_[static_cast<size_t>(i * n_ + j)];
      nonzero.data()[i * h + j] = (i || j) ? 1.0 : 0.0;
    }
  const Shape one{1, 1, 1};
  auto amp = core::reshape(core::slice(theta, 0, 0, 1), one), slope = core::reshape(core::slice(theta, 0, 1, 2), one);
  auto root_p = core::sqrt(amp) * core::exp(-0.5 * slope * core::constant(lk)) * core::constant(nonzero);  // [N, N/2+1, 1]
  return core::irfftn(core::rfftn(core::constant(w), 2) * root_p, 2, n_);                                   // [n, N, N]
}

core::Var<double> GaussianField::simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const {
  return core::reshape(simulate_tape_batch(theta, seed, index, 1), Shape{n_, n_});
}

std::optional<Tensor<double>> GaussianField::fisher(std::span<const double> theta) const {
  check_theta(theta, "gaussian_field");
  const double ia = 1.0 / theta[0];
  double faa = 0, fab = 0, fbb = 0;
  for (size_t i = 1; i < logk_.size(); ++i) {
    const double gb = -logk_[i];
    faa += ia * ia;
    fab += ia * gb;
    fbb += gb * gb;
  }
  return Tensor<double>(Shape{2, 2}, {0.5 * faa, 0.5 * fab, 0.5 * fab, 0.5 * fbb});
}

std::optional<std::vector<double>> GaussianField::score(std::span<const double> theta, std::span<const double> data) const {
  check_theta(theta, "gaussian_field");
  const int64_t m = n_ * n_;
  if (static_cast<int64_t>(data.size()) != m)
    throw std::invalid_argument("gaussian_field score: expected " + std::to_string(m) + " values, got " + std::to_string(data.size()));
  Buffer a(m), b(m);
  for (int64_t i = 0; i < m; ++i) {
    a.p[i][0] = data[static_cast<size_t>(i)];
    a.p[i][1] = 0;
  }
  fftw_execute_dft(fft_->forward, a.p, b.p);
  const double ia = 1.0 / theta[0];
  double sa = 0, sb = 0;
  for (int64_t i = 1; i < m; ++i) {
    const double lk = logk_[static_cast<size_t>(i)];
    const double p = theta[0] * std::exp(-theta[1] * lk);
    const double w = (b.p[i][0] * b.p[i][0] + b.p[i][1] * b.p[i][1]) / (static_cast<double>(m) * p) - 1;
    sa += w * ia;
    sb -= w * lk;
  }
  return std::vector<double>{0.5 * sa, 0.5 * sb};
}

void LognormalField::simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  field_.simulate(theta, seed, index, out);
  for (auto& v : out) v = std::exp(v);
}

core::Var<double> LognormalField::simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const {
  check_tape_theta(*this, theta);
  return core::exp(field_.simulate_tape(theta, seed, index));
}

core::Var<double> LognormalField::simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const {
  check_tape_theta(*this, theta);
  return core::exp(field_.simulate_tape_batch(theta, seed, first, n));
}

std::optional<std::vector<double>> LognormalField::score(std::span<const double> theta, std::span<const double> data) const {
  std::vector<double> g(data.size());
  for (size_t i = 0; i < g.size(); ++i) {
    if (!(data[i] > 0)) throw std::invalid_argument("lognormal_field score: data must be positive");
    g[i] = std::log(data[i]);
  }
  return field_.score(theta, g);
}

}  // namespace trusty::sim
