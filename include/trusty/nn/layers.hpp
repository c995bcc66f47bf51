// The feed-forward layers of the lecture. Each is one class; a batch is a matrix
// [batch, features], so a dense layer is one GEMM forward and two backward.
#pragma once
#include <string>

#include "trusty/core/ops.hpp"
#include "trusty/nn/module.hpp"

namespace trusty::nn {

// y = x W + b, W [in, out] (fan-in first, as in the lecture's z = Wᵀa + b with rows = samples).
template <class T>
class Dense final : public Module<T> {
 public:
  struct Options {
    InitSpec weight_init{Init::xavier_uniform};
    InitSpec bias_init{Init::zeros};
    bool bias = true;
  };
  Dense(int64_t in, int64_t out, Options opt);
  Dense(int64_t in, int64_t out) : Dense(in, out, Options{}) {}
  Var<T> forward(const Var<T>& x) override;
  // act(forward(x)) as one fused node (core::linear with an activation).
  Var<T> forward(const Var<T>& x, core::LinearAct act);
  std::string kind() const override { return "Dense"; }
  std::string describe() const override;
  int64_t in_features() const { return in_; }
  int64_t out_features() const { return out_; }
  bool has_bias() const { return b_ >= 0; }

 private:
  int64_t in_, out_;
  int w_ = -1, b_ = -1;
};

enum class Act { identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, softmax };
Act parse_activation(const std::string& name);  // throws listing the choices
const char* activation_name(Act a);

// The activation functions as functions...
template <class T>
Var<T> activate(const Var<T>& x, Act a, T alpha = T(0.01));

// ...and as a layer. alpha: the slope of leaky_relu (default 0.01) or the alpha of elu (1).
template <class T>
class Activation final : public Module<T> {
 public:
  explicit Activation(Act a, double alpha = -1);
  Var<T> forward(const Var<T>& x) override { return activate<T>(x, act_, alpha_); }
  std::string kind() const override { return activation_name(act_); }
  Act act() const { return act_; }

 private:
  Act act_;
  T alpha_;
};

// Batch normalisation over the batch axis of [batch, features] (Ioffe & Szegedy 2015).
// Training: normalise by the batch mean and biased variance, and update the running
// statistics (buffers) with the unbiased variance, as PyTorch does. Evaluation: the affine
// map of the running statistics.
template <class T>
class BatchNorm final : public Module<T> {
 public:
  explicit BatchNorm(int64_t features, double momentum = 0.1, double eps = 1e-5);
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "BatchNorm"; }
  std::string describe() const override;

 private:
  int64_t n_;
  T momentum_, eps_;
  int gamma_, beta_, mean_, var_;
};

// Inverted dropout: in training each element is zeroed with probability p and the
// survivors are scaled by 1/(1-p); in evaluation it is the identity.
template <class T>
class Dropout final : public Module<T> {
 public:
  explicit Dropout(double p);
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "Dropout"; }
  std::string describe() const override;

 private:
  T p_;
};

// Children applied in order; named "0", "1", ...
template <class T>
class Sequential final : public Module<T> {
 public:
  Sequential() = default;
  Sequential& add(std::unique_ptr<Module<T>> m);
  template <class M, class... A>
  Sequential& emplace(A&&... args) { return add(std::make_unique<M>(std::forward<A>(args)...)); }
  // Runs the children in order; a Dense followed by a tanh, sigmoid or ReLU Activation runs
  // as one fused node (same values and gradients; layers, names and layout unchanged).
  // Under forward_at, a whole multilayer perceptron — Dense (with bias) layers separated by
  // one and the same tanh, sigmoid or ReLU Activation, the last Dense followed by nothing or
  // an identity Activation — runs as the one core::mlp node over θ (the sampler's fast path).
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "Sequential"; }
  std::string describe() const override;
  size_t size() const { return this->children().size(); }
  Module<T>& operator[](size_t i) { return *this->children()[i].second; }
  // The widths {d0, ..., dL} when the children form a perceptron core::mlp can run (see
  // forward), else empty.
  const std::vector<int64_t>& mlp_widths() const { return mlp_widths_; }

 private:
  void plan_mlp();  // recomputed on every add()
  std::vector<int64_t> mlp_widths_;
  core::LinearAct mlp_act_ = core::LinearAct::none;
};

// A multilayer perceptron from widths [in, h1, ..., out]: Dense + (BatchNorm) + activation
// + (Dropout) per hidden layer, then Dense + output activation. init "auto": He normal
// weights for ReLU-family activations, Xavier uniform otherwise, and U(±1/sqrt(fan_in))
// biases (PyTorch's); any other init name applies to the weights with zero biases.
struct MlpOptions {
  std::string activation = "relu";
  std::string output_activation = "identity";
  std::string init = "auto";
  double dropout = 0;
  bool batch_norm = false;
};
template <class T>
std::unique_ptr<Sequential<T>> make_mlp(const std::vector<int64_t>& widths, const MlpOptions& opt = {});

}  // namespace trusty::nn
