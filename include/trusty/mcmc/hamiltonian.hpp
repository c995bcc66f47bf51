// Hamiltonian: H(q, p) = U(q) + K(p) with U = −ln π(q) and K from the Metric, and the
// leapfrog integrator (Neal 2011, eq. 5.18–5.20; Stan's expl_leapfrog):
//   p ← p + ε/2 ∇ln π(q);   q ← q + ε M⁻¹p;   p ← p + ε/2 ∇ln π(q).
// A point whose log density or gradient is not finite (or whose density throws
// std::domain_error, as Stan's models do outside the support) gets ln π = −∞, so H = +∞: the
// NUTS and HMC transitions then count it as a divergence and never accept it.
#pragma once
#include <cstdint>

#include <Eigen/Dense>

#include "trusty/mcmc/log_density.hpp"
#include "trusty/mcmc/metric.hpp"

namespace trusty::mcmc {

struct PhasePoint {
  Eigen::VectorXd q, p, g;  // position, momentum, ∇ln π(q)
  double lp = 0;            // ln π(q), −∞ when not finite
  PhasePoint() = default;
  explicit PhasePoint(int64_t dim)
      : q(Eigen::VectorXd::Zero(dim)), p(Eigen::VectorXd::Zero(dim)), g(Eigen::VectorXd::Zero(dim)) {}
};

class Hamiltonian {
 public:
  Hamiltonian(const LogDensity& density, Metric& metric);

  // lp and g at z.q (one gradient evaluation).
  void update(PhasePoint& z);
  // H = −ln π(q) + K(p); +∞ (never NaN) when ln π is −∞ or the kinetic energy is not finite.
  double energy(const PhasePoint& z) const;
  // One leapfrog step of size eps (negative: backwards in time).
  void leapfrog(PhasePoint& z, double eps);

  Metric& metric() { return metric_; }
  const Metric& metric() const { return metric_; }
  const LogDensity& density() const { return density_; }
  int64_t gradient_evaluations() const { return n_grad_; }
  void set_gradient_evaluations(int64_t n) { n_grad_ = n; }

 private:
  const LogDensity& density_;
  Metric& metric_;
  Eigen::VectorXd v_;  // M⁻¹p
  int64_t n_grad_ = 0;
};

}  // namespace trusty::mcmc
