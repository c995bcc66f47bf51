#include "trusty/mcmc/log_density.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <vector>

#include "trusty/core/tape.hpp"

namespace trusty::mcmc {

double LogDensity::log_density(std::span<const double> theta) const {
  std::vector<double> g(static_cast<size_t>(dim()));
  return log_density_and_gradient(theta, g);
}

std::vector<std::string> LogDensity::param_names() const {
  std::vector<std::string> names;
  for (int64_t i = 1; i <= constrained_dim(); ++i) names.push_back("theta." + std::to_string(i));
  return names;
}

void LogDensity::constrain(std::span<const double> theta, std::span<double> out) const {
  if (out.size() != theta.size())
    throw std::invalid_argument("LogDensity::constrain: output has " + std::to_string(out.size()) +
                                " elements, expected " + std::to_string(theta.size()));
  std::copy(theta.begin(), theta.end(), out.begin());
}

NamedDensity::NamedDensity(int64_t dim, std::vector<std::string> names, const char* who)
    : dim_(dim), names_(std::move(names)) {
  if (dim_ <= 0) throw std::invalid_argument(std::string(who) + ": dimension must be positive, got " + std::to_string(dim_));
  if (!names_.empty() && static_cast<int64_t>(names_.size()) != dim_)
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(names_.size()) +
                                " parameter names given for dimension " + std::to_string(dim_));
}

std::vector<std::string> NamedDensity::param_names() const {
  return names_.empty() ? LogDensity::param_names() : names_;
}

FunctionDensity::FunctionDensity(int64_t dim, Fn f, std::vector<std::string> names)
    : NamedDensity(dim, std::move(names), "FunctionDensity"), f_(std::move(f)) {
  if (!f_) throw std::invalid_argument("FunctionDensity: empty function");
}

double FunctionDensity::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  return f_(theta, grad);
}

AutodiffDensity::AutodiffDensity(int64_t dim, Fn f, std::vector<std::string> names)
    : NamedDensity(dim, std::move(names), "AutodiffDensity"), f_(std::move(f)) {
  if (!f_) throw std::invalid_argument("AutodiffDensity: empty function");
}

double AutodiffDensity::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  return core::value_and_grad<double>(f_, theta, grad);
}

core::GradCheckResult check_gradient(const LogDensity& density, std::span<const double> theta,
                                     const core::GradCheckOptions& options) {
  const int64_t d = density.dim();
  if (static_cast<int64_t>(theta.size()) != d)
    throw std::invalid_argument("check_gradient: theta has " + std::to_string(theta.size()) + " elements, the density " +
                                std::to_string(d));
  std::vector<double> g(static_cast<size_t>(d)), gp(g.size()), x(theta.begin(), theta.end());
  density.log_density_and_gradient(theta, g);
  core::GradCheckResult r;
  r.ok = true;
  r.worst_input = 0;
  for (int64_t i = 0; i < d; ++i) {
    const double x0 = x[static_cast<size_t>(i)];
    x[static_cast<size_t>(i)] = x0 + options.eps;
    const double up = density.log_density_and_gradient(x, gp);
    x[static_cast<size_t>(i)] = x0 - options.eps;
    const double dn = density.log_density_and_gradient(x, gp);
    x[static_cast<size_t>(i)] = x0;
    const double num = (up - dn) / (2 * options.eps), an = g[static_cast<size_t>(i)];
    const double err = std::abs(an - num) / std::max({1.0, std::abs(an), std::abs(num)});
    if (!(err <= r.max_error) || r.worst_index < 0) {
      if (!(err <= r.max_error)) r.max_error = err;
      r.worst_index = i;
      r.analytic = an;
      r.numeric = num;
    }
  }
  r.ok = r.max_error <= options.tol;
  return r;
}

}  // namespace trusty::mcmc
