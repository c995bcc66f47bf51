// Constrained parameters, sampled on the unconstrained space as Stan does (Stan reference
// manual, "Constraint transforms"): x = T(y) and the sampler's target is
//   ln π_y(y) = ln π_x(T(y)) + ln |det ∂T/∂y|.
//   real            x = y                      ln|J| = 0
//   positive        x = e^y                    ln|J| = y
//   lower (a)       x = a + e^y                ln|J| = y
//   upper (b)       x = b − e^y                ln|J| = y
//   interval (a,b)  x = a + (b − a) σ(y)       ln|J| = ln(b − a) + ln σ(y) + ln(1 − σ(y))
//   simplex (K)     stick-breaking from K − 1 values: z_k = σ(y_k − ln(K − k − 1)),
//                   x_k = s_k z_k, s_{k+1} = s_k − x_k (s_0 = 1), x_{K−1} = s_{K−1};
//                   ln|J| = Σ_k [ln s_k + ln z_k + ln(1 − z_k)]    (k = 0 … K − 2, 0-based)
// with σ the logistic function. Names are reported as Stan does: a scalar block "sigma",
// a vector block "w.1", "w.2", …
//
//   ParamSpec spec({{.name = "mu"}, {.name = "sigma", .kind = TransformKind::positive},
//                   {.name = "w", .size = 3, .kind = TransformKind::simplex}});
//   TransformedDensity d(spec, [](std::span<const double> x, std::span<double> gx) { ... });
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/var.hpp"
#include "trusty/mcmc/log_density.hpp"

namespace trusty::mcmc {

enum class TransformKind { real, positive, lower, upper, interval, simplex };

struct ParamBlock {
  std::string name;
  int64_t size = 0;  // 0: one scalar named `name`; n ≥ 1: a vector `name.1` … `name.n`
  TransformKind kind = TransformKind::real;
  double lower = 0, upper = 0;  // the bounds of lower / upper / interval
};

class ParamSpec {
 public:
  // Validates every block (std::invalid_argument naming the block).
  explicit ParamSpec(std::vector<ParamBlock> blocks);

  int64_t unconstrained_dim() const { return udim_; }
  int64_t constrained_dim() const { return cdim_; }
  std::vector<std::string> names() const;
  const std::vector<ParamBlock>& blocks() const { return blocks_; }

  // x = T(y); returns ln|det ∂T/∂y|.
  double constrain(std::span<const double> y, std::span<double> x) const;
  // gy = (∂T/∂y)ᵀ gx + ∇_y ln|det ∂T/∂y|, from y and x = T(y).
  void backprop(std::span<const double> y, std::span<const double> x, std::span<const double> gx,
                std::span<double> gy) const;
  // y = T⁻¹(x) (for initial values given on the constrained scale).
  void unconstrain(std::span<const double> x, std::span<double> y) const;

 private:
  std::vector<ParamBlock> blocks_;
  int64_t udim_ = 0, cdim_ = 0;
};

// A log density of the constrained parameters plus the log-Jacobian of the transforms.
class TransformedDensity : public LogDensity {
 public:
  // f(x, grad_x) returns ln π(x) and writes ∂ln π/∂x.
  using ConstrainedFn = std::function<double(std::span<const double>, std::span<double>)>;
  // f receives x as a 1-D Var (trusty autodiff) and returns ln π(x) as a scalar Var.
  using AutodiffFn = std::function<core::Var<double>(core::Var<double>)>;

  TransformedDensity(ParamSpec spec, ConstrainedFn f);
  TransformedDensity(ParamSpec spec, AutodiffFn f);

  int64_t dim() const override { return spec_.unconstrained_dim(); }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  int64_t constrained_dim() const override { return spec_.constrained_dim(); }
  std::vector<std::string> param_names() const override { return spec_.names(); }
  void constrain(std::span<const double> theta, std::span<double> out) const override;
  const ParamSpec& spec() const { return spec_; }

 private:
  ParamSpec spec_;
  ConstrainedFn f_;
};

}  // namespace trusty::mcmc
