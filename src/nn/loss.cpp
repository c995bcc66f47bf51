#include "trusty/nn/loss.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>

#include "trusty/core/ops.hpp"
#include "trusty/nn/losses.hpp"

namespace trusty::nn {

using core::Tensor;
using core::Var;

namespace {

template <class T>
class CrossEntropy final : public Loss<T> {
 public:
  std::string name() const override { return "cross_entropy"; }
  bool needs_labels() const override { return true; }
  Var<T> value(const Var<T>& out, const Tensor<T>*, std::span<const int64_t> labels) const override {
    return cross_entropy(out, labels);
  }
};

// The regression losses of losses.hpp: f(out, targets).
template <class T>
class Regression final : public Loss<T> {
 public:
  using Fn = Var<T> (*)(const Var<T>&, const Var<T>&);
  Regression(std::string name, Fn f, bool logits) : name_(std::move(name)), f_(f), logits_(logits) {}
  std::string name() const override { return name_; }
  Var<T> value(const Var<T>& out, const Tensor<T>* targets, std::span<const int64_t>) const override {
    if (!targets) throw std::invalid_argument("loss '" + name_ + "' needs target values");
    return f_(out, core::constant_ref(*targets));
  }
  Tensor<T> point_prediction(const Tensor<T>& out) const override {
    if (!logits_) return out;
    Tensor<T> p = out.clone();
    for (auto& v : p.span()) v = T(1) / (T(1) + std::exp(-v));
    return p;
  }

 private:
  std::string name_;
  Fn f_;
  bool logits_;
};

template <class T>
struct Registry {
  std::mutex mutex;
  std::map<std::string, LossFactory<T>> factories;
  Registry() {
    auto plain = [](const char* n, auto make) {
      return [n, make](const LossOptions& o) -> std::unique_ptr<Loss<T>> {
        check_loss_options(n, o, {});
        return make();
      };
    };
    factories["cross_entropy"] = plain("cross_entropy", [] { return std::make_unique<CrossEntropy<T>>(); });
    factories["bce"] = plain("bce", [] { return std::make_unique<Regression<T>>("bce", &bce_with_logits<T>, true); });
    factories["mse"] = plain("mse", [] { return std::make_unique<Regression<T>>("mse", &mse<T>, false); });
    factories["half_sse"] = plain("half_sse", [] { return std::make_unique<Regression<T>>("half_sse", &half_sse<T>, false); });
  }
};

template <class T>
Registry<T>& registry() {
  static Registry<T> r;
  return r;
}

}  // namespace

std::string join_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) s += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + names[i];
  return s;
}

void check_loss_options(const std::string& loss, const LossOptions& options, const std::vector<std::string>& known) {
  for (const auto& [k, v] : options)
    if (std::find(known.begin(), known.end(), k) == known.end())
      throw std::invalid_argument("loss '" + loss + "': unknown option '" + k + "'" +
                                  (known.empty() ? std::string(" (it takes none)") : " (expected " + join_names(known) + ")"));
}

template <class T>
void register_loss(const std::string& name, LossFactory<T> factory) {
  if (name.empty() || name == "auto") throw std::invalid_argument("register_loss: '" + name + "' cannot name a loss");
  auto& r = registry<T>();
  std::lock_guard<std::mutex> lock(r.mutex);
  r.factories[name] = std::move(factory);
}

template <class T>
std::unique_ptr<Loss<T>> make_loss(const std::string& name, const LossOptions& options) {
  LossFactory<T> f;
  {
    auto& r = registry<T>();
    std::lock_guard<std::mutex> lock(r.mutex);
    const auto it = r.factories.find(name);
    if (it != r.factories.end()) f = it->second;
  }
  if (!f) throw std::invalid_argument("unknown loss '" + name + "' (expected " + join_names(loss_names<T>()) + ")");
  return f(options);
}

template <class T>
std::vector<std::string> loss_names() {
  auto& r = registry<T>();
  std::lock_guard<std::mutex> lock(r.mutex);
  std::vector<std::string> n;
  for (const auto& [k, v] : r.factories) n.push_back(k);
  return n;
}

#define TRUSTY_LOSS(T)                                                                            \
  template void register_loss<T>(const std::string&, LossFactory<T>);                             \
  template std::unique_ptr<Loss<T>> make_loss<T>(const std::string&, const LossOptions&);         \
  template std::vector<std::string> loss_names<T>();
TRUSTY_LOSS(float)
TRUSTY_LOSS(double)
#undef TRUSTY_LOSS

}  // namespace trusty::nn
