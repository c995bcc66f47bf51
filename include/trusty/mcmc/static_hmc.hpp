// Static HMC (Neal 2011; Stan's base_static_hmc): fresh momenta p ~ N(0, M), L leapfrog steps
// of size ε, Metropolis acceptance with probability min(1, exp(H0 − H_L)). L is either fixed
// (steps > 0) or max(1, ⌊T/ε⌋) for an integration time T, as Stan's static HMC does.
// accept_stat = min(1, exp(H0 − H_L)); a step with H − H0 > 1000 or a non-finite density or
// gradient ends the trajectory early, is rejected and is reported as divergent.
#pragma once
#include <cstdint>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/hamiltonian.hpp"
#include "trusty/mcmc/nuts.hpp"  // Transition

namespace trusty::mcmc {

class StaticHmc {
 public:
  StaticHmc(Hamiltonian& hamiltonian, int64_t steps, double int_time, double max_delta_h = 1000);
  int64_t steps_for(double eps) const;
  // One transition from z (q, lp, g valid); z becomes the accepted or the initial point.
  Transition transition(PhasePoint& z, double eps, core::Rng& rng);
  // The same with an explicit step count (used by HMCLET's random path lengths).
  Transition transition(PhasePoint& z, double eps, int64_t steps, core::Rng& rng);

 private:
  Hamiltonian& h_;
  int64_t steps_;
  double int_time_, max_delta_h_;
  PhasePoint z_;
};

}  // namespace trusty::mcmc
