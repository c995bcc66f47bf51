// BayesianNetwork: a neural network's posterior over its weights as an mcmc::LogDensity
// (Neal 1996), ln π(w, σ, s | D) = Σ_i ln L(y_i | net(x_i; w), σ) + Σ_g ln N(w_g | 0, s_g²)
// + ln p(σ) + Σ_g ln p(s_g) + the log-Jacobians of the log transforms, every normalising
// constant included (as Stan's _lpdf functions).
//
// θ = [ the network's parameters, in the module's flat layout (named_parameters offsets)
//     | ln σ, when the Gaussian noise is sampled
//     | ln s_g for each parameter group g whose prior scale is sampled ].
// A parameter group is one entry of named_parameters() ("0.weight", "0.bias", ...), each
// with its own prior N(0, s_g²): s_g fixed, or sampled on the log scale under a hyperprior
// (half-normal on s_g, or Neal's gamma on the precision 1/s_g²). Likelihoods: Gaussian (σ
// fixed, or sampled with a half-normal prior), Bernoulli on logits, categorical on logits
// (softmax).
//
// Evaluation is thread-safe and reads the network at θ through Module::forward_at (no
// copy of the weights); the data sit in the object and are read in place by the tape. A
// Dense/tanh perceptron runs as one core::mlp node.
//
//   auto net = nn::make_mlp<double>({1, 20, 20, 1}, {.activation = "tanh"});
//   net->finalize(1);
//   bayes::BayesianNetwork bnn(std::move(net), x, y, {.sigma = 0.1});   // x [n, 1], y [n, 1]
//   std::vector<double> theta(bnn.dim()), grad(bnn.dim());
//   double lp = bnn.log_density_and_gradient(theta, grad);   // or mcmc::sample(bnn, ...)
#pragma once
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trusty/bayes/gaussian_prior_density.hpp"
#include "trusty/core/tensor.hpp"
#include "trusty/nn/module.hpp"

namespace trusty::bayes {

enum class Likelihood { gaussian, bernoulli, categorical };
Likelihood parse_likelihood(const std::string& name);  // "gaussian", "bernoulli", "categorical"
const char* likelihood_name(Likelihood l);

// The prior of one parameter group: N(0, scale²), or (sampled) N(0, s²) with s itself
// sampled (θ holds ln s), under a hyperprior: s ~ half-normal(0, scale), or Neal's (1996)
// gamma on the precision, 1/s² ~ Gamma(shape, rate) (then scale is only the starting value).
enum class Hyperprior { half_normal, gamma_precision };
struct WeightPrior {
  double scale = 1;
  bool sampled = false;
  Hyperprior hyperprior = Hyperprior::half_normal;
  double shape = 1, rate = 1;  // gamma_precision's α and β (rate: E[1/s²] = α/β)
};

struct BayesianNetworkOptions {
  Likelihood likelihood = Likelihood::gaussian;
  double sigma = 0.1;              // Gaussian noise sd (when sampled: initial_theta()'s value)
  bool sample_sigma = false;       // sample σ (θ holds ln σ) with prior half-normal(0, sigma_prior_scale)
  double sigma_prior_scale = 1;
  WeightPrior prior{};             // every parameter group's prior, except...
  // ...these, by group name ("2.weight") or by layer name ("2": its weight and bias).
  std::vector<std::pair<std::string, WeightPrior>> layer_priors{};
};

class BayesianNetwork final : public GaussianPriorDensity {
 public:
  // x: the inputs, batch first, as the network takes them ([n, d] for a perceptron);
  // y: gaussian — the targets, [n, d_out] (or [n] when d_out = 1); bernoulli — 0/1 labels,
  // [n] or [n, 1]; categorical — class indices 0..K−1, [n], with K = the output width.
  // The network is finalized if it is not, and put in eval() mode (dropout off, batch norm
  // on its running statistics).
  BayesianNetwork(std::unique_ptr<nn::Module<double>> net, const core::Tensor<double>& x,
                  const core::Tensor<double>& y, BayesianNetworkOptions opt = {});

  int64_t dim() const override { return n_weights_ + n_extra_; }
  double log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const override;
  std::vector<std::string> param_names() const override;  // "0.weight.1.3", "sigma", "prior_sd.0.weight"
  void constrain(std::span<const double> theta, std::span<double> out) const override;

  void prior_sd(std::span<double> sd) const override;
  double log_density_minus_prior(std::span<const double> theta, std::span<double> grad) const override;

  // The network's output at weights w (num_weights() elements) for inputs x; no gradient.
  core::Tensor<double> predict(std::span<const double> weights, const core::Tensor<double>& x) const;
  // The Gaussian noise sd in a constrained row (constrain()'s output, a ChainDraws row).
  double noise_sd(std::span<const double> constrained) const;

  int64_t num_weights() const { return n_weights_; }
  int64_t output_width() const { return out_width_; }
  Likelihood likelihood() const { return opt_.likelihood; }
  const BayesianNetworkOptions& options() const { return opt_; }
  nn::Module<double>& network() const { return *net_; }
  // The network's current parameters followed by ln σ and the ln s_g at their fixed or
  // prior-scale values: a starting point for MAP fits, VI and chains.
  std::vector<double> initial_theta() const;

 private:
  struct Group {
    std::string name;
    int64_t offset, size;
    WeightPrior prior;
    int64_t scale_index;  // θ index of ln s_g when sampled, else -1
  };
  void build_groups();
  void check_data(const core::Tensor<double>& y);
  double evaluate(std::span<const double> theta, std::span<double> grad, bool fixed_prior) const;
  double likelihood_term(std::span<const double> theta, std::span<double> grad) const;
  double prior_terms(std::span<const double> theta, std::span<double> grad, bool fixed_prior) const;

  std::unique_ptr<nn::Module<double>> net_;
  BayesianNetworkOptions opt_;
  core::Tensor<double> x_, y_;  // y_: the targets in the output's shape (one-hot for categorical)
  std::vector<Group> groups_;
  int64_t n_weights_ = 0, n_extra_ = 0, out_width_ = 0;
  int64_t sigma_index_ = -1;  // θ index of ln σ when sampled
};

}  // namespace trusty::bayes
