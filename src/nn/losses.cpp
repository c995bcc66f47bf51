#include "trusty/nn/losses.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <vector>

#include "trusty/core/ops.hpp"

namespace trusty::nn {

using namespace trusty::core;

namespace {
template <class T>
void same_shape(const Var<T>& a, const Var<T>& b, const char* loss) {
  if (a.shape() != b.shape())
    throw std::invalid_argument(std::string(loss) + ": prediction " + a.shape().str() + " and target " + b.shape().str() +
                                " differ in shape");
}
}  // namespace

template <class T>
Var<T> mse(const Var<T>& pred, const Var<T>& target) {
  same_shape(pred, target, "mse");
  return mean(square(pred - target));
}

template <class T>
Var<T> half_sse(const Var<T>& pred, const Var<T>& target) {
  same_shape(pred, target, "half_sse");
  return sum(square(pred - target)) * T(0.5);
}

template <class T>
Var<T> bce_with_logits(const Var<T>& logits, const Var<T>& target) {
  same_shape(logits, target, "bce_with_logits");
  return mean(softplus(logits) - logits * target);
}

template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const int64_t> labels) {
  if (logits.rank() != 2 || logits.dim(0) != static_cast<int64_t>(labels.size()))
    throw std::invalid_argument("cross_entropy: logits of shape " + logits.shape().str() + " for " +
                                std::to_string(labels.size()) + " labels (expected [" + std::to_string(labels.size()) +
                                ", classes])");
  const int64_t b = logits.dim(0), c = logits.dim(1);
  std::vector<int64_t> flat(labels.size());
  for (int64_t i = 0; i < b; ++i) {
    const int64_t y = labels[static_cast<size_t>(i)];
    if (y < 0 || y >= c)
      throw std::invalid_argument("cross_entropy: label " + std::to_string(y) + " at row " + std::to_string(i) +
                                  " is outside [0, " + std::to_string(c) + ")");
    flat[static_cast<size_t>(i)] = i * c + y;
  }
  auto lp = reshape(log_softmax(logits, -1), Shape{b * c});
  return -mean(gather(lp, 0, flat));
}

template <class T>
Var<T> gaussian_nll(const Var<T>& mu, const Var<T>& var, const Var<T>& target, bool full) {
  same_shape(mu, target, "gaussian_nll");
  same_shape(var, target, "gaussian_nll");
  auto l = mean((log(var) + square(target - mu) / var) * T(0.5));
  return full ? l + T(0.5 * std::log(2 * std::numbers::pi)) : l;
}

template <class T> Var<T> l1_penalty(const Var<T>& theta) { return sum(abs(theta)); }
template <class T> Var<T> l2_penalty(const Var<T>& theta) { return dot(theta, theta); }

#define TRUSTY_INST(T)                                                                  \
  template Var<T> mse<T>(const Var<T>&, const Var<T>&);                                 \
  template Var<T> half_sse<T>(const Var<T>&, const Var<T>&);                            \
  template Var<T> bce_with_logits<T>(const Var<T>&, const Var<T>&);                     \
  template Var<T> cross_entropy<T>(const Var<T>&, std::span<const int64_t>);            \
  template Var<T> gaussian_nll<T>(const Var<T>&, const Var<T>&, const Var<T>&, bool);   \
  template Var<T> l1_penalty<T>(const Var<T>&);                                         \
  template Var<T> l2_penalty<T>(const Var<T>&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::nn
