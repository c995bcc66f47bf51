#include "trusty/mcmc/hmclet.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

namespace trusty::mcmc {

bool bfgs_inverse_update(Eigen::MatrixXd& H, const Eigen::VectorXd& s, const Eigen::VectorXd& y,
                         Eigen::VectorXd& hy) {
  const double sy = s.dot(y);
  if (!(sy > 1e-12 * s.norm() * y.norm())) return false;
  const double rho = 1.0 / sy;
  // Expanded: H − ρ (H y sᵀ + s yᵀ H) + (ρ² yᵀHy + ρ) s sᵀ.
  hy.noalias() = H * y;
  const double yhy = y.dot(hy);
  H.noalias() -= rho * (hy * s.transpose() + s * hy.transpose());
  H.noalias() += (rho * rho * yhy + rho) * (s * s.transpose());
  H = 0.5 * (H + H.transpose()).eval();
  return true;
}

Hmclet::Hmclet(Hamiltonian& hamiltonian, const HmcletSettings& settings)
    : h_(hamiltonian), s_(settings), hmc_(hamiltonian, 1, 0) {
  const int64_t d = hamiltonian.metric().dim();
  if (s_.quasi_newton && hamiltonian.metric().kind() != MetricKind::dense_e)
    throw std::invalid_argument("Hmclet: the quasi-Newton preconditioner needs a dense_e metric");
  ring_ = Eigen::MatrixXd::Zero(s_.window, d);
  cov_inv_metric_ = hamiltonian.metric().inv_metric();
  bfgs_ = s_.quasi_newton ? cov_inv_metric_ : Eigen::MatrixXd();
  prev_q_ = prev_grad_u_ = s_vec_ = y_vec_ = hy_ = Eigen::VectorXd::Zero(d);
  eps_max_ = s_.eps_max;
  da_.delta = s_.delta;
  if (s_.L_max > 0) L_max_ = s_.L_max;
  probe_time_ = Eigen::VectorXd::Zero(s_.window);
  probe_z_ = PhasePoint(d);
}

int64_t Hmclet::probe(const PhasePoint& z, core::Rng& rng) {
  probe_z_.q = z.q;
  probe_z_.g = z.g;
  probe_z_.lp = z.lp;
  h_.metric().sample_momentum(rng, probe_z_.p);
  const double H0 = h_.energy(probe_z_);
  for (int64_t l = 1; l <= s_.probe_cap; ++l) {
    h_.leapfrog(probe_z_, eps_max_);
    if (!(h_.energy(probe_z_) - H0 <= 1000)) return l;  // diverged (or not finite)
    // d/dt ½(q − q0)ᵀM(q − q0) = (q − q0)ᵀp: the distance in the metric's own (whitened)
    // coordinates stops growing, NUTS's criterion (p♯·ρ with ρ = Σp ≈ M(q − q0)/ε).
    if ((probe_z_.q - z.q).dot(probe_z_.p) < 0) return l;
  }
  return s_.probe_cap;
}

void Hmclet::update_L_max() {
  const int64_t n = std::min(n_probe_, s_.window);
  if (s_.L_max > 0 || n == 0) return;
  std::vector<double> v(probe_time_.data(), probe_time_.data() + n);
  auto mid = v.begin() + n / 2;
  std::nth_element(v.begin(), mid, v.end());
  double median = *mid;
  if (n % 2 == 0) median = 0.5 * (median + *std::max_element(v.begin(), mid));
  // Times, not step counts: ε_max moves during burn-in (and is exp(x̄) after it).
  const double L = 2 * median / eps_max_;
  L_max_ = L >= 1 ? static_cast<int64_t>(std::min<double>(std::lround(L), static_cast<double>(2 * s_.probe_cap))) : 1;
}

void Hmclet::initialize(PhasePoint& z, core::Rng& rng) {
  if (s_.eps_max > 0) return;
  eps_max_ = find_initial_step_size(h_, z, 1.0, rng);
  da_.mu = std::log(10 * eps_max_);
  da_.restart();
}

void Hmclet::use_covariance_metric() {
  h_.metric().set_inv_metric(cov_inv_metric_, "HMCLET covariance metric");
  if (s_.quasi_newton) bfgs_ = cov_inv_metric_;
}

void Hmclet::update_covariance() {
  const int64_t n = n_seen_ < s_.window ? n_seen_ : s_.window;
  if (n < 2) return;
  const auto rows = ring_.topRows(n);
  const Eigen::RowVectorXd mean = rows.colwise().mean();
  const Eigen::MatrixXd centred = rows.rowwise() - mean;
  const double nd = static_cast<double>(n), w = nd / (nd + 5.0), reg = 1e-3 * 5.0 / (nd + 5.0);
  if (h_.metric().kind() == MetricKind::dense_e) {
    Eigen::MatrixXd cov = (centred.transpose() * centred) / (nd - 1.0);
    cov = w * cov + reg * Eigen::MatrixXd::Identity(cov.rows(), cov.cols());
    cov_inv_metric_ = 0.5 * (cov + cov.transpose());
  } else if (h_.metric().kind() == MetricKind::diag_e) {
    const Eigen::VectorXd var = centred.array().square().colwise().sum().transpose() / (nd - 1.0);
    cov_inv_metric_ = (w * var.array() + reg).matrix();
  } else {
    return;  // unit_e: nothing to learn
  }
  if (!cov_inv_metric_.allFinite())
    throw std::runtime_error("HMCLET metric adaptation: non-finite covariance estimate");
  if (!s_.quasi_newton) use_covariance_metric();  // else the reset target of H
}

void Hmclet::bfgs_update(const PhasePoint& z) {
  s_vec_ = z.q - prev_q_;
  y_vec_ = -z.g - prev_grad_u_;  // ∇U_new − ∇U_old, ∇U = −∇ln π
  if (!bfgs_inverse_update(bfgs_, s_vec_, y_vec_, hy_)) return;
  try {
    h_.metric().set_inv_dense(bfgs_, "HMCLET quasi-Newton metric");
  } catch (const std::invalid_argument&) {  // lost definiteness to rounding: start again
    use_covariance_metric();
  }
}

Transition Hmclet::transition(PhasePoint& z, bool warmup, core::Rng& rng, double& eps_used) {
  const double u = rng.uniform(), u2 = rng.uniform();
  // While ε_max is adapted, trajectories use ε_max itself, so that dual averaging aims the
  // acceptance at δ for the LARGEST step and every randomised step ε_max (1 − u) of the
  // sampling phase is at most that one. Adapting on the randomised steps' mean acceptance
  // instead pushed ε_max past the leapfrog's stability limit (seen as tens of divergences
  // on a 0.99-correlated Gaussian for some seeds).
  const double eps = warmup && s_.eps_max <= 0 ? eps_max_ : eps_max_ * (1.0 - u);
  const int64_t L = 1 + static_cast<int64_t>(std::floor(static_cast<double>(L_max_) * u2));
  eps_used = eps;
  prev_q_ = z.q;
  prev_grad_u_ = -z.g;
  const Transition t = hmc_.transition(z, eps, L, rng);
  if (!warmup) return t;

  ++iteration_;
  if (s_.eps_max <= 0) eps_max_ = da_.learn(t.accept_stat);
  ring_.row(n_seen_ % s_.window) = z.q.transpose();
  ++n_seen_;
  const bool moved = z.q != prev_q_;
  if (s_.L_max == 0) probe_time_[n_probe_++ % s_.window] = static_cast<double>(probe(z, rng)) * eps_max_;
  if (iteration_ % s_.update_every == 0) {
    update_L_max();
    if (iteration_ <= s_.num_warmup - s_.term_buffer) {
      update_covariance();
      if (s_.eps_max <= 0) {
        da_.mu = std::log(10 * eps_max_);
        da_.restart();
      }
    }
  }
  if (s_.quasi_newton) {
    if (moved)
      bfgs_update(z);
    else
      use_covariance_metric();
  }
  return t;
}

void Hmclet::end_warmup() {
  if (s_.eps_max <= 0 && da_.counter > 0) eps_max_ = da_.final_step_size();
  update_L_max();
}

}  // namespace trusty::mcmc
