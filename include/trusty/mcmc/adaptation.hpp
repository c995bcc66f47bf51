// Stan's warmup (Stan reference manual, "HMC algorithm parameters"; Hoffman & Gelman 2014,
// §3.2; Betancourt, Byrne & Girolami 2014):
//
// StepSizeAdaptation — Nesterov dual averaging of x = ln ε towards a mean acceptance δ:
//   t ← t + 1;  η = 1/(t + t0);  s̄ ← (1 − η) s̄ + η (δ − min(1, a));
//   x = μ − s̄ √t / γ;  x̄ ← t^−κ x + (1 − t^−κ) x̄;  ε = exp(x);  after warmup ε = exp(x̄).
//   δ = 0.8, γ = 0.05, κ = 0.75, t0 = 10. μ = ln(10 ε0) with ε0 the user's initial step size
//   at the start (Stan's services set μ before the initial heuristic), and μ = ln(10 ε) with
//   the re-initialised ε after each metric window.
//
// find_initial_step_size — Stan's init_stepsize: one leapfrog step from fresh momenta; while
//   the acceptance exp(H0 − H) stays on the same side of 0.8 as the first try, double (above)
//   or halve (below) ε; a new momentum for every try. ε > 1e7 → "posterior is improper";
//   ε = 0 → no acceptable step size (both std::runtime_error).
//
// WindowedAdaptation — the metric: iterations [0, init_buffer) adapt ε only; then windows of
//   base_window, 2·base_window, … iterations whose draws feed a Welford estimator of the
//   variance (diag_e) or covariance (dense_e); a window that would leave less than twice its
//   size to the terminal buffer is stretched to end where that buffer starts; the last
//   term_buffer iterations adapt ε only. At each window's end
//   M⁻¹ = n/(n + 5) Σ̂ + 10⁻³ · 5/(n + 5) · I, then ε is re-initialised, μ = ln(10 ε) and
//   dual averaging restarts. Defaults 75 / 25 / 50. When init_buffer + window + term_buffer
//   > num_warmup ≥ 20 the stages become 15% / 75% / 10% of num_warmup (integer parts), as in
//   Stan; below 20 warmup iterations the metric is not adapted. (Stan's code sets the scaled
//   sizes without restarting its window counter, so its first window end is never reached in
//   that case; here the scaled windows are used as its message announces.) Two more edge
//   cases differ from Stan on purpose: a window with fewer than two draws leaves the metric
//   unchanged (Stan regularises it towards 10⁻³ I), and with term_buffer = 0 the final ε is
//   the one re-initialised after the last window (Stan's exp(x̄) is then exp(0) = 1).
#pragma once
#include <cstdint>

#include <Eigen/Dense>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/hamiltonian.hpp"

namespace trusty::mcmc {

struct StepSizeAdaptation {
  double delta = 0.8, gamma = 0.05, kappa = 0.75, t0 = 10;
  double mu = 0, s_bar = 0, x_bar = 0;
  int64_t counter = 0;

  void restart() { counter = 0, s_bar = 0, x_bar = 0; }
  // Learns from one transition's acceptance statistic and returns the next ε.
  double learn(double accept_stat);
  double final_step_size() const;
};

// Stan's init_stepsize from the point z (z.q, z.lp, z.g valid; restored on return).
double find_initial_step_size(Hamiltonian& h, PhasePoint& z, double eps, core::Rng& rng);

class WindowedAdaptation {
 public:
  WindowedAdaptation() = default;
  WindowedAdaptation(MetricKind kind, int64_t dim, int64_t num_warmup, int64_t init_buffer, int64_t term_buffer,
                     int64_t base_window);

  // Called once per warmup iteration with that iteration's draw. Returns true when a window
  // ended and the metric was replaced by the regularised estimate.
  bool learn(Metric& metric, const Eigen::VectorXd& q);

  // The schedule actually used (after the short-warmup rule).
  int64_t init_buffer() const { return init_buffer_; }
  int64_t term_buffer() const { return term_buffer_; }
  int64_t base_window() const { return base_window_; }

  // State, for checkpoints.
  int64_t counter_ = 0, next_window_ = 0, window_size_ = 0;
  int64_t n_ = 0;              // Welford count
  Eigen::VectorXd mean_;
  Eigen::MatrixXd m2_;         // d × 1 (diag_e) or d × d (dense_e)

 private:
  Eigen::MatrixXd regularised_estimate() const;
  bool in_window() const;
  bool end_of_window() const;
  void compute_next_window();
  MetricKind kind_ = MetricKind::unit_e;
  int64_t num_warmup_ = 0, init_buffer_ = 0, term_buffer_ = 0, base_window_ = 0;
  bool active_ = false;
  Eigen::VectorXd delta_;
};

}  // namespace trusty::mcmc
