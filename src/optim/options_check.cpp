#include "trusty/optim/options_check.hpp"

#include <cmath>
#include <cstdio>

namespace trusty::optim {

std::string number_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

namespace {
struct Checker {
  const OptionFail& fail;
  void positive(const char* key, double v) const {
    if (!(std::isfinite(v) && v > 0)) fail(key, "expected a finite number > 0, got " + number_text(v));
  }
  void non_negative(const char* key, double v) const {
    if (!(std::isfinite(v) && v >= 0)) fail(key, "expected a finite number >= 0, got " + number_text(v));
  }
  void fraction(const char* key, double v, bool one_allowed) const {
    if (!(v >= 0 && (one_allowed ? v <= 1 : v < 1)))
      fail(key, std::string("expected a number in [0, 1") + (one_allowed ? "]" : ")") + ", got " + number_text(v));
  }
};
}  // namespace

void check_optimizer_options(const OptimizerConfig& o, const OptionFail& fail) {
  const Checker c{fail};
  c.positive("lr", o.lr);
  c.fraction("momentum", o.momentum, false);
  c.non_negative("weight_decay", o.weight_decay);
  c.fraction("beta1", o.beta1, false);
  c.fraction("beta2", o.beta2, false);
  if (o.eps != -1) c.positive("eps", o.eps);  // -1: the optimiser's default
  c.fraction("alpha", o.alpha, true);
  if (o.history_size < 1 || o.history_size > 100000)
    fail("history_size", "expected an integer in [1, 100000], got " + std::to_string(o.history_size));
}

void check_train_options(const TrainConfig& t, const OptionFail& fail) {
  const Checker c{fail};
  if (t.epochs < 0) fail("epochs", "expected an integer >= 0, got " + std::to_string(t.epochs));
  if (t.batch_size < 0) fail("batch_size", "expected an integer >= 1 (or 0 for the full batch), got " + std::to_string(t.batch_size));
  c.non_negative("l1", t.l1);
  c.non_negative("l2", t.l2);
  c.non_negative("clip_norm", t.clip_norm);
  c.non_negative("clip_value", t.clip_value);
  if (t.patience < 0) fail("patience", "expected an integer >= 0 (0: no early stopping), got " + std::to_string(t.patience));
  c.non_negative("min_delta", t.min_delta);
  // Schedule parameters matter (and are checked) only for the schedule that uses them.
  const auto k = t.schedule.kind;
  if (k == Schedule::step && t.schedule.step_size < 1)
    fail("step_size", "expected an integer >= 1, got " + std::to_string(t.schedule.step_size));
  if (k == Schedule::step || k == Schedule::exponential) c.positive("gamma", t.schedule.gamma);
  if (k == Schedule::cosine && t.schedule.t_max < 1) fail("t_max", "expected an integer >= 1, got " + std::to_string(t.schedule.t_max));
  if (k == Schedule::cosine) c.non_negative("eta_min", t.schedule.eta_min);
}

void check_mlp_widths(const std::vector<int64_t>& widths, const std::string& key, const OptionFail& fail) {
  if (widths.size() < 2) fail(key, "expected at least an input and an output width, got " + std::to_string(widths.size()) + " widths");
  int64_t params = 0;
  for (size_t i = 0; i < widths.size(); ++i) {
    if (widths[i] < 1 || widths[i] > kMaxLayerWidth)
      fail(key, "expected layer widths in [1, " + std::to_string(kMaxLayerWidth) + "], got " + std::to_string(widths[i]));
    if (i > 0) params += widths[i - 1] * widths[i] + widths[i];  // < 2^49 each: no overflow
    if (params > kMaxParameters)
      fail(key, "the widths make more than " + std::to_string(kMaxParameters) + " parameters (" +
                    std::to_string(params / (int64_t{1} << 28)) + "+ GiB as float32); expected a smaller network");
  }
}

}  // namespace trusty::optim
