// A naive NUTS, the reference for the optimised Nuts class: written the way the algorithm
// is described (Betancourt 2017, appendix A.3–A.4), each subtree returned by value with its
// two ends, summed momentum, log weight and proposal; fresh vectors everywhere. It draws its
// random numbers in the same order as Stan (momentum, then per doubling the direction, and a
// uniform only when a multinomial choice is not certain), so both give the same transitions.
#pragma once
#include <cmath>
#include <limits>

#include <Eigen/Dense>

#include "trusty/mcmc/hamiltonian.hpp"
#include "trusty/mcmc/nuts.hpp"

namespace trusty::test {

class NutsReference {
 public:
  NutsReference(mcmc::Hamiltonian& h, int max_depth) : h_(h), max_depth_(max_depth) {}

  // How often a (sub)trajectory passed the criterion around it but failed one across its
  // merge (the checks added in Stan 2.23).
  int ended_across_merge = 0;

  mcmc::Transition transition(mcmc::PhasePoint& z0, double eps, core::Rng& rng) {
    mcmc::PhasePoint z = z0;
    h_.metric().sample_momentum(rng, z.p);
    const double H0 = h_.energy(z);
    n_ = 0, sum_accept_ = 0, divergent_ = false;
    const Tree start = leaf_tree(z, H0);
    Whole whole{start.beg, start.beg, start.rho, 0.0};
    mcmc::PhasePoint fwd = z, bck = z, sample = z;
    int depth = 0;
    while (depth < max_depth_) {
      const bool forward = rng.uniform() > 0.5;
      Tree fresh = build(forward ? fwd : bck, depth, forward ? eps : -eps, H0, rng);
      if (!fresh.valid) break;
      (forward ? fwd : bck) = fresh.last;
      ++depth;
      if (fresh.log_w > whole.log_w || rng.uniform() < std::exp(fresh.log_w - whole.log_w)) sample = fresh.proposal;
      // Old tree A and new subtree B: A's end next to B is its forward end when extending
      // forward.
      const End& a_far = forward ? whole.bck : whole.fwd;
      const End& a_adj = forward ? whole.fwd : whole.bck;
      const Eigen::VectorXd rho = whole.rho + fresh.rho;
      const bool around = crit(a_far.ps, fresh.end.ps, rho);
      const bool ok = around && crit(a_far.ps, fresh.beg.ps, whole.rho + fresh.beg.p) &&
                      crit(a_adj.ps, fresh.end.ps, fresh.rho + a_adj.p);
      ended_across_merge += around && !ok;
      whole.log_w = lse(whole.log_w, fresh.log_w);
      whole.rho = rho;
      (forward ? whole.fwd : whole.bck) = fresh.end;
      if (!ok) break;
    }
    mcmc::Transition t;
    t.treedepth = depth;
    t.n_leapfrog = n_;
    t.divergent = divergent_;
    t.accept_stat = sum_accept_ / n_;
    z0 = sample;
    t.energy = h_.energy(z0);
    return t;
  }

 private:
  struct End {
    Eigen::VectorXd p, ps;  // momentum and M⁻¹p
  };
  struct Tree {
    End beg, end;  // in the order of integration
    Eigen::VectorXd rho;
    double log_w = -std::numeric_limits<double>::infinity();
    mcmc::PhasePoint proposal, last;
    bool valid = true;
  };
  struct Whole {  // the trajectory so far, by its forward and backward ends
    End fwd, bck;
    Eigen::VectorXd rho;
    double log_w = 0;
  };
  static bool crit(const Eigen::VectorXd& a, const Eigen::VectorXd& b, const Eigen::VectorXd& rho) {
    return b.dot(rho) > 0 && a.dot(rho) > 0;
  }
  static double lse(double a, double b) {
    if (std::isinf(a) && a < 0) return b;
    if (std::isinf(b) && b < 0) return a;
    const double m = std::max(a, b);
    return m + std::log(std::exp(a - m) + std::exp(b - m));
  }
  Tree leaf_tree(const mcmc::PhasePoint& z, double H0) {
    Tree t;
    Eigen::VectorXd ps(z.p.size());
    h_.metric().velocity(z.p, ps);
    t.beg = End{z.p, ps};
    t.end = t.beg;
    t.rho = z.p;
    t.log_w = H0 - h_.energy(z);
    t.proposal = t.last = z;
    return t;
  }
  Tree build(const mcmc::PhasePoint& from, int depth, double eps, double H0, core::Rng& rng) {
    if (depth == 0) {
      mcmc::PhasePoint z = from;
      h_.leapfrog(z, eps);
      ++n_;
      const double h = h_.energy(z);
      if (h - H0 > 1000) divergent_ = true;
      sum_accept_ += H0 - h > 0 ? 1 : std::exp(H0 - h);
      Tree t = leaf_tree(z, H0);
      t.valid = !divergent_;
      return t;
    }
    Tree init = build(from, depth - 1, eps, H0, rng);
    if (!init.valid) return init;
    Tree fin = build(init.last, depth - 1, eps, H0, rng);
    if (!fin.valid) return fin;
    Tree t;
    t.log_w = lse(init.log_w, fin.log_w);
    t.proposal = fin.log_w > t.log_w || rng.uniform() < std::exp(fin.log_w - t.log_w) ? fin.proposal : init.proposal;
    t.rho = init.rho + fin.rho;
    t.beg = init.beg, t.end = fin.end, t.last = fin.last;
    const bool around = crit(init.beg.ps, fin.end.ps, t.rho);
    t.valid = around && crit(init.beg.ps, fin.beg.ps, init.rho + fin.beg.p) &&
              crit(init.end.ps, fin.end.ps, fin.rho + init.end.p);
    ended_across_merge += around && !t.valid;
    return t;
  }

  mcmc::Hamiltonian& h_;
  int max_depth_;
  int n_ = 0;
  double sum_accept_ = 0;
  bool divergent_ = false;
};

}  // namespace trusty::test
