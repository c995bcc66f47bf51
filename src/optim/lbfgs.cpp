// L-BFGS, following the structure of PyTorch's torch.optim.LBFGS (two-loop recursion,
// H0 = sᵀy / yᵀy, curvature pairs kept only when yᵀs > 1e-10, first step scaled by
// min(1, 1/‖g‖₁)), so that trajectories can be golden-tested against it.
#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "trusty/io/npy.hpp"
#include "trusty/optim/optimizer.hpp"

namespace trusty::optim {

namespace {
template <class T>
T dotp(const std::vector<T>& a, std::span<const T> b) {
  T s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}
template <class T>
T dotv(const std::vector<T>& a, const std::vector<T>& b) {
  return dotp<T>(a, std::span<const T>(b));
}
template <class T>
T abs_max(std::span<const T> v) {
  T m = 0;
  for (T x : v) m = std::max(m, std::abs(x));
  return m;
}
// Minimiser of the cubic through (x1, f1, g1), (x2, f2, g2), clamped to [lo, hi]; the
// midpoint when the cubic has no real minimiser (Nocedal & Wright eq. 3.59).
double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2, double lo, double hi) {
  const double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
  const double d2sq = d1 * d1 - g1 * g2;
  if (d2sq < 0) return (lo + hi) / 2;
  const double d2 = std::sqrt(d2sq);
  const double m = x1 <= x2 ? x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2))
                            : x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
  return std::min(std::max(m, lo), hi);
}
double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2) {
  return cubic_min(x1, f1, g1, x2, f2, g2, std::min(x1, x2), std::max(x1, x2));
}

struct Probe {
  double t, f, gtd;
  std::vector<double> g;
};

// Strong-Wolfe line search along d from x (Nocedal & Wright Alg. 3.5 and 3.6, with cubic
// interpolation, as minFunc and PyTorch): sufficient decrease f(t) <= f0 + c1 t g0ᵀd and
// curvature |g(t)ᵀd| <= c2 |g0ᵀd|, c1 = 1e-4, c2 = 0.9, at most 25 evaluations.
// eval(t, grad) returns f(x + t d) and fills its gradient.
template <class T, class Eval>
Probe strong_wolfe(Eval&& eval, const std::vector<T>& d, double f0, const std::vector<T>& g0, double gtd0, double t,
                   double tolerance_change, int* evals) {
  constexpr double c1 = 1e-4, c2 = 0.9;
  constexpr int max_ls = 25;
  double dmax = 0;
  for (T v : d) dmax = std::max(dmax, static_cast<double>(std::abs(v)));
  auto probe = [&](double at) {
    Probe p{at, 0, 0, std::vector<double>(d.size())};
    std::vector<T> g(d.size());
    p.f = eval(static_cast<T>(at), g);
    for (size_t i = 0; i < d.size(); ++i) {
      p.g[i] = g[i];
      p.gtd += static_cast<double>(g[i]) * d[i];
    }
    ++*evals;
    return p;
  };
  Probe prev{0, f0, gtd0, std::vector<double>(g0.begin(), g0.end())};
  Probe cur = probe(t);
  std::array<Probe, 2> br;
  bool done = false, bracketed = false;
  int it = 0;
  while (it < max_ls) {  // Alg. 3.5: find an interval that contains an acceptable step
    if (cur.f > f0 + c1 * cur.t * gtd0 || (it > 1 && cur.f >= prev.f)) {
      br = {prev, cur};
      bracketed = true;
      break;
    }
    if (std::abs(cur.gtd) <= -c2 * gtd0) {
      br = {cur, cur};
      done = true;
      break;
    }
    if (cur.gtd >= 0) {
      br = {prev, cur};
      bracketed = true;
      break;
    }
    const double next = cubic_min(prev.t, prev.f, prev.gtd, cur.t, cur.f, cur.gtd, cur.t + 0.01 * (cur.t - prev.t), cur.t * 10);
    prev = cur;
    cur = probe(next);
    ++it;
  }
  if (!done && !bracketed) br = {Probe{0, f0, gtd0, std::vector<double>(g0.begin(), g0.end())}, cur};
  // Alg. 3.6 (zoom): shrink the bracket until the strong-Wolfe conditions hold.
  bool insufficient = false;
  int lo = br[0].f <= br[1].f ? 0 : 1, hi = 1 - lo;
  while (!done && it < max_ls) {
    if (std::abs(br[1].t - br[0].t) * dmax < tolerance_change) break;
    double next = cubic_min(br[0].t, br[0].f, br[0].gtd, br[1].t, br[1].f, br[1].gtd);
    const double bmax = std::max(br[0].t, br[1].t), bmin = std::min(br[0].t, br[1].t), eps = 0.1 * (bmax - bmin);
    if (std::min(bmax - next, next - bmin) < eps) {  // too close to an end: move inside
      if (insufficient || next >= bmax || next <= bmin) {
        next = std::abs(next - bmax) < std::abs(next - bmin) ? bmax - eps : bmin + eps;
        insufficient = false;
      } else {
        insufficient = true;
      }
    } else {
      insufficient = false;
    }
    Probe p = probe(next);
    ++it;
    if (p.f > f0 + c1 * p.t * gtd0 || p.f >= br[static_cast<size_t>(lo)].f) {
      br[static_cast<size_t>(hi)] = p;
      lo = br[0].f <= br[1].f ? 0 : 1;
      hi = 1 - lo;
    } else {
      if (std::abs(p.gtd) <= -c2 * gtd0) done = true;
      else if (p.gtd * (br[static_cast<size_t>(hi)].t - br[static_cast<size_t>(lo)].t) >= 0) br[static_cast<size_t>(hi)] = br[static_cast<size_t>(lo)];
      br[static_cast<size_t>(lo)] = p;
    }
  }
  return br[static_cast<size_t>(lo)];
}

}  // namespace

template <class T>
Lbfgs<T>::Lbfgs(LbfgsOptions o) : o_(o) {
  if (o_.max_eval < 0) o_.max_eval = o_.max_iter * 5 / 4;
  if (o_.history_size < 1) throw std::invalid_argument("Lbfgs: history_size must be >= 1");
}

template <class T>
T Lbfgs<T>::step(const Objective& f, std::span<T> theta) {
  const size_t n = theta.size();
  std::vector<T> grad(n);
  T loss = f(theta, grad);
  const T orig_loss = loss;
  int current_evals = 1;
  ++func_evals_;
  if (abs_max<T>(grad) <= o_.tolerance_grad) return orig_loss;
  const T lr = static_cast<T>(o_.lr);
  int n_iter = 0;
  while (n_iter < o_.max_iter) {
    ++n_iter;
    ++n_iter_;
    if (n_iter_ == 1) {
      d_.assign(n, T(0));
      for (size_t i = 0; i < n; ++i) d_[i] = -grad[i];
      dirs_.clear();
      stps_.clear();
      ro_.clear();
      h_diag_ = 1;
    } else {
      std::vector<T> y(n), s(n);
      for (size_t i = 0; i < n; ++i) {
        y[i] = grad[i] - prev_grad_[i];
        s[i] = d_[i] * t_;
      }
      const T ys = dotv(y, s);
      if (ys > T(1e-10)) {
        if (static_cast<int>(dirs_.size()) == o_.history_size) {
          dirs_.erase(dirs_.begin());
          stps_.erase(stps_.begin());
          ro_.erase(ro_.begin());
        }
        dirs_.push_back(y);
        stps_.push_back(s);
        ro_.push_back(T(1) / ys);
        h_diag_ = ys / dotv(y, y);
      }
      const size_t m = dirs_.size();
      std::vector<T> al(m);
      std::vector<T> q(n);
      for (size_t i = 0; i < n; ++i) q[i] = -grad[i];
      for (size_t i = m; i-- > 0;) {
        al[i] = dotv(stps_[i], q) * ro_[i];
        for (size_t j = 0; j < n; ++j) q[j] -= al[i] * dirs_[i][j];
      }
      for (size_t j = 0; j < n; ++j) d_[j] = q[j] * h_diag_;
      for (size_t i = 0; i < m; ++i) {
        const T be = dotv(dirs_[i], d_) * ro_[i];
        for (size_t j = 0; j < n; ++j) d_[j] += (al[i] - be) * stps_[i][j];
      }
    }
    prev_grad_.assign(grad.begin(), grad.end());
    prev_loss_ = loss;
    if (n_iter_ == 1) {
      T l1 = 0;
      for (T g : grad) l1 += std::abs(g);
      t_ = std::min(T(1), T(1) / l1) * lr;
    } else {
      t_ = lr;
    }
    const T gtd = dotp<T>(d_, grad);
    if (gtd > -o_.tolerance_change) break;
    int ls_evals = 0;
    if (o_.strong_wolfe) {
      const std::vector<T> x0(theta.begin(), theta.end());
      std::vector<T> xt(n);
      auto eval = [&](T at, std::vector<T>& g) {
        for (size_t i = 0; i < n; ++i) xt[i] = x0[i] + at * d_[i];
        return static_cast<double>(f(xt, g));
      };
      Probe p = strong_wolfe<T>(eval, d_, static_cast<double>(loss), std::vector<T>(grad.begin(), grad.end()),
                                static_cast<double>(gtd), static_cast<double>(t_), o_.tolerance_change, &ls_evals);
      t_ = static_cast<T>(p.t);
      loss = static_cast<T>(p.f);
      for (size_t i = 0; i < n; ++i) {
        theta[i] = x0[i] + t_ * d_[i];
        grad[i] = static_cast<T>(p.g[i]);
      }
    } else {
      for (size_t i = 0; i < n; ++i) theta[i] += t_ * d_[i];
      if (n_iter != o_.max_iter) {
        loss = f(theta, grad);
        ls_evals = 1;
      }
    }
    current_evals += ls_evals;
    func_evals_ += ls_evals;
    if (n_iter == o_.max_iter || current_evals >= o_.max_eval) break;
    if (abs_max<T>(grad) <= o_.tolerance_grad) break;
    T dmax = 0;
    for (T v : d_) dmax = std::max(dmax, std::abs(v * t_));
    if (dmax <= o_.tolerance_change) break;
    if (std::abs(loss - prev_loss_) < o_.tolerance_change) break;
  }
  return orig_loss;
}

template <class T>
StateDict Lbfgs<T>::state() const {
  StateDict s;
  s["n_iter"] = {static_cast<double>(n_iter_)};
  s["func_evals"] = {static_cast<double>(func_evals_)};
  s["t"] = {static_cast<double>(t_)};
  s["H_diag"] = {static_cast<double>(h_diag_)};
  s["prev_loss"] = {static_cast<double>(prev_loss_)};
  s["d"] = {d_.begin(), d_.end()};
  s["prev_flat_grad"] = {prev_grad_.begin(), prev_grad_.end()};
  s["ro"] = {ro_.begin(), ro_.end()};
  for (size_t i = 0; i < dirs_.size(); ++i) {
    s["old_dirs." + std::to_string(i)] = {dirs_[i].begin(), dirs_[i].end()};
    s["old_stps." + std::to_string(i)] = {stps_[i].begin(), stps_[i].end()};
  }
  return s;
}

template <class T>
void Lbfgs<T>::load_state(const StateDict& s) {
  auto scalar = [&](const char* k) {
    auto it = s.find(k);
    if (it == s.end() || it->second.size() != 1) throw std::invalid_argument(std::string("L-BFGS state: missing '") + k + "'");
    return it->second[0];
  };
  auto vec = [&](const std::string& k) {
    auto it = s.find(k);
    if (it == s.end()) throw std::invalid_argument("L-BFGS state: missing '" + k + "'");
    return std::vector<T>(it->second.begin(), it->second.end());
  };
  auto count = [&](const char* k) { return io::stored_count(scalar(k), 0, std::string("L-BFGS state '") + k + "'"); };
  n_iter_ = count("n_iter");
  func_evals_ = count("func_evals");
  t_ = static_cast<T>(scalar("t"));
  h_diag_ = static_cast<T>(scalar("H_diag"));
  prev_loss_ = static_cast<T>(scalar("prev_loss"));
  d_ = vec("d");
  prev_grad_ = vec("prev_flat_grad");
  ro_ = vec("ro");
  dirs_.clear();
  stps_.clear();
  for (size_t i = 0; i < ro_.size(); ++i) {
    dirs_.push_back(vec("old_dirs." + std::to_string(i)));
    stps_.push_back(vec("old_stps." + std::to_string(i)));
  }
}

template <class T>
void Lbfgs<T>::check_state(size_t n) const {
  auto check = [n](const std::string& key, const std::vector<T>& v, bool may_be_empty) {
    if ((v.empty() && may_be_empty) || v.size() == n) return;
    throw std::invalid_argument("L-BFGS state '" + key + "' has " + std::to_string(v.size()) + " values, expected " +
                                std::to_string(n) + " (one per parameter)" + (may_be_empty ? " or none" : ""));
  };
  check("d", d_, true);
  check("prev_flat_grad", prev_grad_, true);
  for (size_t i = 0; i < dirs_.size(); ++i) {  // history pairs are whole vectors
    check("old_dirs." + std::to_string(i), dirs_[i], false);
    check("old_stps." + std::to_string(i), stps_[i], false);
  }
}

template <class T>
LbfgsStep<T>::LbfgsStep(double lr, int history_size)
    : Optimizer<T>(lr), inner_(LbfgsOptions{.lr = lr, .max_iter = 1, .history_size = history_size}) {}

template <class T>
void LbfgsStep<T>::step(std::span<T> theta, std::span<const T> grad) {
  if (grad.size() != theta.size())
    throw std::invalid_argument("lbfgs: gradient of " + std::to_string(grad.size()) + " values for " + std::to_string(theta.size()) +
                                " parameters");
  inner_.set_lr(this->lr_);  // schedules set the base class's rate
  // The objective is the gradient already computed; with one iteration per step, the loss
  // only feeds the stopping tests after the update, so it is not needed.
  inner_.step(
      [&](std::span<const T>, std::span<T> g) {
        std::copy(grad.begin(), grad.end(), g.begin());
        return T(0);
      },
      theta);
  ++this->t_;
}

template <class T>
StateDict LbfgsStep<T>::state() const {
  StateDict s = inner_.state();
  for (auto& [k, v] : Optimizer<T>::state()) s[k] = v;
  return s;
}

template <class T>
void LbfgsStep<T>::load_state(const StateDict& s) {
  Optimizer<T>::load_state(s);
  inner_.load_state(s);
}

template <class T>
void LbfgsStep<T>::check_state(size_t n) const {
  inner_.check_state(n);
}

template class Lbfgs<float>;
template class Lbfgs<double>;
template class LbfgsStep<float>;
template class LbfgsStep<double>;

}  // namespace trusty::optim
