// The one check of optimiser and training options, shared by `trusty train/search`
// (config keys) and the Python Trainer (keyword arguments): every bad value is reported
// through fail(key, message), which throws naming the source (the config file and table,
// or the Python argument). Messages say what was expected and what was given.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "trusty/optim/optimizer.hpp"
#include "trusty/optim/trainer.hpp"

namespace trusty::optim {

using OptionFail = std::function<void(const std::string& key, const std::string& message)>;

void check_optimizer_options(const OptimizerConfig& o, const OptionFail& fail);
void check_train_options(const TrainConfig& c, const OptionFail& fail);

// Layer widths [in, hidden..., out] of a multilayer perceptron: each in [1, kMaxLayerWidth]
// and at most kMaxParameters weights and biases in all, checked before anything is
// allocated (a huge width otherwise ends in std::bad_alloc). Reported under `key`.
inline constexpr int64_t kMaxLayerWidth = int64_t{1} << 24;
inline constexpr int64_t kMaxParameters = int64_t{1} << 31;
void check_mlp_widths(const std::vector<int64_t>& widths, const std::string& key, const OptionFail& fail);

// "%g" of v (inf, nan, 1e-05) for messages.
std::string number_text(double v);

}  // namespace trusty::optim
