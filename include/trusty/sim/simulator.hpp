// Simulator: a forward model as a pure function of (θ, seed, simulation index). The noise of
// simulation i is drawn from core::Rng(seed, i) (Philox), so a simulation never depends on
// which thread or rank ran it, and re-running index i at another θ with the same seed gives
// a seed-matched simulation (the same noise realisation), which is what the IMNN's
// finite-difference derivatives need.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/tensor.hpp"
#include "trusty/core/var.hpp"

namespace trusty::sim {

using core::Shape;
using core::Tensor;

class Simulator {
 public:
  virtual ~Simulator() = default;
  virtual std::string name() const = 0;
  virtual int64_t n_params() const = 0;
  virtual Shape data_shape() const = 0;  // shape of one simulation
  // Writes simulation `index` at `theta` into `out` (data_shape().numel() values).
  virtual void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const = 0;
  // The Fisher information of the data at theta, [n_params, n_params], when known in
  // closed form; empty otherwise.
  virtual std::optional<Tensor<double>> fisher(std::span<const double> theta) const { return std::nullopt; }
  // The score ∂ ln L(d|θ)/∂θ of one simulation `data`, when known (for checking fisher()
  // against the Monte Carlo covariance of the score); empty otherwise.
  virtual std::optional<std::vector<double>> score(std::span<const double> theta, std::span<const double> data) const {
    return std::nullopt;
  }
  // dd/dθ of simulation `index` at theta, [*data_shape, n_params] row-major, for derivative
  // mode 2; false when the simulator cannot give it. By default: tape_gradient() when the
  // simulator has a tape form, else false.
  virtual bool simulate_gradient(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const;
  // The tape form (derivative mode 3): simulation `index` recorded on the current tape with
  // trusty's differentiable ops, θ a Var [n_params] on that tape, the noise drawn exactly as
  // simulate() draws it, so the value is simulate()'s up to rounding and derivatives with
  // respect to θ flow through the ops (core::jvp, backward). Returns [*data_shape].
  // has_tape() says whether simulate_tape is implemented (the default throws std::logic_error).
  virtual bool has_tape() const { return false; }
  virtual core::Var<double> simulate_tape(const core::Var<double>& theta, uint64_t seed, int64_t index) const;
  // Simulations first .. first+n−1 on the tape as one [n, *data_shape] Var. By default the
  // per-index forms stacked; the built-ins record the whole batch with a few batched ops
  // (one jvp per parameter then serves many simulations).
  virtual core::Var<double> simulate_tape_batch(const core::Var<double>& theta, uint64_t seed, int64_t first, int64_t n) const;
  int64_t data_size() const;  // data_shape().numel()
};

// A user's simulator in C++: fn(theta, rng-ready seed, index, out).
using SimulateFn = std::function<void(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out)>;

class FunctionSimulator final : public Simulator {
 public:
  FunctionSimulator(std::string name, int64_t n_params, Shape data_shape, SimulateFn fn);
  std::string name() const override { return name_; }
  int64_t n_params() const override { return n_params_; }
  Shape data_shape() const override { return shape_; }
  void simulate(std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out) const override {
    fn_(theta, seed, index, out);
  }

 private:
  std::string name_;
  int64_t n_params_;
  Shape shape_;
  SimulateFn fn_;
};

// Simulations first .. first+n-1 at theta as one array [n, *data_shape]. Throws
// std::invalid_argument naming the simulator, the index and θ when a value is not finite
// (the lowest such index, whatever the thread count). `threads` splits the indices into
// contiguous ranges; each simulation depends only on (θ, seed, index), so the result is the
// same bit for bit for any thread count. simulate() must then be safe to call concurrently
// (the built-ins are).
Tensor<double> simulate_batch(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t first, int64_t n,
                              int threads = 1);

// dd/dθ of simulation `index` at theta through the simulator's tape form, [*data_shape,
// n_params] row-major: one forward-mode pass (core::jvp) per parameter, each along a unit
// vector of θ (n_params passes beat one reverse pass per datum). Throws
// std::invalid_argument naming the simulator when it has no tape form.
void tape_gradient(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t index, std::span<double> out);
// The same for simulations first .. first+n−1 at once (simulate_tape_batch), into out
// [n, *data_shape, n_params].
void tape_gradients(const Simulator& s, std::span<const double> theta, uint64_t seed, int64_t first, int64_t n, std::span<double> out);

// Checks a tape form's θ: a Var of shape [n_params] with values simulate() accepts.
void check_tape_theta(const Simulator& s, const core::Var<double>& theta);

// Seed-matched simulations for central differences, [n, 2, n_params, *data_shape]: entry
// (i, 0, a) is simulation first+i at θ − δθ_a/2·e_a, entry (i, 1, a) at θ + δθ_a/2·e_a
// (delta_theta is the full spacing).
Tensor<double> simulate_derivatives(const Simulator& s, std::span<const double> theta,
                                    std::span<const double> delta_theta, uint64_t seed, int64_t first, int64_t n,
                                    int threads = 1);

// Runs fn(i) for i in [0, n) on up to `threads` threads in contiguous ranges (one thread when
// n is small); rethrows the exception of the lowest failing i.
void parallel_for(int64_t n, int threads, const std::function<void(int64_t)>& fn);

// Throws std::invalid_argument naming `what` and the first non-finite element.
void check_finite(std::span<const double> v, const std::string& what);

}  // namespace trusty::sim
