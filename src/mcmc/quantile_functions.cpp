#include "trusty/mcmc/quantile_functions.hpp"

#include <cmath>
#include <limits>
#include <numbers>

namespace trusty::mcmc {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Acklam's approximation of Φ⁻¹(p) for 0 < p ≤ 1/2.
double acklam_lower(double p) {
  static constexpr double a[] = {-3.969683028665376e+01, 2.209460984245205e+02,
                                 -2.759285104469687e+02, 1.383577518672690e+02,
                                 -3.066479806614716e+01, 2.506628277459239e+00};
  static constexpr double b[] = {-5.447609879822406e+01, 1.615858368580409e+02,
                                 -1.556989798598866e+02, 6.680131188771972e+01,
                                 -1.328068155288572e+01};
  static constexpr double c[] = {-7.784894002430293e-03, -3.223964580411365e-01,
                                 -2.400758277161838e+00, -2.549732539343734e+00,
                                 4.374664141464968e+00,  2.938163982698783e+00};
  static constexpr double d[] = {7.784695709041462e-03, 3.224671290700398e-01,
                                 2.445134137142996e+00, 3.754408661907416e+00};
  if (p < 0.02425) {
    const double q = std::sqrt(-2 * std::log(p));
    return (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
           ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  const double q = p - 0.5, r = q * q;
  return (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
         (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
}

// Continued fraction for I_x(a, b) (modified Lentz), valid for x < (a + 1)/(a + b + 2).
double beta_continued_fraction(double x, double a, double b) {
  constexpr double tiny = 1e-300, eps = 4e-16;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (std::abs(d) < tiny) d = tiny;
  d = 1 / d;
  double f = d;
  const auto step = [&](double num) {
    d = 1 + num * d;
    if (std::abs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (std::abs(c) < tiny) c = tiny;
    d = 1 / d;
    f *= c * d;
    return c * d;
  };
  for (int m = 1; m <= 10000; ++m) {
    const double m2 = 2.0 * m;
    step(m * (b - m) * x / ((a + m2 - 1) * (a + m2)));
    const double delta = step(-(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)));
    if (std::abs(delta - 1) < eps) break;
  }
  return f;
}

}  // namespace

double normal_quantile(double p) {
  if (!(p >= 0 && p <= 1)) return kNaN;
  if (p == 0) return -std::numeric_limits<double>::infinity();
  if (p == 1) return std::numeric_limits<double>::infinity();
  // 1 − p is exact for p ≥ 1/2, so the upper half is the mirror of the lower half.
  if (p > 0.5) return -normal_quantile(1 - p);
  double x = acklam_lower(p);
  const double e = 0.5 * std::erfc(-x / std::numbers::sqrt2) - p;
  const double u = e * std::sqrt(2 * std::numbers::pi) * std::exp(x * x / 2);
  x -= u / (1 + x * u / 2);
  return x;
}

double incomplete_beta(double x, double a, double b) {
  if (!(x >= 0 && x <= 1 && a > 0 && b > 0)) return kNaN;
  if (x == 0 || x == 1) return x;
  const double log_front = std::lgamma(a + b) - std::lgamma(a) - std::lgamma(b) +
                           a * std::log(x) + b * std::log1p(-x);
  if (x < (a + 1) / (a + b + 2)) return std::exp(log_front) * beta_continued_fraction(x, a, b) / a;
  return 1 - std::exp(log_front) * beta_continued_fraction(1 - x, b, a) / b;
}

double beta_quantile(double p, double a, double b) {
  if (!(p >= 0 && p <= 1 && a > 0 && b > 0)) return kNaN;
  if (p == 0 || p == 1) return p;
  double lo = 0, hi = 1;
  while (hi - lo > 1e-15) {
    const double mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    (incomplete_beta(mid, a, b) < p ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

}  // namespace trusty::mcmc
