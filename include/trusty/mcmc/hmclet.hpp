// HMCLET mode: the sampler of the seed talk for small parameter sets (after the HMCLET
// sampler of the BORG/ARES codes), made precise here. Each iteration:
//   u, u' ~ U[0, 1);  ε = ε_max (1 − u);  L = 1 + ⌊L_max u'⌋;
//   p ~ N(0, M); L leapfrog steps with M⁻¹ held fixed; Metropolis accept with
//   min(1, exp(H0 − H_L)) (a divergence, H − H0 > 1000 or a non-finite point, is rejected).
// Randomising ε and L avoids the periodic orbits of fixed-length HMC (Neal 2011, §5.4.2.2).
//
// Burn-in (the num_warmup iterations):
//  - covariance metric: the last `window` draws of the chain are kept in a ring; every
//    `update_every` iterations M⁻¹ ← n/(n+5) Σ̂ + 10⁻³·5/(n+5) I from the n draws in the ring
//    (diagonal or dense as the metric option says; the regularisation is Stan's), except in
//    the last `term_buffer` burn-in iterations, which adapt ε_max to the final metric (as
//    Stan's terminal buffer does);
//  - ε_max: if not given (0), found with Stan's initial step-size heuristic, then adapted by
//    dual averaging (δ, γ, κ, t0 as for NUTS) on each iteration's acceptance probability,
//    restarted with μ = ln(10 ε_max) at each metric update; after burn-in ε_max = exp(x̄).
//    While it is adapted the trajectories use ε = ε_max (L still random), so δ is the
//    acceptance of the largest step and no sampling step exceeds it;
//  - path length (L_max = 0, "auto", the default): after each burn-in iteration a probe
//    trajectory from the new point, with fresh momentum and step ε_max, runs until it turns
//    back, (q_l − q_0)·p_l < 0 (its distance from q_0 in the metric's whitened coordinates
//    stops growing: NUTS's criterion), or diverges, or reaches probe_cap steps; its duration
//    T_u = ε_max L_u goes to a ring of the last `window` probes, and at every metric update
//    (and at the end of burn-in, with the final ε_max) L_max ← round(2·median(T_u) / ε_max).
//    Why 2: on a Gaussian whitened by the metric the turn comes at half a period (t = π),
//    the best integration time is about a quarter period, and with ε and L uniform the mean
//    of εL is ε_max L_max / 4 = median(T_u) / 2 while the longest path is a full period.
//    The probes are the empirical HMC idea of Wu, Stoehr & Robert (2018, "Faster
//    Hamiltonian Monte Carlo by learning leapfrog scale"); they cost gradients in burn-in
//    only (counted with the rest) and are discarded. Until the first update L_max is 20.
//    A fixed path length (L_max > 0) is the seed's original mode: on a strongly curved
//    posterior (the neural bias model of docs/density.md) L_max = 20 left R̂ at 1.5;
//  - quasi-Newton preconditioner (optional): H, a BFGS estimate of the inverse Hessian of
//    U = −ln π, built from the (θ, ∇U) pairs of successive accepted iterations:
//      s = θ_new − θ_old, y = ∇U_new − ∇U_old, ρ = 1/(sᵀy),
//      H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ,
//    skipped when sᵀy ≤ 10⁻¹² |s| |y| (H stays symmetric positive definite, Nocedal & Wright
//    2006, §6.1). H is the inverse metric M⁻¹ of the next trajectories (frozen within each
//    trajectory); it starts from the initial metric and is reset to the latest covariance
//    metric on every rejection. With the preconditioner the metric is always dense; the
//    covariance metric is then still estimated, as the reset target.
// Sampling: M⁻¹ (the covariance metric, or with the preconditioner H as it stood at the end
// of burn-in) and ε_max are frozen, so the sampling iterations are one fixed, reversible
// Markov kernel. (Updating H during sampling, as the talk suggests, would make the chain
// adaptive with no guarantee that π stays its stationary distribution; we do not.)
#pragma once
#include <cstdint>

#include <Eigen/Dense>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/adaptation.hpp"
#include "trusty/mcmc/static_hmc.hpp"

namespace trusty::mcmc {

// The BFGS update of an inverse Hessian estimate H from a step s and the change y of the
// gradient of U: H ← (I − ρ s yᵀ) H (I − ρ y sᵀ) + ρ s sᵀ, ρ = 1/(sᵀy); afterwards H y = s
// (the secant condition). Skipped (returns false) when sᵀy ≤ 10⁻¹² |s| |y|. hy: scratch of
// size d.
bool bfgs_inverse_update(Eigen::MatrixXd& H, const Eigen::VectorXd& s, const Eigen::VectorXd& y,
                         Eigen::VectorXd& hy);

struct HmcletSettings {
  double eps_max = 0;        // 0: heuristic start + dual averaging during burn-in
  int64_t L_max = 0;         // 0: learned in burn-in from U-turn probes (see above)
  int64_t probe_cap = 1024;  // longest probe trajectory (NUTS's 2^max_depth)
  int64_t window = 100;
  int64_t update_every = 25;
  bool quasi_newton = false;
  double delta = 0.8;
  int64_t num_warmup = 0;    // burn-in length, and its terminal buffer without metric updates
  int64_t term_buffer = 50;
};

class Hmclet {
 public:
  // metric: the Hamiltonian's metric (its kind fixes diag vs dense covariance; must be
  // dense_e with quasi_newton).
  Hmclet(Hamiltonian& hamiltonian, const HmcletSettings& settings);

  // Before the first iteration, from the initial point (draws random numbers when ε_max is
  // adapted).
  void initialize(PhasePoint& z, core::Rng& rng);
  // One iteration; `warmup` enables the burn-in updates. eps_used receives ε.
  Transition transition(PhasePoint& z, bool warmup, core::Rng& rng, double& eps_used);
  // Freezes ε_max (= exp(x̄) when adapted) at the end of burn-in.
  void end_warmup();

  double eps_max() const { return eps_max_; }
  int64_t L_max() const { return L_max_; }

  // State, for checkpoints.
  double eps_max_ = 0;
  StepSizeAdaptation da_;
  Eigen::MatrixXd ring_;           // window × d
  int64_t n_seen_ = 0, iteration_ = 0;
  Eigen::MatrixXd cov_inv_metric_; // the covariance-based M⁻¹ in Metric::inv_metric() layout
  Eigen::MatrixXd bfgs_;           // H (quasi-Newton)
  Eigen::VectorXd prev_q_, prev_grad_u_;
  int64_t L_max_ = 20;             // the path-length bound in use
  Eigen::VectorXd probe_time_;     // ring of the last `window` probe times ε_max·L_u (auto L_max)
  int64_t n_probe_ = 0;

 private:
  int64_t probe(const PhasePoint& z, core::Rng& rng);
  void update_L_max();

  void update_covariance();
  void bfgs_update(const PhasePoint& z);
  void use_covariance_metric();

  Hamiltonian& h_;
  HmcletSettings s_;
  StaticHmc hmc_;
  Eigen::VectorXd s_vec_, y_vec_, hy_;
  PhasePoint probe_z_;
};

}  // namespace trusty::mcmc
