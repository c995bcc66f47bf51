#include "trusty/mcmc/static_hmc.hpp"

#include <cmath>

namespace trusty::mcmc {

StaticHmc::StaticHmc(Hamiltonian& hamiltonian, int64_t steps, double int_time, double max_delta_h)
    : h_(hamiltonian), steps_(steps), int_time_(int_time), max_delta_h_(max_delta_h),
      z_(hamiltonian.metric().dim()) {}

int64_t StaticHmc::steps_for(double eps) const {
  if (steps_ > 0) return steps_;
  const double l = int_time_ / eps;
  return l < 1 ? 1 : static_cast<int64_t>(l);
}

Transition StaticHmc::transition(PhasePoint& z, double eps, core::Rng& rng) {
  return transition(z, eps, steps_for(eps), rng);
}

Transition StaticHmc::transition(PhasePoint& z, double eps, int64_t steps, core::Rng& rng) {
  z_.q = z.q;
  z_.g = z.g;
  z_.lp = z.lp;
  h_.metric().sample_momentum(rng, z_.p);
  z.p = z_.p;
  const double H0 = h_.energy(z_);
  Transition t;
  double h = H0;
  for (int64_t i = 0; i < steps; ++i) {
    h_.leapfrog(z_, eps);
    ++t.n_leapfrog;
    h = h_.energy(z_);
    if (h - H0 > max_delta_h_) {  // includes a non-finite point (H = +∞)
      t.divergent = true;
      break;
    }
  }
  const double accept = t.divergent ? 0.0 : std::exp(H0 - h);
  if (!t.divergent && (accept >= 1 || rng.uniform() < accept)) {
    z.q = z_.q;
    z.p = z_.p;
    z.g = z_.g;
    z.lp = z_.lp;
  }
  t.accept_stat = accept > 1 ? 1 : accept;
  t.energy = h_.energy(z);
  return t;
}

}  // namespace trusty::mcmc
