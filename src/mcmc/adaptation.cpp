#include "trusty/mcmc/adaptation.hpp"

#include <cmath>
#include <stdexcept>

namespace trusty::mcmc {

double StepSizeAdaptation::learn(double accept_stat) {
  ++counter;
  const double a = accept_stat > 1 ? 1 : accept_stat;
  const double t = static_cast<double>(counter);
  const double eta = 1.0 / (t + t0);
  s_bar = (1.0 - eta) * s_bar + eta * (delta - a);
  const double x = mu - s_bar * std::sqrt(t) / gamma;
  const double x_eta = std::pow(t, -kappa);
  x_bar = (1.0 - x_eta) * x_bar + x_eta * x;
  return std::exp(x);
}

double StepSizeAdaptation::final_step_size() const { return std::exp(x_bar); }

namespace {
// ΔH = H0 − H after one leapfrog step of size eps from z with fresh momenta.
double one_step_delta_h(Hamiltonian& h, PhasePoint& z, const PhasePoint& z0, double eps, core::Rng& rng) {
  z.q = z0.q;
  z.g = z0.g;
  z.lp = z0.lp;
  h.metric().sample_momentum(rng, z.p);
  const double H0 = h.energy(z);
  h.leapfrog(z, eps);
  return H0 - h.energy(z);  // energy() is +∞ rather than NaN
}
}  // namespace

double find_initial_step_size(Hamiltonian& h, PhasePoint& z, double eps, core::Rng& rng) {
  if (eps == 0 || eps > 1e7 || std::isnan(eps)) return eps;
  const PhasePoint z0 = z;
  const double log_08 = std::log(0.8);
  const int direction = one_step_delta_h(h, z, z0, eps, rng) > log_08 ? 1 : -1;
  for (;;) {
    const double dh = one_step_delta_h(h, z, z0, eps, rng);
    if (direction == 1 && !(dh > log_08)) break;
    if (direction == -1 && !(dh < log_08)) break;
    eps = direction == 1 ? 2 * eps : 0.5 * eps;
    if (eps > 1e7) throw std::runtime_error("step size initialisation: the posterior is improper (step size > 1e7)");
    if (eps == 0)
      throw std::runtime_error("step size initialisation: no acceptably small step size could be found; "
                               "is the log density continuous?");
  }
  z = z0;
  return eps;
}

WindowedAdaptation::WindowedAdaptation(MetricKind kind, int64_t dim, int64_t num_warmup, int64_t init_buffer,
                                       int64_t term_buffer, int64_t base_window)
    : kind_(kind) {
  mean_ = Eigen::VectorXd::Zero(dim);
  delta_ = Eigen::VectorXd::Zero(dim);
  m2_ = kind == MetricKind::dense_e ? Eigen::MatrixXd::Zero(dim, dim) : Eigen::MatrixXd::Zero(dim, 1);
  if (kind == MetricKind::unit_e || num_warmup < 20) return;
  active_ = true;
  num_warmup_ = num_warmup;
  if (init_buffer + base_window + term_buffer > num_warmup) {
    init_buffer_ = static_cast<int64_t>(0.15 * static_cast<double>(num_warmup));
    term_buffer_ = static_cast<int64_t>(0.10 * static_cast<double>(num_warmup));
    base_window_ = num_warmup - (init_buffer_ + term_buffer_);
  } else {
    init_buffer_ = init_buffer;
    term_buffer_ = term_buffer;
    base_window_ = base_window;
  }
  counter_ = 0;
  window_size_ = base_window_;
  next_window_ = init_buffer_ + window_size_ - 1;
}

bool WindowedAdaptation::in_window() const {
  return counter_ >= init_buffer_ && counter_ < num_warmup_ - term_buffer_ && counter_ != num_warmup_;
}

bool WindowedAdaptation::end_of_window() const { return counter_ == next_window_ && counter_ != num_warmup_; }

void WindowedAdaptation::compute_next_window() {
  const int64_t last = num_warmup_ - term_buffer_ - 1;
  if (next_window_ == last) return;
  window_size_ *= 2;
  next_window_ = counter_ + window_size_;
  if (next_window_ == last) return;
  // Stretch this window to the terminal buffer when the following one would not fit.
  if (next_window_ + 2 * window_size_ >= num_warmup_ - term_buffer_) next_window_ = last;
}

Eigen::MatrixXd WindowedAdaptation::regularised_estimate() const {
  const double n = static_cast<double>(n_);
  const double w = n / (n + 5.0), reg = 1e-3 * 5.0 / (n + 5.0);
  Eigen::MatrixXd sigma = m2_ / (n - 1.0);
  if (kind_ == MetricKind::dense_e) {
    sigma = w * sigma + reg * Eigen::MatrixXd::Identity(sigma.rows(), sigma.cols());
    sigma = 0.5 * (sigma + sigma.transpose()).eval();
  } else {
    sigma = (w * sigma.array() + reg).matrix();
  }
  if (!sigma.allFinite())
    throw std::runtime_error("metric adaptation: numerical overflow in the covariance estimate; "
                             "is the posterior improper?");
  return sigma;
}

bool WindowedAdaptation::learn(Metric& metric, const Eigen::VectorXd& q) {
  if (!active_) return false;
  if (in_window()) {  // Welford
    ++n_;
    delta_ = q - mean_;
    mean_ += delta_ / static_cast<double>(n_);
    if (kind_ == MetricKind::dense_e)
      m2_.noalias() += (q - mean_) * delta_.transpose();
    else
      m2_.col(0).array() += (q - mean_).array() * delta_.array();
  }
  if (!end_of_window()) {
    ++counter_;
    return false;
  }
  compute_next_window();
  // With fewer than two draws there is no estimate: the metric is kept as it is, not
  // regularised towards 10⁻³ I (Stan's Welford estimators leave it unchanged, but its
  // regularisation then shrinks it; stan-dev/stan pull request 3037).
  if (n_ > 1) metric.set_inv_metric(regularised_estimate(), "adapted inverse metric");
  n_ = 0;
  mean_.setZero();
  m2_.setZero();
  ++counter_;
  return true;
}

}  // namespace trusty::mcmc
