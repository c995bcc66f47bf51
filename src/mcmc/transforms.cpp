#include "trusty/mcmc/transforms.hpp"

#include <cmath>
#include <deque>
#include <stdexcept>

#include "trusty/core/tape.hpp"

namespace trusty::mcmc {

namespace {
double log1p_exp(double a) { return a > 0 ? a + std::log1p(std::exp(-a)) : std::log1p(std::exp(a)); }
double inv_logit(double a) {
  if (a >= 0) return 1 / (1 + std::exp(-a));
  const double e = std::exp(a);
  return e / (1 + e);
}
int64_t block_cdim(const ParamBlock& b) { return b.size == 0 ? 1 : b.size; }
int64_t block_udim(const ParamBlock& b) { return b.kind == TransformKind::simplex ? b.size - 1 : block_cdim(b); }

void validate_block(const ParamBlock& b) {
  const std::string who = "ParamSpec: block \"" + b.name + "\": ";
  if (b.name.empty()) throw std::invalid_argument("ParamSpec: a block has an empty name");
  if (b.size < 0) throw std::invalid_argument(who + "size must be >= 0 (0: scalar), got " + std::to_string(b.size));
  if (b.kind == TransformKind::simplex && b.size < 2)
    throw std::invalid_argument(who + "a simplex needs size >= 2, got " + std::to_string(b.size));
  if ((b.kind == TransformKind::lower || b.kind == TransformKind::interval) && !std::isfinite(b.lower))
    throw std::invalid_argument(who + "lower bound must be finite, got " + std::to_string(b.lower));
  if ((b.kind == TransformKind::upper || b.kind == TransformKind::interval) && !std::isfinite(b.upper))
    throw std::invalid_argument(who + "upper bound must be finite, got " + std::to_string(b.upper));
  if (b.kind == TransformKind::interval && !(b.lower < b.upper))
    throw std::invalid_argument(who + "interval needs lower < upper, got (" + std::to_string(b.lower) + ", " +
                                std::to_string(b.upper) + ")");
}

// Stick-breaking simplex of K = n + 1 values from y[0..n).
double simplex_constrain(const double* y, double* x, int64_t K) {
  double stick = 1, lj = 0;
  for (int64_t k = 0; k < K - 1; ++k) {
    const double a = y[k] - std::log(static_cast<double>(K - k - 1));
    const double z = inv_logit(a);
    x[k] = stick * z;
    lj += std::log(stick) - log1p_exp(-a) - log1p_exp(a);
    stick -= x[k];
  }
  x[K - 1] = stick;
  return lj;
}

// Reverse pass of simplex_constrain (ln|J| included).
void simplex_backprop(const double* y, const double* x, const double* gx, double* gy, int64_t K) {
  // The sticks backwards: s_{K−1} = x_{K−1}, s_k = s_{k+1} + x_k.
  double s_bar = gx[K - 1];  // ∂/∂s_{K−1}
  double s = x[K - 1];
  for (int64_t k = K - 2; k >= 0; --k) {
    s += x[k];
    const double z = inv_logit(y[k] - std::log(static_cast<double>(K - k - 1)));
    // s_{k+1} = s (1 − z), x_k = s z, ln|J| term ln s + ln z + ln(1 − z).
    gy[k] = z * (1 - z) * s * (gx[k] - s_bar) + (1 - 2 * z);
    s_bar = s_bar * (1 - z) + gx[k] * z + 1 / s;
  }
}
}  // namespace

ParamSpec::ParamSpec(std::vector<ParamBlock> blocks) : blocks_(std::move(blocks)) {
  if (blocks_.empty()) throw std::invalid_argument("ParamSpec: no parameter blocks");
  for (const auto& b : blocks_) {
    validate_block(b);
    udim_ += block_udim(b);
    cdim_ += block_cdim(b);
  }
}

std::vector<std::string> ParamSpec::names() const {
  std::vector<std::string> n;
  for (const auto& b : blocks_) {
    if (b.size == 0) n.push_back(b.name);
    for (int64_t i = 1; i <= b.size; ++i) n.push_back(b.name + "." + std::to_string(i));
  }
  return n;
}

double ParamSpec::constrain(std::span<const double> y, std::span<double> x) const {
  double lj = 0;
  int64_t iu = 0, ic = 0;
  for (const auto& b : blocks_) {
    const int64_t nc = block_cdim(b), nu = block_udim(b);
    if (b.kind == TransformKind::simplex) {
      lj += simplex_constrain(&y[iu], &x[ic], nc);
    } else {
      for (int64_t i = 0; i < nc; ++i) {
        const double v = y[iu + i];
        double& out = x[ic + i];
        switch (b.kind) {
          case TransformKind::real: out = v; break;
          case TransformKind::positive: out = std::exp(v), lj += v; break;
          case TransformKind::lower: out = b.lower + std::exp(v), lj += v; break;
          case TransformKind::upper: out = b.upper - std::exp(v), lj += v; break;
          case TransformKind::interval:
            out = b.lower + (b.upper - b.lower) * inv_logit(v);
            lj += std::log(b.upper - b.lower) - log1p_exp(-v) - log1p_exp(v);
            break;
          case TransformKind::simplex: break;
        }
      }
    }
    iu += nu, ic += nc;
  }
  return lj;
}

void ParamSpec::backprop(std::span<const double> y, std::span<const double> x, std::span<const double> gx,
                         std::span<double> gy) const {
  int64_t iu = 0, ic = 0;
  for (const auto& b : blocks_) {
    const int64_t nc = block_cdim(b), nu = block_udim(b);
    if (b.kind == TransformKind::simplex) {
      simplex_backprop(&y[iu], &x[ic], &gx[ic], &gy[iu], nc);
    } else {
      for (int64_t i = 0; i < nc; ++i) {
        const double v = y[iu + i], g = gx[ic + i];
        double& out = gy[iu + i];
        switch (b.kind) {
          case TransformKind::real: out = g; break;
          case TransformKind::positive:
          case TransformKind::lower: out = g * (x[ic + i] - (b.kind == TransformKind::lower ? b.lower : 0)) + 1; break;
          case TransformKind::upper: out = -g * (b.upper - x[ic + i]) + 1; break;
          case TransformKind::interval: {
            const double s = inv_logit(v);
            out = g * (b.upper - b.lower) * s * (1 - s) + (1 - 2 * s);
            break;
          }
          case TransformKind::simplex: break;
        }
      }
    }
    iu += nu, ic += nc;
  }
}

void ParamSpec::unconstrain(std::span<const double> x, std::span<double> y) const {
  int64_t iu = 0, ic = 0;
  for (const auto& b : blocks_) {
    const int64_t nc = block_cdim(b), nu = block_udim(b);
    if (b.kind == TransformKind::simplex) {
      double stick = x[ic + nc - 1];
      for (int64_t k = nc - 2; k >= 0; --k) {
        stick += x[ic + k];
        const double z = x[ic + k] / stick;
        y[iu + k] = std::log(z / (1 - z)) + std::log(static_cast<double>(nc - k - 1));
      }
    } else {
      for (int64_t i = 0; i < nc; ++i) {
        const double v = x[ic + i];
        double& out = y[iu + i];
        switch (b.kind) {
          case TransformKind::real: out = v; break;
          case TransformKind::positive: out = std::log(v); break;
          case TransformKind::lower: out = std::log(v - b.lower); break;
          case TransformKind::upper: out = std::log(b.upper - v); break;
          case TransformKind::interval: {
            const double u = (v - b.lower) / (b.upper - b.lower);
            out = std::log(u / (1 - u));
            break;
          }
          case TransformKind::simplex: break;
        }
      }
    }
    iu += nu, ic += nc;
  }
}

TransformedDensity::TransformedDensity(ParamSpec spec, ConstrainedFn f) : spec_(std::move(spec)), f_(std::move(f)) {
  if (!f_) throw std::invalid_argument("TransformedDensity: empty function");
}

TransformedDensity::TransformedDensity(ParamSpec spec, AutodiffFn f) : spec_(std::move(spec)) {
  if (!f) throw std::invalid_argument("TransformedDensity: empty function");
  f_ = [f = std::move(f)](std::span<const double> x, std::span<double> gx) {
    return core::value_and_grad<double>(f, x, gx);
  };
}

double TransformedDensity::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  // Per-thread scratch, one pair per nesting level (f_ may itself evaluate a transformed
  // density): chains call this concurrently, and nothing is allocated after the first call.
  thread_local std::deque<std::vector<double>> scratch;  // growing keeps references valid
  thread_local size_t depth = 0;
  if (scratch.size() < 2 * (depth + 1)) scratch.resize(2 * (depth + 1));
  std::vector<double>& x = scratch[2 * depth];
  std::vector<double>& gx = scratch[2 * depth + 1];
  x.resize(static_cast<size_t>(spec_.constrained_dim()));
  gx.assign(x.size(), 0.0);
  const double lj = spec_.constrain(theta, x);
  struct Nest {
    size_t& d;
    explicit Nest(size_t& d_) : d(d_) { ++d; }
    ~Nest() { --d; }
  };
  double lp;
  {
    const Nest nest(depth);
    lp = f_(x, gx);
  }
  spec_.backprop(theta, x, gx, grad);
  return lp + lj;
}

void TransformedDensity::constrain(std::span<const double> theta, std::span<double> out) const {
  spec_.constrain(theta, out);
}

}  // namespace trusty::mcmc
