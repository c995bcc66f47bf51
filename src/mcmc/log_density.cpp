#include "trusty/mcmc/log_density.hpp"

#include <algorithm>
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

namespace {
void check_names(const std::vector<std::string>& names, int64_t dim, const char* who) {
  if (!names.empty() && static_cast<int64_t>(names.size()) != dim)
    throw std::invalid_argument(std::string(who) + ": " + std::to_string(names.size()) +
                                " parameter names given for dimension " + std::to_string(dim));
  if (dim <= 0) throw std::invalid_argument(std::string(who) + ": dimension must be positive, got " + std::to_string(dim));
}
}  // namespace

FunctionDensity::FunctionDensity(int64_t dim, Fn f, std::vector<std::string> names)
    : dim_(dim), f_(std::move(f)), names_(std::move(names)) {
  check_names(names_, dim_, "FunctionDensity");
  if (!f_) throw std::invalid_argument("FunctionDensity: empty function");
}

double FunctionDensity::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  return f_(theta, grad);
}

std::vector<std::string> FunctionDensity::param_names() const {
  return names_.empty() ? LogDensity::param_names() : names_;
}

AutodiffDensity::AutodiffDensity(int64_t dim, Fn f, std::vector<std::string> names)
    : dim_(dim), f_(std::move(f)), names_(std::move(names)) {
  check_names(names_, dim_, "AutodiffDensity");
  if (!f_) throw std::invalid_argument("AutodiffDensity: empty function");
}

double AutodiffDensity::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  return core::value_and_grad<double>(f_, theta, grad);
}

std::vector<std::string> AutodiffDensity::param_names() const {
  return names_.empty() ? LogDensity::param_names() : names_;
}

}  // namespace trusty::mcmc
