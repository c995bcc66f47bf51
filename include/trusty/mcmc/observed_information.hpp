// The observed information −∂²ln π/∂θ² of a LogDensity at θ, from central differences of
// its analytic gradient (step h: truncation error ~h², so h = 1e-4 sits far below any
// posterior width of order 1e-2 and above the gradient's rounding noise), symmetrised.
// Its inverse at the maximum is the Laplace (Fisher) covariance: the errors of a maximum-
// likelihood fit, and a good initial dense metric for the samplers.
#pragma once
#include <Eigen/Dense>
#include <span>

#include "trusty/mcmc/log_density.hpp"

namespace trusty::mcmc {

Eigen::MatrixXd observed_information(const LogDensity& density, std::span<const double> theta, double step = 1e-4);

}  // namespace trusty::mcmc
