// Module<T>: a network component with named parameters, buffers and children.
//
// All parameters of a network live in ONE flat buffer owned by the root module (and the
// gradients in a second one of the same layout): finalize() on the root assigns offsets in
// declaration order and points every descendant into it. Optimisers, samplers and
// checkpoints see std::span<T> theta; a layer's forward reads its weights as tape leaves
// that alias that memory. Buffers (batch-norm running statistics) live in a third flat
// buffer and are saved with the parameters. Networks are built at run time.
#pragma once
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/core/tape.hpp"
#include "trusty/nn/init.hpp"

namespace trusty::nn {

using core::Shape;
using core::Tensor;
using core::Var;

template <class T>
class Module {
 public:
  Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;
  virtual ~Module() = default;

  virtual Var<T> forward(const Var<T>& x) = 0;
  Var<T> operator()(const Var<T>& x) { return forward(x); }
  // forward(x) with every parameter read from `theta` instead of the module's buffer:
  // theta is 1-D with the root's layout (num_parameters() elements, the offsets of
  // named_parameters()), and gradients flow into theta's gradient, not gradients(). Layers
  // need nothing special: while it runs, param(i) on this thread aliases theta at the
  // parameter's offset (no copy). Several threads may call it at once on one network with
  // different θ, provided forward itself mutates nothing: eval() mode for BatchNorm (which
  // then reads its running statistics) and Dropout. This is how samplers evaluate a network
  // at each chain's θ.
  //   auto net = nn::make_mlp<double>({1, 20, 20, 1}, {.activation = "tanh"}); net->finalize(1);
  //   double lp = core::value_and_grad<double>([&](Var<double> th) {
  //     return core::sum(net->forward_at(core::constant_ref(x), th)); }, theta, grad);
  Var<T> forward_at(const Var<T>& x, const Var<T>& theta);
  virtual std::string kind() const = 0;       // "Dense", "BatchNorm", ...
  virtual std::string describe() const { return kind(); }  // "Dense(784 -> 128)"

  void train(bool on = true);
  void eval() { train(false); }
  bool training() const { return training_; }

  // Root only: allocate the flat buffers and initialise every parameter from `seed`.
  void finalize(uint64_t seed = 0);
  bool finalized() const { return root_store_ != nullptr || store_ != nullptr; }

  // Where this module's parameters start in the root's flat buffer (its own, else its first
  // descendant's); -1 before finalize() or when it has none.
  int64_t offset() const;

  std::span<T> parameters();
  std::span<T> gradients();
  std::span<T> buffers();
  std::span<const T> parameters() const;
  std::span<const T> buffers() const;
  int64_t num_parameters() const;
  void zero_grad();

  struct Entry {
    std::string name;  // "0.weight", "2.running_mean"
    Shape shape;
    int64_t offset;
  };
  std::vector<Entry> named_parameters() const;
  std::vector<Entry> named_buffers() const;

  // The RNG that stochastic layers (dropout) draw from; part of a checkpoint.
  core::Rng& rng();

  const std::vector<std::pair<std::string, std::unique_ptr<Module>>>& children() const { return children_; }

 protected:
  int add_parameter(std::string name, Shape shape, InitSpec init);
  int add_buffer(std::string name, Shape shape, T fill);
  Module& add_child(std::string name, std::unique_ptr<Module> child);
  Var<T> param(int index) const;          // a tape leaf over the flat memory (or forward_at's θ)
  int64_t param_offset(int index) const { return params_[static_cast<size_t>(index)].offset; }
  // The θ that forward_at is reading parameters from on this thread (null outside it).
  static core::Node<T>* theta_override();
  const Shape& param_shape(int index) const { return params_[static_cast<size_t>(index)].shape; }
  T* buffer(int index);

 private:
  struct Slot {
    std::string name;
    Shape shape;
    InitSpec init;
    T fill = 0;
    int64_t offset = -1;
  };
  struct Store {
    std::vector<T> params, grads, buffers;
    core::Rng rng;
  };
  void assign(int64_t& p, int64_t& b);
  void bind(Store* s);
  void collect(const std::string& prefix, std::vector<Entry>& out, bool buffers) const;
  void check_finalized(const char* what) const;

  std::vector<Slot> params_, buffers_;
  std::vector<std::pair<std::string, std::unique_ptr<Module>>> children_;
  bool training_ = true;
  Store* store_ = nullptr;                  // the root's store, shared by the whole tree
  std::unique_ptr<Store> root_store_;       // set on the root only
};

}  // namespace trusty::nn
