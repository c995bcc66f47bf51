#include "trusty/bayes/bayesian_network.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "trusty/core/ops.hpp"

namespace trusty::bayes {

using core::Shape;
using core::Tensor;
using core::Var;

namespace {
constexpr double kHalfLog2Pi = 0.91893853320467274178;  // ½ ln 2π

constexpr std::pair<Likelihood, const char*> kLikelihoods[] = {
    {Likelihood::gaussian, "gaussian"}, {Likelihood::bernoulli, "bernoulli"}, {Likelihood::categorical, "categorical"}};

// ln half-normal(s | 0, h) + ln s (the Jacobian of s = e^u), and its derivative in u.
double log_half_normal_on_log(double u, double h, double& d_u) {
  const double s = std::exp(u), z = s / h;
  d_u = 1 - z * z;
  return std::numbers::ln2 - std::log(h) - kHalfLog2Pi - 0.5 * z * z + u;
}

// ln p(u) for u = ln s under a group's hyperprior (Jacobian included), and d/du.
double log_hyperprior(double u, const WeightPrior& p, double& d_u) {
  if (p.hyperprior == Hyperprior::half_normal) return log_half_normal_on_log(u, p.scale, d_u);
  // τ = e^{−2u} ~ Gamma(α, β): α ln β − ln Γ(α) + (α − 1) ln τ − βτ, plus ln|dτ/du| = ln 2 + ln τ.
  const double tau = std::exp(-2 * u);
  d_u = -2 * p.shape + 2 * p.rate * tau;
  return p.shape * std::log(p.rate) - std::lgamma(p.shape) - 2 * p.shape * u - p.rate * tau + std::numbers::ln2;
}

void require_positive(double v, const std::string& what) {
  if (!(v > 0) || !std::isfinite(v))
    throw std::invalid_argument("BayesianNetwork: " + what + " must be a positive number, got " + std::to_string(v));
}
}  // namespace

Likelihood parse_likelihood(const std::string& name) {
  std::string choices;
  for (auto [l, n] : kLikelihoods) {
    if (name == n) return l;
    choices += std::string(choices.empty() ? "" : ", ") + n;
  }
  throw std::invalid_argument("unknown likelihood '" + name + "' (expected one of " + choices + ")");
}

const char* likelihood_name(Likelihood l) {
  for (auto [ll, n] : kLikelihoods)
    if (ll == l) return n;
  return "?";
}

BayesianNetwork::BayesianNetwork(std::unique_ptr<nn::Module<double>> net, const Tensor<double>& x, const Tensor<double>& y,
                                 BayesianNetworkOptions opt)
    : net_(std::move(net)), opt_(std::move(opt)), x_(x.contiguous().clone()) {
  if (!net_) throw std::invalid_argument("BayesianNetwork: no network given");
  if (!net_->finalized()) net_->finalize(0);
  net_->eval();
  n_weights_ = net_->num_parameters();
  if (n_weights_ == 0) throw std::invalid_argument("BayesianNetwork: the network has no parameters");
  if (x_.rank() < 1 || x_.dim(0) == 0) throw std::invalid_argument("BayesianNetwork: x of shape " + x_.shape().str() + " holds no examples");
  if (opt_.likelihood == Likelihood::gaussian) {
    if (opt_.sample_sigma) require_positive(opt_.sigma_prior_scale, "option sigma_prior_scale");
    require_positive(opt_.sigma, "option sigma (the Gaussian noise sd)");
  } else if (opt_.sample_sigma) {
    throw std::invalid_argument(std::string("BayesianNetwork: option sample_sigma applies to the gaussian likelihood only, not ") +
                                likelihood_name(opt_.likelihood));
  }
  if (opt_.sample_sigma) sigma_index_ = n_weights_ + n_extra_++;
  build_groups();
  check_data(y);
}

void BayesianNetwork::build_groups() {
  for (const auto& e : net_->named_parameters()) {
    WeightPrior p = opt_.prior;
    for (const auto& [name, lp] : opt_.layer_priors)
      if (name == e.name || e.name.starts_with(name + ".")) p = lp;
    require_positive(p.scale, std::string("the prior scale of ") + e.name);
    if (p.sampled && p.hyperprior == Hyperprior::gamma_precision) {
      require_positive(p.shape, std::string("the gamma hyperprior's shape for ") + e.name);
      require_positive(p.rate, std::string("the gamma hyperprior's rate for ") + e.name);
    }
    const int64_t idx = p.sampled ? n_weights_ + n_extra_++ : -1;
    groups_.push_back({e.name, e.offset, e.shape.numel(), p, idx});
  }
  for (const auto& layer_prior : opt_.layer_priors) {
    const std::string& name = layer_prior.first;  // a plain reference: Clang 14 cannot capture a structured binding
    const bool used = std::any_of(groups_.begin(), groups_.end(),
                                  [&](const Group& g) { return g.name == name || g.name.starts_with(name + "."); });
    if (!used) {
      std::string names;
      for (const auto& g : groups_) names += (names.empty() ? "" : ", ") + g.name;
      throw std::invalid_argument("BayesianNetwork: option layer_priors names '" + name +
                                  "', which is no parameter group or layer of the network (groups: " + names + ")");
    }
  }
}

void BayesianNetwork::check_data(const Tensor<double>& y) {
  const int64_t n = x_.dim(0);
  Tensor<double> out = predict(net_->parameters(), x_);
  if (out.rank() < 1 || out.dim(0) != n)
    throw std::invalid_argument("BayesianNetwork: the network maps x " + x_.shape().str() + " to " + out.shape().str() +
                                ", expected one output row per example");
  out_width_ = out.numel() / n;
  const Tensor<double> yc = y.contiguous();
  if (yc.rank() < 1 || yc.dim(0) != n)
    throw std::invalid_argument("BayesianNetwork: y of shape " + yc.shape().str() + " for " + std::to_string(n) + " examples in x");
  if (opt_.likelihood == Likelihood::categorical) {
    if (yc.numel() != n) throw std::invalid_argument("BayesianNetwork: categorical y must hold one class index per example, got " + yc.shape().str());
    y_ = Tensor<double>(out.shape());
    for (int64_t i = 0; i < n; ++i) {
      const double c = yc.data()[i];
      if (!(c >= 0 && c < static_cast<double>(out_width_) && c == std::floor(c)))
        throw std::invalid_argument("BayesianNetwork: categorical y[" + std::to_string(i) + "] = " + std::to_string(c) +
                                    ", expected a class index in 0.." + std::to_string(out_width_ - 1));
      y_.data()[i * out_width_ + static_cast<int64_t>(c)] = 1;
    }
    return;
  }
  if (yc.numel() != out.numel())
    throw std::invalid_argument("BayesianNetwork: y of shape " + yc.shape().str() + " for network outputs of shape " + out.shape().str());
  if (opt_.likelihood == Likelihood::bernoulli)
    for (int64_t i = 0; i < n * out_width_; ++i)
      if (yc.data()[i] != 0 && yc.data()[i] != 1)
        throw std::invalid_argument("BayesianNetwork: bernoulli y[" + std::to_string(i) + "] = " + std::to_string(yc.data()[i]) + ", expected 0 or 1");
  y_ = yc.reshape(out.shape()).clone();
}

double BayesianNetwork::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  return evaluate(theta, grad, true);
}

double BayesianNetwork::log_density_minus_prior(std::span<const double> theta, std::span<double> grad) const {
  return evaluate(theta, grad, false);
}

double BayesianNetwork::evaluate(std::span<const double> theta, std::span<double> grad, bool fixed_prior) const {
  const auto d = static_cast<size_t>(dim());
  if (theta.size() != d || grad.size() != d)
    throw std::invalid_argument("BayesianNetwork: theta has " + std::to_string(theta.size()) + " and grad " +
                                std::to_string(grad.size()) + " elements, expected dim() = " + std::to_string(d));
  const double lik = likelihood_term(theta, grad);
  return lik + prior_terms(theta, grad, fixed_prior);
}

// The likelihood on the tape (writes grad); every other term is added by hand after it.
double BayesianNetwork::likelihood_term(std::span<const double> theta, std::span<double> grad) const {
  core::GradScope<double> scope;
  std::fill(grad.begin(), grad.end(), 0.0);
  auto& tape = scope.tape();
  Var<double> th = core::parameter<double>(Shape{dim()}, theta.data(), grad.data());
  Var<double> w = n_extra_ ? tape.alias(th.node(), Shape{n_weights_}, 0, "weights") : th;
  Var<double> f = net_->forward_at(core::constant_ref(x_), w);
  Var<double> y = core::constant_ref(y_);
  Var<double> lp;
  switch (opt_.likelihood) {
    case Likelihood::gaussian:
      lp = opt_.sample_sigma ? core::normal_lpdf(y, f, core::exp(tape.alias(th.node(), Shape{1}, sigma_index_, "log_sigma")))
                             : core::normal_lpdf(y, f, opt_.sigma);
      break;
    case Likelihood::bernoulli:  // Σ y f − ln(1 + e^f)
      lp = core::sum(y * f - core::softplus(f));
      break;
    case Likelihood::categorical:  // Σ_i ln softmax(f_i)[y_i]
      lp = core::sum(y * core::log_softmax(f, -1));
      break;
  }
  const double v = lp.item();
  scope.backward(lp);
  return v;
}

double BayesianNetwork::prior_terms(std::span<const double> theta, std::span<double> grad, bool fixed_prior) const {
  double lp = 0, d_u = 0;
  if (sigma_index_ >= 0) {
    lp += log_half_normal_on_log(theta[static_cast<size_t>(sigma_index_)], opt_.sigma_prior_scale, d_u);
    grad[static_cast<size_t>(sigma_index_)] += d_u;
  }
  for (const Group& g : groups_) {
    const bool sampled = g.scale_index >= 0;
    if (!sampled && !fixed_prior) continue;
    const double u = sampled ? theta[static_cast<size_t>(g.scale_index)] : std::log(g.prior.scale);
    const double inv_var = std::exp(-2 * u);
    const double* w = theta.data() + g.offset;
    double* gw = grad.data() + g.offset;
    double ss = 0;
    for (int64_t i = 0; i < g.size; ++i) {
      ss += w[i] * w[i];
      gw[i] -= w[i] * inv_var;
    }
    lp += -0.5 * ss * inv_var - static_cast<double>(g.size) * (u + kHalfLog2Pi);
    if (sampled) {
      lp += log_hyperprior(u, g.prior, d_u);
      grad[static_cast<size_t>(g.scale_index)] += ss * inv_var - static_cast<double>(g.size) + d_u;
    }
  }
  return lp;
}

void BayesianNetwork::prior_sd(std::span<double> sd) const {
  if (sd.size() != static_cast<size_t>(dim()))
    throw std::invalid_argument("BayesianNetwork::prior_sd: output has " + std::to_string(sd.size()) + " elements, expected " + std::to_string(dim()));
  std::fill(sd.begin(), sd.end(), 0.0);
  for (const Group& g : groups_)
    if (g.scale_index < 0) std::fill_n(sd.begin() + g.offset, g.size, g.prior.scale);
}

std::vector<std::string> BayesianNetwork::param_names() const {
  std::vector<std::string> names(static_cast<size_t>(dim()));
  for (const auto& e : net_->named_parameters()) {
    const auto dims = e.shape.dims();
    std::vector<int64_t> index(dims.size(), 0);  // row-major multi-index, printed 1-based as Stan's
    for (int64_t i = 0; i < e.shape.numel(); ++i) {
      std::string& name = names[static_cast<size_t>(e.offset + i)];
      name = e.name;
      for (int64_t k : index) name.append(".").append(std::to_string(k + 1));
      for (size_t a = dims.size(); a-- > 0;) {
        if (++index[a] < dims[a]) break;
        index[a] = 0;
      }
    }
  }
  if (sigma_index_ >= 0) names[static_cast<size_t>(sigma_index_)] = "sigma";
  for (const Group& g : groups_)
    if (g.scale_index >= 0) names[static_cast<size_t>(g.scale_index)] = "prior_sd." + g.name;
  return names;
}

void BayesianNetwork::constrain(std::span<const double> theta, std::span<double> out) const {
  if (theta.size() != static_cast<size_t>(dim()) || out.size() != theta.size())
    throw std::invalid_argument("BayesianNetwork::constrain: theta has " + std::to_string(theta.size()) + " and out " +
                                std::to_string(out.size()) + " elements, expected " + std::to_string(dim()));
  std::copy(theta.begin(), theta.begin() + n_weights_, out.begin());
  for (int64_t i = n_weights_; i < dim(); ++i) out[static_cast<size_t>(i)] = std::exp(theta[static_cast<size_t>(i)]);
}

Tensor<double> BayesianNetwork::predict(std::span<const double> weights, const Tensor<double>& x) const {
  if (weights.size() != static_cast<size_t>(n_weights_))
    throw std::invalid_argument("BayesianNetwork::predict: " + std::to_string(weights.size()) + " weights for a network of " +
                                std::to_string(n_weights_));
  core::GradScope<double> scope;
  const Tensor<double> xc = x.contiguous();
  Var<double> w = core::parameter<double>(Shape{n_weights_}, weights.data(), nullptr);
  return net_->forward_at(core::constant_ref(xc), w).value();
}

double BayesianNetwork::noise_sd(std::span<const double> constrained) const {
  if (opt_.likelihood != Likelihood::gaussian) return 0;
  if (sigma_index_ < 0) return opt_.sigma;
  if (constrained.size() != static_cast<size_t>(dim()))
    throw std::invalid_argument("BayesianNetwork::noise_sd: a row of " + std::to_string(constrained.size()) + " values, expected " + std::to_string(dim()));
  return constrained[static_cast<size_t>(sigma_index_)];
}

std::vector<double> BayesianNetwork::initial_theta() const {
  std::vector<double> theta(net_->parameters().begin(), net_->parameters().end());
  theta.resize(static_cast<size_t>(dim()));
  if (sigma_index_ >= 0) theta[static_cast<size_t>(sigma_index_)] = std::log(opt_.sigma);
  for (const Group& g : groups_)
    if (g.scale_index >= 0) theta[static_cast<size_t>(g.scale_index)] = std::log(g.prior.scale);
  return theta;
}

}  // namespace trusty::bayes
