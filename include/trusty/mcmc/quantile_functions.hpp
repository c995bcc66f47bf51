// Quantile functions (inverse CDFs) the diagnostics need: the standard normal's, for rank
// normalisation, and the beta distribution's, for the MCSE of quantiles.
#pragma once

namespace trusty::mcmc {

// Φ⁻¹(p) for p in (0, 1); −∞ at 0, +∞ at 1, NaN outside [0, 1] or for NaN.
// Acklam's rational approximation (relative error 1.2e-9) refined by one Halley step on
// std::erfc, which brings it to within a few ulp of the exact value.
double normal_quantile(double p);

// The p-quantile of Beta(a, b), a, b > 0, p in [0, 1]: the x with I_x(a, b) = p, found by
// bisection to 1e-15 on the regularised incomplete beta function (continued fraction).
// NaN for NaN or out-of-range arguments.
double beta_quantile(double p, double a, double b);

// The regularised incomplete beta function I_x(a, b) for x in [0, 1], a, b > 0.
double incomplete_beta(double x, double a, double b);

}  // namespace trusty::mcmc
