// Each function mirrors the R package posterior 1.4.0 (R/convergence.R) step by step, so that
// its quirks are reproduced too; they are pointed out where they occur.
#include "trusty/mcmc/diagnostics.hpp"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

#include "trusty/mcmc/quantile_functions.hpp"
#include "trusty/mcmc/sort_order.hpp"

namespace trusty::mcmc {
namespace {

using Eigen::MatrixXd;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// posterior's is_constant: absolute spread below machine epsilon.
bool is_constant(const MatrixXd& x) { return std::abs(x.maxCoeff() - x.minCoeff()) < DBL_EPSILON; }

// posterior's should_return_NA: any NA or ±Inf, or a constant quantity.
bool should_return_na(const MatrixXd& x) { return x.size() == 0 || !x.allFinite() || is_constant(x); }

// First halves of all chains, then second halves; the middle draw of an odd length is dropped.
MatrixXd split_chains(const MatrixXd& x) {
  const Eigen::Index n = x.rows(), m = x.cols();
  if (n <= 1) return x;
  const Eigen::Index half = n / 2;
  MatrixXd out(half, 2 * m);
  out.leftCols(m) = x.topRows(half);
  out.rightCols(m) = x.bottomRows(half);
  return out;
}

// Φ⁻¹((r − 3/8)/(S + 1/4)) for the integer ranks r = 1..S, cached per thread for the last S
// (every quantity of a run has the same S, and Φ⁻¹ costs far more than the sort).
const std::vector<double>& blom_scores(Eigen::Index S) {
  thread_local std::vector<double> table;
  if (static_cast<Eigen::Index>(table.size()) != S) {
    table.resize(static_cast<size_t>(S));
    const double denom = static_cast<double>(S) + 0.25;
    for (Eigen::Index r = 1; r <= S; ++r)
      table[static_cast<size_t>(r - 1)] = normal_quantile((static_cast<double>(r) - 0.375) / denom);
  }
  return table;
}

// (value, position in the matrix), in ascending order of value.
using Order = std::vector<std::pair<double, Eigen::Index>>;

Order ascending(const MatrixXd& x) {
  const std::vector<uint32_t> perm =
      ascending_order(std::span<const double>(x.data(), static_cast<size_t>(x.size())));
  Order order(perm.size());
  for (size_t k = 0; k < perm.size(); ++k) order[k] = {x.data()[perm[k]], Eigen::Index(perm[k])};
  return order;
}

// Rank normalisation with Blom's offset, Φ⁻¹((r − 3/8)/(S + 1/4)), from the ascending order of
// the values; tied values share their average rank. The values must not be NaN.
MatrixXd z_scores(const Order& order, Eigen::Index rows, Eigen::Index cols) {
  const auto S = static_cast<Eigen::Index>(order.size());
  const std::vector<double>& scores = blom_scores(S);
  const double denom = static_cast<double>(S) + 0.25;
  MatrixXd z(rows, cols);
  for (size_t i = 0; i < order.size();) {
    size_t j = i + 1;
    while (j < order.size() && order[j].first == order[i].first) ++j;
    // Ranks i+1 .. j share their average rank (i + 1 + j)/2.
    const double zr = j == i + 1 ? scores[i]
                                 : normal_quantile((0.5 * static_cast<double>(i + 1 + j) - 0.375) / denom);
    for (size_t k = i; k < j; ++k) z.data()[order[k].second] = zr;
    i = j;
  }
  return z;
}

MatrixXd z_scale(const MatrixXd& x) { return z_scores(ascending(x), x.rows(), x.cols()); }

// Ascending order of |v − center| from the ascending order of v, in O(S) instead of a second
// sort: the values below the centre, walked downwards, merged with those above it.
Order folded_order(const Order& order, double center) {
  Order out;
  out.reserve(order.size());
  const auto mid = std::lower_bound(order.begin(), order.end(), center,
                                    [](const auto& e, double c) { return e.first < c; });
  auto below = std::make_reverse_iterator(mid);
  auto above = mid;
  const auto fold = [center](const auto& e) { return std::pair{std::abs(e.first - center), e.second}; };
  while (below != order.rend() || above != order.end()) {
    const bool take_below = above == order.end() ||
                            (below != order.rend() && fold(*below).first <= fold(*above).first);
    out.push_back(take_below ? fold(*below++) : fold(*above++));
  }
  return out;
}

// R's median: the middle order statistic, or the mean of the two middle ones.
double median(const MatrixXd& x) {
  std::vector<double> s(x.data(), x.data() + x.size());
  const size_t n = s.size(), h = n / 2;
  std::nth_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(h), s.end());
  if (n % 2 == 1) return s[h];
  const double upper = s[h];
  const double lower = *std::max_element(s.begin(), s.begin() + static_cast<std::ptrdiff_t>(h));
  return (static_cast<long double>(lower) + upper) / 2;
}

// Bulk and tail rank-normalised split draws from one sort; NaN-free input. tail is empty when
// the folded draws contain NaN (an infinite median), where posterior's R-hat is NA.
struct RankNormalized {
  MatrixXd bulk, tail;
  Order order;  // the split draws, ascending
};

RankNormalized rank_normalize(const MatrixXd& x) {
  const MatrixXd xs = split_chains(x);
  RankNormalized r;
  r.order = ascending(xs);
  r.bulk = z_scores(r.order, xs.rows(), xs.cols());
  // With an even number of iterations (or one) the split draws are all the draws: their
  // median is read off the order, as R computes it (mean of the two middle values).
  const size_t h = r.order.size() / 2;
  const bool all_draws = x.rows() % 2 == 0 || x.rows() == 1;
  const double center =
      !all_draws ? median(x)
      : r.order.size() % 2 == 1
          ? r.order[h].first
          : static_cast<double>((static_cast<long double>(r.order[h - 1].first) + r.order[h].first) / 2);
  if (std::isfinite(center)) r.tail = z_scores(folded_order(r.order, center), xs.rows(), xs.cols());
  return r;
}

// R's quantile(x, p, type = 7) on sorted values.
double quantile_sorted(const std::vector<double>& s, double p) {
  const double index = static_cast<double>(s.size() - 1) * p;  // 0-based
  const double lo = std::floor(index), hi = std::ceil(index);
  const double qs = s[static_cast<size_t>(lo)];
  const double xhi = s[static_cast<size_t>(hi)];
  if (index > lo && xhi != qs) {
    const double h = index - lo;
    return (1 - h) * qs + h * xhi;
  }
  return qs;
}

std::vector<double> sorted(const MatrixXd& x) {
  std::vector<double> s(x.data(), x.data() + x.size());
  std::sort(s.begin(), s.end());
  return s;
}

double sample_sd(const MatrixXd& x) {
  const double n = static_cast<double>(x.size());
  return std::sqrt((x.array() - x.mean()).square().sum() / (n - 1));
}

// Split-chain R-hat of posterior's .rhat: sqrt((B/W + n − 1)/n), B = n·var(chain means).
double rhat_of(const MatrixXd& x) {
  if (should_return_na(x)) return kNaN;
  const double n = static_cast<double>(x.rows()), m = static_cast<double>(x.cols());
  const Eigen::RowVectorXd chain_mean = x.colwise().mean();
  const double chain_var_mean =
      (x.rowwise() - chain_mean).array().square().colwise().sum().mean() / (n - 1);
  const double var_between = n * (chain_mean.array() - chain_mean.mean()).square().sum() / (m - 1);
  return std::sqrt((var_between / chain_var_mean + n - 1) / n);
}

// Autocovariances averaged over chains, computed lag by lag on demand (the Geyer sequence
// usually stops after a few lags). Lag k: mean over chains of Σ_i y_i y_{i+k} / n, y centred;
// a constant chain contributes zeros (posterior's autocovariance returns 0 when var = 0).
class MeanAutocovariance {
 public:
  explicit MeanAutocovariance(const MatrixXd& x) : y_(x.rowwise() - x.colwise().mean()) {
    for (Eigen::Index c = 0; c < x.cols(); ++c)
      if (x.col(c).maxCoeff() == x.col(c).minCoeff()) y_.col(c).setZero();
  }
  double operator()(Eigen::Index lag) const {
    const Eigen::Index n = y_.rows(), len = n - lag;
    double sum = 0;
    for (Eigen::Index c = 0; c < y_.cols(); ++c)
      sum += y_.col(c).head(len).dot(y_.col(c).tail(len));
    return sum / static_cast<double>(n) / static_cast<double>(y_.cols());
  }

 private:
  MatrixXd y_;
};

// Geyer's initial positive sequence over pairs of autocorrelations, made monotone; returns
// τ = −1 + 2 Σ_{t<max_t} ρ_t + ρ_{max_t} with the index quirk of posterior (see below).
double integrated_time(const MatrixXd& x) {
  const Eigen::Index n = x.rows();
  const MeanAutocovariance acov(x);
  const double nd = static_cast<double>(n);
  const double mean_var = acov(0) * nd / (nd - 1);
  double var_plus = mean_var * (nd - 1) / nd;
  if (x.cols() > 1) {
    const Eigen::RowVectorXd cm = x.colwise().mean();
    var_plus += (cm.array() - cm.mean()).square().sum() / static_cast<double>(x.cols() - 1);
  }
  const auto rho = [&](Eigen::Index lag) { return 1 - (mean_var - acov(lag)) / var_plus; };
  std::vector<double> r(static_cast<size_t>(n), 0.0);
  Eigen::Index t = 0;
  double even = 1, odd = rho(1);
  r[0] = even;
  r[1] = odd;
  while (t < n - 5 && !std::isnan(even + odd) && even + odd > 0) {
    t += 2;
    even = rho(t);
    odd = rho(t + 1);
    if (even + odd >= 0) {
      r[static_cast<size_t>(t)] = even;
      r[static_cast<size_t>(t + 1)] = odd;
    }
  }
  const auto max_t = static_cast<size_t>(t);
  if (even > 0) r[max_t] = even;
  for (size_t u = 2; u + 2 <= max_t; u += 2) {  // R: while (t <= max_t - 4) t <- t + 2
    if (r[u] + r[u + 1] > r[u - 2] + r[u - 1]) r[u] = r[u + 1] = (r[u - 2] + r[u - 1]) / 2;
  }
  // R's sum(rho_hat_t[1:max_t]) with max_t = 0 is rho_hat_t[1] (1:0 is c(1, 0)).
  const double head = max_t == 0 ? r[0] : std::accumulate(r.begin(), r.begin() + max_t, 0.0);
  return -1 + 2 * head + r[max_t];
}

// posterior's .ess on already split (and transformed) draws.
double ess_of(const MatrixXd& x) {
  if (x.rows() < 3 || should_return_na(x)) return kNaN;
  const double total = static_cast<double>(x.size());
  const double tau = std::max(integrated_time(x), 1 / std::log10(total));
  return total / tau;
}

// R's min(a, b): NA if either is NA.
double na_min(double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::min(a, b); }
double na_max(double a, double b) { return std::isnan(a) || std::isnan(b) ? kNaN : std::max(a, b); }

void check_probability(double p, const char* function) {
  if (!(p >= 0 && p <= 1))
    throw std::invalid_argument(std::string(function) + ": probability p = " + std::to_string(p) +
                                " is outside [0, 1]");
}

// ess_quantile for finite, non-constant x, given its sorted values.
double ess_quantile_sorted(const MatrixXd& x, const std::vector<double>& s, double p) {
  const double S = static_cast<double>(x.size());
  if (p == 1) p = (S - 0.5) / S;
  const double q = quantile_sorted(s, p);
  return ess_of(split_chains((x.array() <= q).cast<double>().matrix()));
}

}  // namespace

double rhat_basic(const MatrixXd& x) { return rhat_of(split_chains(x)); }

double rhat_bulk(const MatrixXd& x) {
  if (x.size() == 0 || x.hasNaN()) return kNaN;
  return rhat_of(z_scale(split_chains(x)));
}

double rhat_tail(const MatrixXd& x) {
  if (x.size() == 0 || x.hasNaN()) return kNaN;
  const RankNormalized r = rank_normalize(x);
  return r.tail.size() ? rhat_of(r.tail) : kNaN;
}

double rhat(const MatrixXd& x) {
  if (x.size() == 0 || x.hasNaN()) return kNaN;
  const RankNormalized r = rank_normalize(x);
  return na_max(rhat_of(r.bulk), r.tail.size() ? rhat_of(r.tail) : kNaN);
}

double ess_basic(const MatrixXd& x) { return ess_of(split_chains(x)); }

double ess_bulk(const MatrixXd& x) {
  if (x.size() == 0 || x.hasNaN()) return kNaN;
  return ess_of(z_scale(split_chains(x)));
}

double ess_tail(const MatrixXd& x) {
  if (should_return_na(x)) return kNaN;
  const std::vector<double> s = sorted(x);
  return na_min(ess_quantile_sorted(x, s, 0.05), ess_quantile_sorted(x, s, 0.95));
}

double ess_mean(const MatrixXd& x) { return ess_of(split_chains(x)); }

double ess_sd(const MatrixXd& x) {
  if (x.size() == 0) return kNaN;
  return ess_of(split_chains((x.array() - x.mean()).abs().matrix()));
}

double ess_quantile(const MatrixXd& x, double p) {
  check_probability(p, "ess_quantile");
  if (should_return_na(x)) return kNaN;
  return ess_quantile_sorted(x, sorted(x), p);
}

double mcse_mean(const MatrixXd& x) {
  if (x.size() == 0) return kNaN;
  return sample_sd(x) / std::sqrt(ess_mean(x));
}

double mcse_sd(const MatrixXd& x) {
  if (x.size() == 0) return kNaN;
  const MatrixXd c = (x.array() - x.mean()).matrix();
  const MatrixXd c2 = c.array().square().matrix();
  const double ess = ess_mean(c2);
  const double e_var = c2.mean();
  const double var_var = (c2.array().square().mean() - e_var * e_var) / ess;
  return std::sqrt(var_var / e_var / 4);
}

double mcse_quantile(const MatrixXd& x, double p) {
  check_probability(p, "mcse_quantile");
  const double ess = ess_quantile(x, p);
  if (std::isnan(ess)) return kNaN;
  // posterior's constants: Φ(−1) and Φ(1) to 7 digits.
  const double a1 = beta_quantile(0.1586553, ess * p + 1, ess * (1 - p) + 1);
  const double a2 = beta_quantile(0.8413447, ess * p + 1, ess * (1 - p) + 1);
  const std::vector<double> s = sorted(x);
  const double S = static_cast<double>(s.size());
  const auto i1 = static_cast<size_t>(std::max(std::floor(a1 * S), 1.0)) - 1;
  const auto i2 = static_cast<size_t>(std::min(std::ceil(a2 * S), S)) - 1;
  return (s[i2] - s[i1]) / 2;
}

ConvergenceDiagnostics convergence_diagnostics(const MatrixXd& x) {
  ConvergenceDiagnostics d{kNaN, kNaN, kNaN, kNaN, kNaN, mcse_mean(x), mcse_sd(x)};
  if (x.size() == 0 || x.hasNaN()) return d;
  const RankNormalized r = rank_normalize(x);
  d.rhat_bulk = rhat_of(r.bulk);
  d.rhat_tail = r.tail.size() ? rhat_of(r.tail) : kNaN;
  d.rhat = na_max(d.rhat_bulk, d.rhat_tail);
  d.ess_bulk = ess_of(r.bulk);
  if (should_return_na(x)) return d;
  // With an even number of iterations the split draws are all the draws, already sorted.
  std::vector<double> s;
  if (x.rows() % 2 == 0) {
    s.reserve(r.order.size());
    for (const auto& e : r.order) s.push_back(e.first);
  } else {
    s = sorted(x);
  }
  d.ess_tail = na_min(ess_quantile_sorted(x, s, 0.05), ess_quantile_sorted(x, s, 0.95));
  return d;
}

double e_bfmi(std::span<const double> energy) {
  const size_t n = energy.size();
  if (n < 2) return kNaN;
  double mean = 0;
  for (const double e : energy) {
    if (!std::isfinite(e)) return kNaN;
    mean += e;
  }
  mean /= static_cast<double>(n);
  double num = 0, den = 0;
  for (size_t i = 0; i < n; ++i) {
    den += (energy[i] - mean) * (energy[i] - mean);
    if (i > 0) num += (energy[i] - energy[i - 1]) * (energy[i] - energy[i - 1]);
  }
  return den > 0 ? num / den : kNaN;
}

}  // namespace trusty::mcmc
