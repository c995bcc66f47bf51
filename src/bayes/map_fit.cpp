#include "trusty/bayes/map_fit.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include "trusty/optim/optimizer.hpp"

namespace trusty::bayes {

namespace {

double max_abs(std::span<const double> g) {
  double m = 0;
  for (double v : g) m = std::max(m, std::abs(v));
  return m;
}

void validate(const mcmc::LogDensity& density, std::span<const double> theta0, const MapOptions& opt) {
  if (opt.optimizer != "lbfgs" && opt.optimizer != "adam")
    throw std::invalid_argument("fit_map: option optimizer is '" + opt.optimizer + "', expected \"lbfgs\" or \"adam\"");
  if (opt.max_iterations <= 0) throw std::invalid_argument("fit_map: option max_iterations must be positive, got " + std::to_string(opt.max_iterations));
  if (!(opt.lr > 0)) throw std::invalid_argument("fit_map: option lr must be positive, got " + std::to_string(opt.lr));
  if (!(opt.tolerance >= 0)) throw std::invalid_argument("fit_map: option tolerance must be non-negative, got " + std::to_string(opt.tolerance));
  if (opt.history_size <= 0) throw std::invalid_argument("fit_map: option history_size must be positive, got " + std::to_string(opt.history_size));
  if (theta0.size() != static_cast<size_t>(density.dim()))
    throw std::invalid_argument("fit_map: theta0 has " + std::to_string(theta0.size()) + " elements, the density's dimension is " +
                                std::to_string(density.dim()));
}

// −ln π and its gradient; a non-finite value (outside the support) becomes +∞ for the line search.
double negative(const mcmc::LogDensity& density, std::span<const double> theta, std::span<double> grad) {
  const double lp = density.log_density_and_gradient(theta, grad);
  for (double& g : grad) g = -g;
  return std::isfinite(lp) ? -lp : std::numeric_limits<double>::infinity();
}

}  // namespace

MapResult fit_map(const mcmc::LogDensity& density, std::span<const double> theta0, const MapOptions& opt) {
  validate(density, theta0, opt);
  MapResult r;
  r.theta.assign(theta0.begin(), theta0.end());
  std::vector<double> grad(theta0.size());
  if (opt.optimizer == "lbfgs") {
    const int iters = static_cast<int>(std::min<int64_t>(opt.max_iterations, std::numeric_limits<int>::max() / 32));
    optim::Lbfgs<double> lbfgs({.lr = 1, .max_iter = iters, .max_eval = iters * 25, .tolerance_grad = opt.tolerance,
                                .tolerance_change = 1e-14, .history_size = opt.history_size, .strong_wolfe = true});
    lbfgs.step([&](std::span<const double> th, std::span<double> g) { return negative(density, th, g); }, r.theta);
    r.iterations = lbfgs.iterations();
  } else {
    optim::Adam<double> adam({.lr = opt.lr});
    for (r.iterations = 0; r.iterations < opt.max_iterations; ++r.iterations) {
      negative(density, r.theta, grad);
      if (max_abs(grad) <= opt.tolerance) break;
      adam.step(r.theta, grad);
    }
  }
  r.log_density = density.log_density_and_gradient(r.theta, grad);
  r.max_abs_gradient = max_abs(grad);
  r.converged = std::isfinite(r.log_density) && r.max_abs_gradient <= opt.tolerance;
  return r;
}

}  // namespace trusty::bayes
