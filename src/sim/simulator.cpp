#include "trusty/sim/simulator.hpp"

#include <algorithm>
#include <cmath>
#include <exception>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "trusty/core/jvp.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::sim {

// Out of line: inlined, GCC 12 speculatively devirtualises data_shape() to
// FunctionSimulator's and then warns (-Warray-bounds) about other simulators.
int64_t Simulator::data_size() const { return data_shape().numel(); }

bool Simulator::simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const {
  if (!has_tape()) return false;
  tape_gradient(*this, theta, seed, index, out);
  return true;
}

core::Var<double> Simulator::simulate_tape(const core::Var<double>&, uint64_t, int64_t) const {
  throw std::logic_error("simulator '" + name() + "' has no tape form (simulate_tape)");
}

void check_tape_theta(const Simulator& s, const core::Var<double>& theta) {
  if (!theta || theta.rank() != 1 || theta.dim(0) != s.n_params())
    throw std::invalid_argument(s.name() + " simulate_tape: expected θ of shape [" + std::to_string(s.n_params()) + "], got " +
                                (theta ? theta.shape().str() : std::string("none")));
}

core::Var<double> Simulator::simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const {
  auto shape = data_shape().to_vector();
  shape.insert(shape.begin(), 1);
  std::vector<core::Var<double>> parts;
  for (int64_t i = 0; i < n; ++i) parts.push_back(core::reshape(simulate_tape(theta, seed, first + i), Shape(std::span<const int64_t>(shape))));
  return core::concat(std::span<const core::Var<double>>(parts), 0);
}

void tape_gradients(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t first, int64_t n, std::span<double> out) {
  if (!s.has_tape())
    throw std::invalid_argument("simulator '" + s.name() + "' has no tape form (simulate_tape), so no dd/dθ by autodiff");
  const int64_t p = s.n_params(), d = s.data_size();
  if (static_cast<int64_t>(theta.size()) != p || static_cast<int64_t>(out.size()) != n * d * p)
    throw std::invalid_argument("tape_gradients: simulator '" + s.name() + "' takes " + std::to_string(p) + " parameters and gives " +
                                std::to_string(n * d * p) + " derivatives for " + std::to_string(n) + " simulations, got " +
                                std::to_string(theta.size()) + " and room for " + std::to_string(out.size()));
  if (n == 0) return;
  core::GradScope<double> scope;  // everything recorded here is dropped on return
  const auto th = core::constant(Tensor<double>(Shape{p}, theta));
  const std::function<core::Var<double>(const core::Var<double>&)> f = [&](const core::Var<double>& t) {
    return s.simulate_tape_batch(t, seed, first, n);
  };
  for (int64_t a = 0; a < p; ++a) {
    Tensor<double> e(Shape{p});
    e.data()[a] = 1;
    const auto [y, dy] = core::jvp<double>(f, th, core::constant(e));
    if (dy.numel() != n * d)
      throw std::logic_error("simulator '" + s.name() + "': simulate_tape_batch gave " + y.shape().str() + " for " + std::to_string(n) +
                             " simulations of " + s.data_shape().str());
    const double* v = dy.data();
    for (int64_t i = 0; i < n * d; ++i) out[static_cast<size_t>(i * p + a)] = v[i];
  }
}

void tape_gradient(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) {
  tape_gradients(s, theta, seed, index, 1, out);
}

FunctionSimulator::FunctionSimulator(std::string name, int64_t n_params, Shape data_shape, SimulateFn fn)
    : name_(std::move(name)), n_params_(n_params), shape_(data_shape), fn_(std::move(fn)) {
  if (n_params_ < 1) throw std::invalid_argument("FunctionSimulator '" + name_ + "': n_params must be positive");
  if (shape_.numel() < 1) throw std::invalid_argument("FunctionSimulator '" + name_ + "': empty data shape " + shape_.str());
  if (!fn_) throw std::invalid_argument("FunctionSimulator '" + name_ + "': no function given");
}

void check_finite(std::span<const double> v, const std::string& what) {
  for (size_t i = 0; i < v.size(); ++i)
    if (!std::isfinite(v[i])) {
      std::ostringstream os;
      os << what << ": element " << i << " is " << v[i] << " (expected a finite number)";
      throw std::invalid_argument(os.str());
    }
}

namespace {
std::string theta_str(std::span<const double> theta) {
  std::ostringstream os;
  os << "(";
  for (size_t a = 0; a < theta.size(); ++a) os << (a ? ", " : "") << theta[a];
  return os.str() + ")";
}

void require_params(const Simulator& s, std::span<const double> theta, const char* what) {
  if (static_cast<int64_t>(theta.size()) != s.n_params())
    throw std::invalid_argument(std::string(what) + ": simulator '" + s.name() + "' takes " + std::to_string(s.n_params()) +
                                " parameters, got " + std::to_string(theta.size()));
}

void run_one(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) {
  s.simulate(theta, seed, index, out);
  for (double v : out)
    if (!std::isfinite(v))
      throw std::invalid_argument("simulator '" + s.name() + "' returned " + std::to_string(v) + " for simulation index " +
                                  std::to_string(index) + " at theta = " + theta_str(theta) + " (expected finite values)");
}

Shape prepend(std::initializer_list<int64_t> lead, const Shape& s) {
  std::vector<int64_t> d(lead);
  for (auto x : s.dims()) d.push_back(x);
  return Shape(std::span<const int64_t>(d));
}
}  // namespace

void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn) {
  const int64_t workers = std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, n));
  if (workers == 1) {
    for (int64_t i = 0; i < n; ++i) fn(i);
    return;
  }
  std::vector<std::exception_ptr> errors(static_cast<size_t>(workers));
  std::vector<int64_t> failed(static_cast<size_t>(workers), n);
  std::vector<std::thread> pool;
  for (int64_t w = 0; w < workers; ++w)
    pool.emplace_back([&, w] {
      const int64_t lo = n * w / workers, hi = n * (w + 1) / workers;
      for (int64_t i = lo; i < hi; ++i) {
        try {
          fn(i);
        } catch (...) {
          errors[static_cast<size_t>(w)] = std::current_exception();
          failed[static_cast<size_t>(w)] = i;
          return;
        }
      }
    });
  for (auto& t : pool) t.join();
  const auto first = std::min_element(failed.begin(), failed.end()) - failed.begin();
  if (errors[static_cast<size_t>(first)]) std::rethrow_exception(errors[static_cast<size_t>(first)]);
}

Tensor<double> simulate_batch(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t first, int64_t n,
                              int threads) {
  require_params(s, theta, "simulate_batch");
  const int64_t m = s.data_size();
  Tensor<double> out(prepend({n}, s.data_shape()));
  double* p = out.data();
  parallel_for(n, threads, [&](int64_t i) { run_one(s, theta, seed, first + i, {p + i * m, static_cast<size_t>(m)}); });
  return out;
}

Tensor<double> simulate_derivatives(const Simulator& s, std::span<const double> theta,
                                    std::span<const double> delta_theta, uint64_t seed, int64_t first, int64_t n,
                                    int threads) {
  require_params(s, theta, "simulate_derivatives");
  const int64_t p = s.n_params(), m = s.data_size();
  if (static_cast<int64_t>(delta_theta.size()) != p)
    throw std::invalid_argument("simulate_derivatives: delta_theta has " + std::to_string(delta_theta.size()) +
                                " entries, expected one per parameter (" + std::to_string(p) + ")");
  for (double d : delta_theta)
    if (!(d > 0)) throw std::invalid_argument("simulate_derivatives: delta_theta entries must be positive, got " + std::to_string(d));
  Tensor<double> out(prepend({n, 2, p}, s.data_shape()));
  double* o = out.data();
  parallel_for(n, threads, [&](int64_t i) {
    std::vector<double> th(theta.begin(), theta.end());
    for (int64_t side = 0; side < 2; ++side)
      for (int64_t a = 0; a < p; ++a) {
        th[static_cast<size_t>(a)] = theta[static_cast<size_t>(a)] + (side ? 0.5 : -0.5) * delta_theta[static_cast<size_t>(a)];
        run_one(s, th, seed, first + i, {o + ((i * 2 + side) * p + a) * m, static_cast<size_t>(m)});
        th[static_cast<size_t>(a)] = theta[static_cast<size_t>(a)];
      }
  });
  return out;
}

}  // namespace trusty::sim
