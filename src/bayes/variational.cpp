#include "trusty/bayes/variational.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

#include "trusty/bayes/gaussian_prior_density.hpp"
#include "trusty/core/rng.hpp"
#include "trusty/optim/optimizer.hpp"

namespace trusty::bayes {

namespace {

double softplus(double r) { return r > 30 ? r : std::log1p(std::exp(r)); }
double softplus_inverse(double s) { return s > 30 ? s : std::log(std::expm1(s)); }
double sigmoid(double r) { return 1 / (1 + std::exp(-r)); }
const double kHalfLog2PiE = 0.5 * std::log(2 * std::numbers::pi * std::numbers::e);

void validate(const mcmc::LogDensity& density, std::span<const double> mu0, const VariationalOptions& opt) {
  auto fail = [](const std::string& what) { throw std::invalid_argument("fit_variational: " + what); };
  if (mu0.size() != static_cast<size_t>(density.dim()))
    fail("mu0 has " + std::to_string(mu0.size()) + " elements, the density's dimension is " + std::to_string(density.dim()));
  if (opt.iterations <= 0) fail("option iterations must be positive, got " + std::to_string(opt.iterations));
  if (opt.mc_samples <= 0) fail("option mc_samples must be positive, got " + std::to_string(opt.mc_samples));
  if (!(opt.lr > 0)) fail("option lr must be positive, got " + std::to_string(opt.lr));
  if (!(opt.init_sd > 0)) fail("option init_sd must be positive, got " + std::to_string(opt.init_sd));
  if (!(opt.average_fraction >= 0 && opt.average_fraction < 1))
    fail("option average_fraction must be in [0, 1), got " + std::to_string(opt.average_fraction));
}

// One step's ELBO estimate and its gradient in (μ, ρ) (to maximise), into g = [gμ; gρ].
struct ElboGradient {
  const mcmc::LogDensity& density;
  const GaussianPriorDensity* split;  // closed-form KL for coordinates with prior_sd > 0
  Eigen::VectorXd prior_sd;           // 0 where the entropy form applies
  int64_t mc;
  core::Rng rng;
  Eigen::VectorXd eps, theta, grad;

  double operator()(const Eigen::VectorXd& mu, const Eigen::VectorXd& rho, Eigen::VectorXd& g) {
    const int64_t d = mu.size();
    g.setZero(2 * d);
    double elbo = 0;
    for (int64_t k = 0; k < mc; ++k) {  // E_q[ln π_rest] by reparameterised draws
      for (int64_t i = 0; i < d; ++i) {
        eps[i] = rng.normal();
        theta[i] = mu[i] + softplus(rho[i]) * eps[i];
      }
      std::span<const double> th(theta.data(), static_cast<size_t>(d));
      std::span<double> gr(grad.data(), static_cast<size_t>(d));
      elbo += split ? split->log_density_minus_prior(th, gr) : density.log_density_and_gradient(th, gr);
      g.head(d) += grad;
      g.tail(d).array() += grad.array() * eps.array() * rho.unaryExpr(&sigmoid).array();
    }
    elbo /= static_cast<double>(mc);
    g /= static_cast<double>(mc);
    for (int64_t i = 0; i < d; ++i) {  // − KL_i (closed form) or + H_i
      const double s = softplus(rho[i]), p = prior_sd[i];
      double ds = 1 / s;
      if (p > 0) {
        elbo -= std::log(p / s) + (s * s + mu[i] * mu[i]) / (2 * p * p) - 0.5;
        g[i] -= mu[i] / (p * p);
        ds -= s / (p * p);
      } else {
        elbo += std::log(s) + kHalfLog2PiE;
      }
      g[d + i] += ds * sigmoid(rho[i]);
    }
    return elbo;
  }
};

}  // namespace

Eigen::VectorXd MeanFieldGaussian::sd() const { return rho.unaryExpr(&softplus); }

Eigen::MatrixXd MeanFieldGaussian::sample(int64_t n, uint64_t seed) const {
  core::Rng rng(seed, 11);
  const Eigen::VectorXd s = sd();
  Eigen::MatrixXd out(n, mu.size());
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < mu.size(); ++i) out(r, i) = mu[i] + s[i] * rng.normal();
  return out;
}

VariationalFit fit_variational(const mcmc::LogDensity& density, std::span<const double> mu0, const VariationalOptions& opt) {
  validate(density, mu0, opt);
  const int64_t d = density.dim();
  VariationalFit fit;
  const auto* split = opt.closed_form_kl ? dynamic_cast<const GaussianPriorDensity*>(&density) : nullptr;
  fit.closed_form_kl = split != nullptr;
  ElboGradient elbo{density, split, Eigen::VectorXd::Zero(d), opt.mc_samples, core::Rng(opt.seed, 10),
                    Eigen::VectorXd(d), Eigen::VectorXd(d), Eigen::VectorXd(d)};
  if (split) split->prior_sd(std::span<double>(elbo.prior_sd.data(), static_cast<size_t>(d)));
  // params = [μ; ρ], one flat vector for Adam.
  Eigen::VectorXd params(2 * d), g(2 * d), mu_sum = Eigen::VectorXd::Zero(d), sd_sum = Eigen::VectorXd::Zero(d);
  params.head(d) = Eigen::Map<const Eigen::VectorXd>(mu0.data(), d);
  params.tail(d).setConstant(softplus_inverse(opt.init_sd));
  optim::Adam<double> adam({.lr = opt.lr});
  const int64_t start_avg = opt.iterations - std::max<int64_t>(1, static_cast<int64_t>(opt.average_fraction * static_cast<double>(opt.iterations)));
  fit.elbo.reserve(static_cast<size_t>(opt.iterations));
  for (int64_t t = 0; t < opt.iterations; ++t) {
    const Eigen::VectorXd mu = params.head(d), rho = params.tail(d);
    fit.elbo.push_back(elbo(mu, rho, g));
    if (!g.allFinite())
      throw std::runtime_error("fit_variational: non-finite gradient at step " + std::to_string(t) +
                               " (ln π not finite at a draw from q; try a smaller lr or init_sd)");
    g = -g;  // Adam minimises F = −ELBO
    adam.step(std::span<double>(params.data(), static_cast<size_t>(2 * d)), std::span<const double>(g.data(), static_cast<size_t>(2 * d)));
    if (t >= start_avg) {
      mu_sum += params.head(d);
      sd_sum += params.tail(d).unaryExpr(&softplus);
    }
  }
  const double n_avg = static_cast<double>(opt.iterations - start_avg);
  fit.q.mu = mu_sum / n_avg;
  fit.q.rho = (sd_sum / n_avg).unaryExpr(&softplus_inverse);
  return fit;
}

mcmc::ChainDraws variational_draws(const mcmc::LogDensity& density, const MeanFieldGaussian& q, int64_t n, uint64_t seed) {
  if (q.mu.size() != density.dim() || q.rho.size() != density.dim())
    throw std::invalid_argument("variational_draws: q has " + std::to_string(q.mu.size()) + " means and " + std::to_string(q.rho.size()) +
                                " scales for a density of dimension " + std::to_string(density.dim()));
  if (n <= 0) throw std::invalid_argument("variational_draws: n must be positive, got " + std::to_string(n));
  mcmc::ChainDraws c;
  c.param_names = density.param_names();
  c.params.resize(n, density.constrained_dim());
  c.config = {{"algorithm", "variational"}, {"engine", "meanfield"}};
  const Eigen::MatrixXd theta = q.sample(n, seed);
  Eigen::RowVectorXd row(theta.cols()), out(density.constrained_dim());
  for (int64_t r = 0; r < n; ++r) {
    row = theta.row(r);
    std::span<const double> th(row.data(), static_cast<size_t>(row.size()));
    c.lp.push_back(density.log_density(th));
    density.constrain(th, std::span<double>(out.data(), static_cast<size_t>(out.size())));
    c.params.row(r) = out;
  }
  return c;
}

}  // namespace trusty::bayes
