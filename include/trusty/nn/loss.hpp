// Losses as objects: what the Trainer, `trusty train` and the Python bindings train with.
// A loss maps a batch's network output (and its targets or class labels) to a scalar Var,
// the mean over the batch. Losses are registered once by name, with a factory taking their
// options (the [loss] table of a config, or keyword arguments from Python):
//
//   nn::register_loss<double>("my_loss", [](const nn::LossOptions& o) { return std::make_unique<MyLoss>(o); });
//   auto loss = nn::make_loss<double>("mse");
//
// The built-ins (cross_entropy, bce, mse, half_sse) are registered when the registry is
// first used; other layers register theirs with a call made once at start-up (for example
// density::register_losses() adds "mdn"), so nn never depends on them.
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "trusty/core/tape.hpp"

namespace trusty::nn {

using LossOptions = std::map<std::string, std::string>;

template <class T>
class Loss {
 public:
  virtual ~Loss() = default;
  virtual std::string name() const = 0;
  // Class labels (classification) rather than target values.
  virtual bool needs_labels() const { return false; }
  // The network outputs needed for targets of `target_width` columns (a mixture density
  // network needs more outputs than targets); for classification, the number of classes.
  virtual int64_t output_width(int64_t target_width) const { return target_width; }
  // The mean loss over the batch. targets: [b, k] (null for classification); labels: b class
  // indices (empty for regression).
  virtual core::Var<T> value(const core::Var<T>& out, const core::Tensor<T>* targets, std::span<const int64_t> labels) const = 0;
  // A point prediction of the targets from outputs, for R² and reports (bce: σ(z); an MDN:
  // the mixture mean). Default: the outputs themselves.
  virtual core::Tensor<T> point_prediction(const core::Tensor<T>& out) const { return out; }
};

template <class T>
using LossFactory = std::function<std::unique_ptr<Loss<T>>(const LossOptions&)>;

// Adds (or replaces) a loss by name. Thread-safe.
template <class T> void register_loss(const std::string& name, LossFactory<T> factory);
// A new loss object; std::invalid_argument listing the registered names for an unknown name,
// or naming the option a factory rejects.
template <class T> std::unique_ptr<Loss<T>> make_loss(const std::string& name, const LossOptions& options = {});
// The registered names (sorted), for messages and config validation.
template <class T> std::vector<std::string> loss_names();
// "a, b or c": the names for a message.
std::string join_names(const std::vector<std::string>& names);

// Throws std::invalid_argument naming any option a loss does not take.
void check_loss_options(const std::string& loss, const LossOptions& options, const std::vector<std::string>& known);

}  // namespace trusty::nn
