#include "trusty/mcmc/nuts.hpp"

#include <cmath>
#include <limits>

namespace trusty::mcmc {

namespace {
constexpr double kNegInf = -std::numeric_limits<double>::infinity();

double log_sum_exp(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = a > b ? a : b;
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}
}  // namespace

Nuts::Nuts(Hamiltonian& hamiltonian, int max_depth, double max_delta_h)
    : h_(hamiltonian), max_depth_(max_depth), max_delta_h_(max_delta_h) {
  const int64_t d = hamiltonian.metric().dim();
  const Eigen::VectorXd zero = Eigen::VectorXd::Zero(d);
  levels_.resize(static_cast<size_t>(max_depth) + 1);
  for (auto& l : levels_) {
    l.z_propose_final = PhasePoint(d);
    l.p_init_end = l.p_sharp_init_end = l.rho_init = l.p_final_beg = l.p_sharp_final_beg = l.rho_final = l.rho_ext = zero;
  }
  z_ = z_fwd_ = z_bck_ = z_sample_ = z_propose_ = PhasePoint(d);
  p_fwd_fwd_ = ps_fwd_fwd_ = p_fwd_bck_ = ps_fwd_bck_ = p_bck_fwd_ = ps_bck_fwd_ = p_bck_bck_ = ps_bck_bck_ = zero;
  rho_ = rho_fwd_ = rho_bck_ = rho_ext_ = zero;
}

Transition Nuts::transition(PhasePoint& z, double eps, core::Rng& rng) {
  z_.q = z.q;
  z_.g = z.g;
  z_.lp = z.lp;
  h_.metric().sample_momentum(rng, z_.p);
  z_fwd_ = z_bck_ = z_sample_ = z_propose_ = z_;

  p_fwd_fwd_ = p_fwd_bck_ = p_bck_fwd_ = p_bck_bck_ = z_.p;
  h_.metric().velocity(z_.p, ps_fwd_fwd_);
  ps_fwd_bck_ = ps_bck_fwd_ = ps_bck_bck_ = ps_fwd_fwd_;
  rho_ = z_.p;

  double log_sum_weight = 0;  // log(exp(H0 − H0))
  const double H0 = h_.energy(z_);
  n_leapfrog_ = 0;
  sum_metro_prob_ = 0;
  divergent_ = false;
  int depth = 0;
  while (depth < max_depth_) {
    const bool valid = extend(depth, H0, eps, rng, log_sum_weight);
    if (!valid) break;
    ++depth;
    // Biased progressive sampling between the new subtree and the old trajectory happened
    // in extend(); here the merged trajectory's criteria.
    rho_ = rho_bck_ + rho_fwd_;
    bool persist = criterion(ps_bck_bck_, ps_fwd_fwd_, rho_);
    rho_ext_ = rho_bck_ + p_fwd_bck_;
    persist = persist && criterion(ps_bck_bck_, ps_fwd_bck_, rho_ext_);
    rho_ext_ = rho_fwd_ + p_bck_fwd_;
    persist = persist && criterion(ps_bck_fwd_, ps_fwd_fwd_, rho_ext_);
    if (!persist) break;
  }

  Transition t;
  t.treedepth = depth;
  t.n_leapfrog = n_leapfrog_;
  t.divergent = divergent_;
  t.accept_stat = n_leapfrog_ > 0 ? sum_metro_prob_ / n_leapfrog_ : 0;
  z.q = z_sample_.q;
  z.p = z_sample_.p;
  z.g = z_sample_.g;
  z.lp = z_sample_.lp;
  t.energy = h_.energy(z);
  return t;
}

// One doubling: a new subtree of 2^depth points in a random direction, then the biased
// progressive choice between its proposal and the current sample.
bool Nuts::extend(int depth, double H0, double eps, core::Rng& rng, double& log_sum_weight) {
  rho_fwd_.setZero();
  rho_bck_.setZero();
  double log_sum_weight_subtree = kNegInf;
  bool valid;
  if (rng.uniform() > 0.5) {  // forward
    z_ = z_fwd_;
    rho_bck_ = rho_;  // the old trajectory becomes the backward subtree; its forward end:
    p_bck_fwd_ = p_fwd_fwd_;
    ps_bck_fwd_ = ps_fwd_fwd_;
    valid = build_tree(depth, z_propose_, ps_fwd_bck_, ps_fwd_fwd_, rho_fwd_, p_fwd_bck_, p_fwd_fwd_, H0, eps,
                       log_sum_weight_subtree, rng);
    z_fwd_ = z_;
  } else {  // backward
    z_ = z_bck_;
    rho_fwd_ = rho_;  // the old trajectory becomes the forward subtree; its backward end:
    p_fwd_bck_ = p_bck_bck_;
    ps_fwd_bck_ = ps_bck_bck_;
    valid = build_tree(depth, z_propose_, ps_bck_fwd_, ps_bck_bck_, rho_bck_, p_bck_fwd_, p_bck_bck_, H0, -eps,
                       log_sum_weight_subtree, rng);
    z_bck_ = z_;
  }
  if (!valid) return false;
  if (log_sum_weight_subtree > log_sum_weight) {
    z_sample_ = z_propose_;
  } else if (rng.uniform() < std::exp(log_sum_weight_subtree - log_sum_weight)) {
    z_sample_ = z_propose_;
  }
  log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
  return true;
}

bool Nuts::leaf(PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg, Eigen::VectorXd& p_sharp_end,
                Eigen::VectorXd& rho, Eigen::VectorXd& p_beg, Eigen::VectorXd& p_end, double H0, double eps,
                double& log_sum_weight) {
  h_.leapfrog(z_, eps);
  ++n_leapfrog_;
  const double h = h_.energy(z_);  // +∞ for a non-finite point
  if (h - H0 > max_delta_h_) divergent_ = true;
  log_sum_weight = log_sum_exp(log_sum_weight, H0 - h);
  sum_metro_prob_ += H0 - h > 0 ? 1.0 : std::exp(H0 - h);
  z_propose = z_;
  h_.metric().velocity(z_.p, p_sharp_beg);
  p_sharp_end = p_sharp_beg;
  rho += z_.p;
  p_beg = z_.p;
  p_end = p_beg;
  return !divergent_;
}

bool Nuts::build_tree(int depth, PhasePoint& z_propose, Eigen::VectorXd& p_sharp_beg, Eigen::VectorXd& p_sharp_end,
                      Eigen::VectorXd& rho, Eigen::VectorXd& p_beg, Eigen::VectorXd& p_end, double H0, double eps,
                      double& log_sum_weight, core::Rng& rng) {
  if (depth == 0) return leaf(z_propose, p_sharp_beg, p_sharp_end, rho, p_beg, p_end, H0, eps, log_sum_weight);
  Level& l = levels_[static_cast<size_t>(depth)];

  double log_sum_weight_init = kNegInf;
  l.rho_init.setZero();
  if (!build_tree(depth - 1, z_propose, p_sharp_beg, l.p_sharp_init_end, l.rho_init, p_beg, l.p_init_end, H0, eps,
                  log_sum_weight_init, rng))
    return false;

  l.z_propose_final = z_;
  double log_sum_weight_final = kNegInf;
  l.rho_final.setZero();
  if (!build_tree(depth - 1, l.z_propose_final, l.p_sharp_final_beg, p_sharp_end, l.rho_final, l.p_final_beg, p_end,
                  H0, eps, log_sum_weight_final, rng))
    return false;

  // Multinomial choice between the two halves.
  const double log_sum_weight_subtree = log_sum_exp(log_sum_weight_init, log_sum_weight_final);
  log_sum_weight = log_sum_exp(log_sum_weight, log_sum_weight_subtree);
  if (log_sum_weight_final > log_sum_weight_subtree) {
    z_propose = l.z_propose_final;
  } else if (rng.uniform() < std::exp(log_sum_weight_final - log_sum_weight_subtree)) {
    z_propose = l.z_propose_final;
  }

  // The subtree's criterion, then the two across the merge.
  l.rho_ext = l.rho_init + l.rho_final;
  rho += l.rho_ext;
  bool persist = criterion(p_sharp_beg, p_sharp_end, l.rho_ext);
  l.rho_ext = l.rho_init + l.p_final_beg;
  persist = persist && criterion(p_sharp_beg, l.p_sharp_final_beg, l.rho_ext);
  l.rho_ext = l.rho_final + l.p_init_end;
  persist = persist && criterion(l.p_sharp_init_end, p_sharp_end, l.rho_ext);
  return persist;
}

}  // namespace trusty::mcmc
