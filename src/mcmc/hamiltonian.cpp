#include "trusty/mcmc/hamiltonian.hpp"

#include <cmath>
#include <limits>
#include <span>
#include <stdexcept>

namespace trusty::mcmc {

Hamiltonian::Hamiltonian(const LogDensity& density, Metric& metric)
    : density_(density), metric_(metric), v_(Eigen::VectorXd::Zero(metric.dim())) {}

void Hamiltonian::update(PhasePoint& z) {
  ++n_grad_;
  const auto d = static_cast<size_t>(z.q.size());
  double lp;
  try {
    lp = density_.log_density_and_gradient(std::span<const double>(z.q.data(), d), std::span<double>(z.g.data(), d));
  } catch (const std::domain_error&) {
    lp = -std::numeric_limits<double>::infinity();
  }
  if (!std::isfinite(lp) || !z.g.allFinite()) lp = -std::numeric_limits<double>::infinity();
  z.lp = lp;
}

double Hamiltonian::energy(const PhasePoint& z) const {
  const double h = -z.lp + metric_.kinetic(z.p);
  return std::isnan(h) ? std::numeric_limits<double>::infinity() : h;
}

void Hamiltonian::leapfrog(PhasePoint& z, double eps) {
  z.p.noalias() += (0.5 * eps) * z.g;
  metric_.velocity(z.p, v_);
  z.q.noalias() += eps * v_;
  update(z);
  z.p.noalias() += (0.5 * eps) * z.g;
}

}  // namespace trusty::mcmc
