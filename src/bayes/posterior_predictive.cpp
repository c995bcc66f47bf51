#include "trusty/bayes/posterior_predictive.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace trusty::bayes {

namespace {

void validate(const BayesianNetwork& model, const Eigen::MatrixXd& draws, const PredictiveOptions& opt) {
  if (draws.rows() == 0) throw std::invalid_argument("posterior_predictive: no draws");
  const bool weights_only = draws.cols() == model.num_weights() && !model.options().sample_sigma;
  if (draws.cols() != model.constrained_dim() && !weights_only)
    throw std::invalid_argument("posterior_predictive: draws have " + std::to_string(draws.cols()) + " columns, expected " +
                                std::to_string(model.constrained_dim()) + " (constrained parameters)" +
                                (model.constrained_dim() != model.num_weights() ? "" : " or the weights alone"));
  for (double q : opt.quantiles)
    if (!(q > 0 && q < 1)) throw std::invalid_argument("posterior_predictive: option quantiles holds " + std::to_string(q) + ", expected levels in (0, 1)");
}

// Probabilities from logits, in place: sigmoid per element, or softmax per row.
void to_probabilities(Likelihood l, double* f, int64_t size, int64_t width) {
  if (l == Likelihood::bernoulli) {
    for (int64_t i = 0; i < size; ++i) f[i] = 1 / (1 + std::exp(-f[i]));
    return;
  }
  for (int64_t i = 0; i < size; i += width) {
    Eigen::Map<Eigen::RowVectorXd> row(f + i, width);
    row = (row.array() - row.maxCoeff()).exp();
    row /= row.sum();
  }
}

// Empirical quantile (linear interpolation between order statistics, R's type 7).
double empirical_quantile(std::vector<double>& v, double q) {
  std::sort(v.begin(), v.end());
  const double h = q * static_cast<double>(v.size() - 1);
  const auto lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  return v[lo] + (h - static_cast<double>(lo)) * (v[hi] - v[lo]);
}

}  // namespace

double mixture_quantile(std::span<const double> mu, std::span<const double> sd, double q) {
  double lo = INFINITY, hi = -INFINITY, scale = 0;
  for (size_t s = 0; s < mu.size(); ++s) {
    lo = std::min(lo, mu[s] - 10 * sd[s]);
    hi = std::max(hi, mu[s] + 10 * sd[s]);
    scale = std::max(scale, sd[s]);
  }
  const double n = static_cast<double>(mu.size());
  auto cdf = [&](double y) {
    double c = 0;
    for (size_t s = 0; s < mu.size(); ++s) c += 0.5 * std::erfc((mu[s] - y) / (sd[s] * std::numbers::sqrt2));
    return c / n;
  };
  while (hi - lo > 1e-10 * scale) {
    const double mid = 0.5 * (lo + hi);
    (cdf(mid) < q ? lo : hi) = mid;
  }
  return 0.5 * (lo + hi);
}

Predictive posterior_predictive(const BayesianNetwork& model, const Eigen::MatrixXd& draws, const core::Tensor<double>& x,
                                const PredictiveOptions& opt) {
  validate(model, draws, opt);
  const int64_t S = draws.rows(), nw = model.num_weights(), width = model.output_width();
  const bool regression = model.likelihood() == Likelihood::gaussian;
  // f[s, i·width + j]: output j at input i under draw s (probabilities for classification).
  Eigen::MatrixXd f;
  Eigen::VectorXd sigma(S);
  for (int64_t s = 0; s < S; ++s) {
    const Eigen::RowVectorXd row = draws.row(s);
    core::Tensor<double> out = model.predict(std::span<const double>(row.data(), static_cast<size_t>(nw)), x);
    if (!regression) to_probabilities(model.likelihood(), out.data(), out.numel(), width);
    if (s == 0) f.resize(S, out.numel());
    f.row(s) = Eigen::Map<const Eigen::RowVectorXd>(out.data(), out.numel());
    sigma[s] = draws.cols() == model.constrained_dim() ? model.noise_sd(std::span<const double>(row.data(), static_cast<size_t>(row.size())))
                                                       : model.options().sigma;
  }
  const int64_t n = f.cols() / width;
  Predictive p;
  p.n_draws = S;
  const Eigen::RowVectorXd mean = f.colwise().mean();
  const Eigen::RowVectorXd var_f = (f.rowwise() - mean).array().square().colwise().sum() / static_cast<double>(S);
  auto as_matrix = [&](const Eigen::RowVectorXd& v) {
    return Eigen::Map<const Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(v.data(), n, width).eval();
  };
  p.mean = as_matrix(mean);
  p.sd_network = as_matrix(var_f.cwiseSqrt());
  const double noise_var = regression && opt.observation_noise ? sigma.array().square().mean() : 0.0;
  p.sd = as_matrix((var_f.array() + noise_var).sqrt().matrix());
  if (!regression) return p;
  std::vector<double> col(static_cast<size_t>(S));
  for (double q : opt.quantiles) {
    Eigen::RowVectorXd qs(f.cols());
    for (int64_t k = 0; k < f.cols(); ++k) {
      for (int64_t s = 0; s < S; ++s) col[static_cast<size_t>(s)] = f(s, k);
      qs[k] = opt.observation_noise ? mixture_quantile(col, std::span<const double>(sigma.data(), static_cast<size_t>(S)), q)
                                    : empirical_quantile(col, q);
    }
    p.quantiles.push_back(as_matrix(qs));
  }
  return p;
}

Predictive posterior_predictive(const BayesianNetwork& model, std::span<const mcmc::ChainDraws> chains, const core::Tensor<double>& x,
                                const PredictiveOptions& opt) {
  int64_t rows = 0;
  const std::vector<std::string> names = model.param_names();
  for (const auto& c : chains) {
    rows += c.n_draws() - c.n_warmup_saved;
    if (!c.param_names.empty() && c.param_names != names)
      throw std::invalid_argument("posterior_predictive: chain " + std::to_string(c.chain_id) + "'s parameters (" +
                                  std::to_string(c.param_names.size()) + ", first '" + c.param_names.front() +
                                  "') are not this network's (" + std::to_string(names.size()) + ", first '" + names.front() + "')");
  }
  Eigen::MatrixXd all(rows, chains.empty() ? 0 : chains.front().params.cols());
  int64_t r = 0;
  for (const auto& c : chains) {
    if (c.params.cols() != all.cols())
      throw std::invalid_argument("posterior_predictive: chain " + std::to_string(c.chain_id) + " has " + std::to_string(c.params.cols()) +
                                  " parameter columns, the first chain " + std::to_string(all.cols()));
    const int64_t k = c.n_draws() - c.n_warmup_saved;
    all.middleRows(r, k) = c.params.bottomRows(k);
    r += k;
  }
  return posterior_predictive(model, all, x, opt);
}

}  // namespace trusty::bayes
