// The No-U-Turn sampler as Stan implements it (Hoffman & Gelman 2014, with the changes of
// Betancourt 2017, "A conceptual introduction to Hamiltonian Monte Carlo", appendix A; Stan's
// base_nuts):
//  - the trajectory doubles in a random direction until the generalised no-U-turn criterion
//    fails or the tree reaches max_depth (default 10, at most 2^10 − 1 leapfrog steps);
//  - points are drawn multinomially with weights exp(H0 − H): inside a new subtree in
//    proportion to the weights (the final half replaces the initial half's proposal with
//    probability w_final / w_subtree), and between the new subtree and the old trajectory
//    by biased progressive sampling (the new subtree's proposal is taken with probability
//    min(1, w_new / w_old));
//  - the criterion: with ρ the sum of the momenta over a (sub)trajectory and p♯ = M⁻¹p at its
//    ends, continue while p♯₋·ρ > 0 and p♯₊·ρ > 0; checked for every subtree, and (added
//    to Stan in 2019, stan-dev/stan pull request 2800, against U-turns missed on nearly iid
//    normal targets) also across each merge: for the initial half extended by the first
//    point of the final half, and for the final half extended by the last point of the
//    initial half;
//  - a step with H − H0 > 1000 is a divergence (as is a non-finite density or gradient,
//    H = +∞): the subtree is rejected and the transition ends;
//  - accept_stat = mean over every leapfrog step of min(1, exp(H0 − H)), rejected subtrees
//    included; energy = H at the returned point; treedepth = number of doublings kept.
// Every buffer lives in the object (one per tree level): a transition allocates nothing.
#pragma once
#include <vector>

#include <Eigen/Dense>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/hamiltonian.hpp"

namespace trusty::mcmc {

// What one transition reports (Stan's sampler diagnostics).
struct Transition {
  double accept_stat = 0;
  double energy = 0;
  int treedepth = 0;
  int n_leapfrog = 0;
  bool divergent = false;
};

class Nuts {
 public:
  Nuts(Hamiltonian& hamiltonian, int max_depth = 10, double max_delta_h = 1000);

  // One transition from z (q, lp and g valid at z.q). z becomes the draw, with the momentum
  // it had on the trajectory.
  Transition transition(PhasePoint& z, double eps, core::Rng& rng);

 private:
  struct Level {  // the buffers of one build_tree frame at a given depth
    PhasePoint z_propose_final;
    Eigen::VectorXd p_init_end, p_sharp_init_end, rho_init, p_final_beg, p_sharp_final_beg, rho_final, rho_ext;
  };
  bool build_tree(int depth, PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg, Eigen::VectorXd& p_sharp_end,
                  Eigen::VectorXd& rho, Eigen::VectorXd& p_beg, Eigen::VectorXd& p_end, double H0, double eps,
                  double& log_sum_weight, core::Rng& rng);
  bool leaf(PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg, Eigen::VectorXd& p_sharp_end, Eigen::VectorXd& rho,
            Eigen::VectorXd& p_beg, Eigen::VectorXd& p_end, double H0, double eps, double& log_sum_weight);
  bool extend(int depth, double H0, double eps, core::Rng& rng, double& log_sum_weight);
  static bool criterion(const Eigen::VectorXd& p_sharp_minus, const Eigen::VectorXd& p_sharp_plus,
                        const Eigen::VectorXd& rho) {
    return p_sharp_plus.dot(rho) > 0 && p_sharp_minus.dot(rho) > 0;
  }

  Hamiltonian& h_;
  int max_depth_;
  double max_delta_h_;
  std::vector<Level> levels_;
  PhasePoint z_, z_fwd_, z_bck_, z_sample_, z_propose_;
  // Momenta and sharp momenta at the ends of the forward (fwd_*) and backward (bck_*) subtrees:
  // *_fwd at the forward end, *_bck at the backward end.
  Eigen::VectorXd p_fwd_fwd_, ps_fwd_fwd_, p_fwd_bck_, ps_fwd_bck_, p_bck_fwd_, ps_bck_fwd_, p_bck_bck_, ps_bck_bck_;
  Eigen::VectorXd rho_, rho_fwd_, rho_bck_, rho_ext_;
  int n_leapfrog_ = 0;
  double sum_metro_prob_ = 0;
  bool divergent_ = false;
};

}  // namespace trusty::mcmc
