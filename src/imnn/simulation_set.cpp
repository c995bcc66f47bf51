#include "trusty/imnn/simulation_set.hpp"

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "trusty/io/npy.hpp"

namespace trusty::imnn {

namespace {
std::string shape_str(std::span<const int64_t> d) {
  std::string s = "(";
  for (size_t i = 0; i < d.size(); ++i) s += (i ? ", " : "") + std::to_string(d[i]);
  return s + (d.size() == 1 ? ",)" : ")");
}
std::string expected_derivative_layout(int64_t p, std::span<const int64_t> data) {
  std::string s = "(n_d, 2, n_params=" + std::to_string(p);
  for (auto x : data) s += ", " + std::to_string(x);
  return s + ")";
}
}  // namespace

Shape SimulationSet::data_shape() const {
  auto d = fiducial.shape().to_vector();
  d.erase(d.begin());
  return Shape(std::span<const int64_t>(d));
}

namespace {
void validate_gradients(const std::string& what, std::span<const int64_t> f, const Tensor<double>& gradients) {
  const auto g = gradients.shape().to_vector();
  const auto data = f.subspan(1);
  bool ok = g.size() == data.size() + 2 && g[0] >= 1 && g.back() >= 1;
  for (size_t i = 0; ok && i < data.size(); ++i) ok = g[i + 1] == data[i];
  if (!ok) {
    std::string e = "(n_d";
    for (auto x : data) e += ", " + std::to_string(x);
    throw std::invalid_argument(what + ": derivatives dd/dθ must have shape " + e + ", n_params), found " + shape_str(g));
  }
  if (g[0] > f[0])
    throw std::invalid_argument(what + ": n_d = " + std::to_string(g[0]) + " derivatives but only n_s = " + std::to_string(f[0]) +
                                " fiducial simulations (expected n_d <= n_s)");
}
}  // namespace

void SimulationSet::validate(const std::string& what) const {
  const auto f = fiducial.shape().to_vector(), d = derivatives.shape().to_vector();
  if (f.size() < 2 || f[0] < 2)
    throw std::invalid_argument(what + ": fiducial simulations must have shape (n_s >= 2, *data_shape), found " + shape_str(f));
  if (!seed_matched()) return validate_gradients(what, f, gradients);
  const auto data = std::span<const int64_t>(f).subspan(1);
  const int64_t p = n_params();
  if (p < 1) throw std::invalid_argument(what + ": delta_theta is empty (one finite-difference step per parameter expected)");
  for (double x : delta_theta)
    if (!(x > 0)) throw std::invalid_argument(what + ": delta_theta entries must be positive, got " + std::to_string(x));
  bool ok = d.size() == data.size() + 3 && d[0] >= 1 && d[1] == 2 && d[2] == p;
  for (size_t i = 0; ok && i < data.size(); ++i) ok = d[i + 3] == data[i];
  if (!ok)
    throw std::invalid_argument(what + ": seed-matched derivatives must have shape " + expected_derivative_layout(p, data) +
                                " (index 0 = minus, 1 = plus), found " + shape_str(d));
  if (d[0] > f[0])
    throw std::invalid_argument(what + ": n_d = " + std::to_string(d[0]) + " derivative simulations but only n_s = " +
                                std::to_string(f[0]) + " fiducial ones (expected n_d <= n_s)");
}

Tensor<double> SimulationSet::batch() const {
  if (!seed_matched()) return fiducial.contiguous().reshape(Shape{n_s(), data_size()});
  const int64_t m = data_size(), nf = n_s(), nd = n_d() * 2 * n_params();
  Tensor<double> b(Shape{nf + nd, m});
  auto f = fiducial.contiguous(), d = derivatives.contiguous();
  std::memcpy(b.data(), f.data(), static_cast<size_t>(nf * m) * sizeof(double));
  std::memcpy(b.data() + nf * m, d.data(), static_cast<size_t>(nd * m) * sizeof(double));
  return b;
}

Tensor<double> SimulationSet::tangents() const {
  if (seed_matched()) throw std::logic_error("SimulationSet::tangents: a seed-matched set has no dd/dθ");
  const int64_t nd = n_d(), m = data_size(), p = n_params();
  // (n_d, D, p) -> (n_d, p, D)
  return gradients.contiguous().reshape(Shape{nd, m, p}).permute(std::vector<int>{0, 2, 1}).contiguous().reshape(Shape{nd * p, m});
}

SimulationSet simulate_set(const sim::Simulator& s, std::span<const double> theta_fid, std::span<const double> delta_theta,
                           uint64_t seed, int64_t first, int64_t n_s, int64_t n_d, int threads) {
  if (n_s < 2 || n_d < 1 || n_d > n_s)
    throw std::invalid_argument("simulate_set: expected n_s >= 2 and 1 <= n_d <= n_s, got n_s = " + std::to_string(n_s) +
                                ", n_d = " + std::to_string(n_d));
  SimulationSet set;
  set.fiducial = sim::simulate_batch(s, theta_fid, seed, first, n_s, threads);
  set.derivatives = sim::simulate_derivatives(s, theta_fid, delta_theta, seed, first, n_d, threads);
  set.delta_theta.assign(delta_theta.begin(), delta_theta.end());
  return set;
}

SimulationSet simulate_gradient_set(const sim::Simulator& s, std::span<const double> theta_fid, uint64_t seed, int64_t first,
                                    int64_t n_s, int64_t n_d, int threads, bool autodiff) {
  if (n_s < 2 || n_d < 1 || n_d > n_s)
    throw std::invalid_argument("simulate_gradient_set: expected n_s >= 2 and 1 <= n_d <= n_s, got n_s = " + std::to_string(n_s) +
                                ", n_d = " + std::to_string(n_d));
  SimulationSet set;
  set.fiducial = sim::simulate_batch(s, theta_fid, seed, first, n_s, threads);
  set.gradients = simulate_gradients(s, theta_fid, seed, first, n_d, threads, autodiff);
  return set;
}

Tensor<double> simulate_gradients(const sim::Simulator& s, std::span<const double> theta_fid, uint64_t seed, int64_t first,
                                  int64_t n, int threads, bool autodiff) {
  if (autodiff && !s.has_tape())
    throw std::invalid_argument("simulator '" + s.name() + "' has no tape form, so no dd/dθ by autodiff (mode 3): use derivatives = "
                                "\"seed_matched\" or \"gradient\"");
  const int64_t per = s.data_size() * s.n_params();
  auto shape = s.data_shape().to_vector();
  shape.insert(shape.begin(), n);
  shape.push_back(s.n_params());
  Tensor<double> g{Shape(std::span<const int64_t>(shape))};
  if (autodiff) {  // blocks of simulations, one batched tape and p jvps per block
    constexpr int64_t kBlock = 64;
    sim::parallel_for((n + kBlock - 1) / kBlock, threads, [&](int64_t b) {
      const int64_t a = b * kBlock, m = std::min(n, a + kBlock) - a;
      std::span<double> out(g.data() + a * per, static_cast<size_t>(m * per));
      sim::tape_gradients(s, theta_fid, seed, first + a, m, out);
      sim::check_finite(out, "dd/dθ of simulations " + std::to_string(first + a) + " .. " + std::to_string(first + a + m - 1) + " of '" +
                                 s.name() + "'");
    });
    return g;
  }
  sim::parallel_for(n, threads, [&](int64_t i) {
    std::span<double> out(g.data() + i * per, static_cast<size_t>(per));
    if (!s.simulate_gradient(theta_fid, seed, first + i, out))
      throw std::invalid_argument("simulator '" + s.name() + "' gives no dd/dθ: use seed-matched derivatives (mode 1)");
    sim::check_finite(out, "dd/dθ of simulation " + std::to_string(first + i) + " of '" + s.name() + "'");
  });
  return g;
}

SimulationSet load_set(const std::string& fiducial_npy, const std::string& derivatives_npy,
                       std::span<const double> delta_theta, const std::vector<int64_t>& data_shape) {
  SimulationSet set;
  set.fiducial = io::read_npy(fiducial_npy).tensor<double>();
  set.derivatives = io::read_npy(derivatives_npy).tensor<double>();
  set.delta_theta.assign(delta_theta.begin(), delta_theta.end());
  if (!data_shape.empty()) {
    auto f = set.fiducial.shape().to_vector();
    std::vector<int64_t> expect{f.empty() ? 0 : f[0]};
    expect.insert(expect.end(), data_shape.begin(), data_shape.end());
    if (f != expect)
      throw std::invalid_argument(fiducial_npy + ": fiducial simulations must have shape " +
                                  expected_derivative_layout(0, data_shape).replace(0, 19, "(n_s") + ", found " + shape_str(f));
  }
  set.validate(fiducial_npy + " and " + derivatives_npy);
  sim::check_finite(set.fiducial.span(), fiducial_npy);
  sim::check_finite(set.derivatives.span(), derivatives_npy);
  return set;
}

SimulationSet load_gradient_set(const std::string& fiducial_npy, const std::string& gradients_npy, int64_t n_params,
                                const std::vector<int64_t>& data_shape) {
  SimulationSet set;
  set.fiducial = io::read_npy(fiducial_npy).tensor<double>();
  set.gradients = io::read_npy(gradients_npy).tensor<double>();
  if (!data_shape.empty() && set.fiducial.shape().to_vector() != [&] {
        std::vector<int64_t> e{set.fiducial.rank() ? set.fiducial.dim(0) : 0};
        e.insert(e.end(), data_shape.begin(), data_shape.end());
        return e;
      }())
    throw std::invalid_argument(fiducial_npy + ": fiducial simulations must have the data shape of the training set, found " +
                                shape_str(set.fiducial.shape().to_vector()));
  set.validate(fiducial_npy + " and " + gradients_npy);
  if (set.n_params() != n_params)
    throw std::invalid_argument(gradients_npy + ": dd/dθ has " + std::to_string(set.n_params()) + " parameters (last axis), expected " +
                                std::to_string(n_params));
  sim::check_finite(set.fiducial.span(), fiducial_npy);
  sim::check_finite(set.gradients.span(), gradients_npy);
  return set;
}

}  // namespace trusty::imnn
