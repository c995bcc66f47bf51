// LogDensity: the one interface every sampler sees. A log density ln π(θ) (up to a constant)
// over a flat, unconstrained θ ∈ ℝ^d, with its gradient. Implemented by trusty models
// (Bayesian networks, the neural bias model), by user C++ functions written with trusty's
// autodiff (AutodiffDensity), by plain C++ callables (FunctionDensity) and, in the Python
// bindings, by Python callables returning (log_density, gradient).
//
// Constrained parameters (positive, an interval, a simplex) are sampled on the unconstrained
// space with the log-Jacobian of the transform added to ln π (as Stan does); constrain()
// maps an unconstrained θ to the values reported in the output.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/grad_check.hpp"
#include "trusty/core/var.hpp"

namespace trusty::mcmc {

class LogDensity {
 public:
  virtual ~LogDensity() = default;
  // Dimension of the unconstrained θ.
  virtual int64_t dim() const = 0;
  // ln π(θ) and ∂ln π/∂θ into grad (size dim()). Must be safe to call from several threads
  // at once (each chain runs on its own thread). A non-finite value means θ is outside the
  // support; the samplers treat it (or a non-finite gradient) as a divergence.
  virtual double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const = 0;
  // ln π(θ) alone; the default calls log_density_and_gradient.
  virtual double log_density(std::span<const double> theta) const;

  // The reported (constrained) parameters: their count, names ("sigma", "w.3"), and the map
  // from θ. The defaults report θ itself as theta.1 ... theta.d (Stan's 1-based names).
  virtual int64_t constrained_dim() const { return dim(); }
  virtual std::vector<std::string> param_names() const;
  virtual void constrain(std::span<const double> theta, std::span<double> out) const;
};

// What the callable densities below share: the dimension, the optional parameter names
// (checked against it) and their reporting.
class NamedDensity : public LogDensity {
 public:
  int64_t dim() const override { return dim_; }
  std::vector<std::string> param_names() const override;

 protected:
  // `who` names the class in the messages.
  NamedDensity(int64_t dim, std::vector<std::string> names, const char* who);

 private:
  int64_t dim_;
  std::vector<std::string> names_;
};

// A plain callable: f(theta, grad) returns ln π(θ) and writes the gradient.
class FunctionDensity : public NamedDensity {
 public:
  using Fn = std::function<double(std::span<const double>, std::span<double>)>;
  FunctionDensity(int64_t dim, Fn f, std::vector<std::string> names = {});
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;

 private:
  Fn f_;
};

// A log density written with trusty's autodiff: f receives θ as a 1-D Var and returns a
// scalar Var; the gradient comes from core::value_and_grad on this thread's tape.
class AutodiffDensity : public NamedDensity {
 public:
  using Fn = std::function<core::Var<double>(core::Var<double>)>;
  AutodiffDensity(int64_t dim, Fn f, std::vector<std::string> names = {});
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;

 private:
  Fn f_;
};

// The repository's finite-difference check (core/grad_check.hpp: central differences,
// relative error) applied to a LogDensity's gradient at θ.
core::GradCheckResult check_gradient(const LogDensity& density, std::span<const double> theta,
                                     const core::GradCheckOptions& options = {});

}  // namespace trusty::mcmc
