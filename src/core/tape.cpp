#include "trusty/core/tape.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <sstream>

namespace trusty::core {

template <class T>
Tape<T>& Tape<T>::current() {
  thread_local Tape<T> tape;
  return tape;
}

template <class T>
bool& Tape<T>::detect_anomaly() {
  thread_local bool on = false;
  return on;
}

template <class T>
T* Tape<T>::alloc_zero(int64_t n) {
  T* p = alloc(n);
  std::memset(p, 0, static_cast<size_t>(n) * sizeof(T));
  return p;
}

namespace {
template <class T>
int64_t first_nonfinite(const T* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return i;
  return -1;
}

template <class T>
std::string describe_inputs(const Node<T>* node) {
  std::ostringstream os;
  for (const Node<T>* in : node->in) {
    if (!in) continue;
    os << " " << in->name << in->shape.str() << (first_nonfinite(in->val, in->n) < 0 ? " finite;" : " NOT finite;");
  }
  return os.str();
}
}  // namespace

template <class T>
Var<T> Tape<T>::record(Node<T>* node) {
  if (detect_anomaly()) {
    int64_t bad = first_nonfinite(node->val, node->n);
    if (bad >= 0) {
      std::ostringstream os;
      os << "detect_anomaly: op '" << node->name << "' produced " << node->val[bad] << " at flat index " << bad
         << " of its output " << node->shape.str() << "; inputs:" << describe_inputs(node);
      throw AnomalyError(os.str());
    }
  }
  if (node->requires_grad()) nodes_.push_back(node);
  return Var<T>(node);
}

template <class T>
Var<T> Tape<T>::alias(Node<T>* src, const Shape& s, int64_t offset, const char* name) {
  auto* node = new (arena_.allocate(sizeof(Node<T>), alignof(Node<T>))) Node<T>();
  node->shape = s;
  node->n = s.numel();
  node->name = name;
  node->val = src->val + offset;
  node->grad = src->grad ? src->grad + offset : nullptr;
  node->in = {src, nullptr, nullptr};
  node->owner = src->owner ? src->owner : src;
  return Var<T>(node);  // no backward: the gradient memory is shared
}

template <class T>
void Tape<T>::backward(const Var<T>& root, size_t from) {
  Node<T>* r = root.node();
  if (!r->requires_grad()) return;  // nothing depends on a variable
  if (r->n != 1)
    throw std::invalid_argument("backward: the root must have one element, got shape " + r->shape.str() +
                                " (reduce it with sum() or mean() first)");
  zero_if_fresh(r);
  r->grad[0] += T(1);
  const bool check = detect_anomaly();
  for (size_t i = nodes_.size(); i-- > from;) {
    Node<T>* node = nodes_[i];
    if (!node->grad_ready) continue;  // no gradient reached it (it is zero): nothing to push
    if (!node->first_write)
      for (Node<T>* in : node->in)
        if (in && in->grad) zero_if_fresh(in);
    node->backward();
    if (check) {
      for (Node<T>* in : node->in) {
        if (!in || !in->grad) continue;
        int64_t bad = first_nonfinite(in->grad, in->n);
        if (bad >= 0) {
          std::ostringstream os;
          os << "detect_anomaly: backward of op '" << node->name << "' produced a non-finite gradient "
             << in->grad[bad] << " for its input '" << in->name << "' " << in->shape.str();
          throw AnomalyError(os.str());
        }
      }
    }
  }
}

template <class T>
void Tape<T>::rewind(const Mark& m) {
  nodes_.resize(std::min(nodes_.size(), m.nodes));
  arena_.rewind(m.arena);
}

template <class T>
T Var<T>::item() const {
  if (n_->n != 1) throw std::invalid_argument("Var::item: shape " + n_->shape.str() + " has " + std::to_string(n_->n) + " elements, expected 1");
  return n_->val[0];
}

template <class T>
Tensor<T> Var<T>::value() const {
  return Tensor<T>(n_->shape, values());
}

template <class T>
std::span<const T> Var<T>::grad() const {
  if (!n_->grad) return {};
  zero_if_fresh(n_);  // never reached by backward (or before it): the gradient is zero
  return {n_->grad, static_cast<size_t>(n_->n)};
}

template <class T>
Tensor<T> Var<T>::grad_tensor() const {
  if (!n_->grad) return Tensor<T>(n_->shape);
  return Tensor<T>(n_->shape, grad());
}

template <class T>
Var<T> constant(const Tensor<T>& t) {
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<Node<T>>(t.shape(), false, "constant");
  if (t.is_contiguous()) std::memcpy(node->val, t.data(), static_cast<size_t>(node->n) * sizeof(T));
  else {
    auto v = t.to_vector();
    std::copy(v.begin(), v.end(), node->val);
  }
  return Var<T>(node);
}

template <class T>
Var<T> constant_ref(const Tensor<T>& t) {
  if (!t.is_contiguous()) return constant(t);
  auto& tape = Tape<T>::current();
  auto* node = new (tape.template alloc_array<Node<T>>(1)) Node<T>();
  node->shape = t.shape();
  node->n = t.numel();
  node->name = "constant";
  node->val = const_cast<T*>(t.data());
  return Var<T>(node);
}

template <class T>
Var<T> constant(T v) {
  return constant(Tensor<T>::scalar(v));
}

template <class T>
Var<T> variable(const Tensor<T>& t) {
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<Node<T>>(t.shape(), true, "variable");
  auto v = t.contiguous();
  std::memcpy(node->val, v.data(), static_cast<size_t>(node->n) * sizeof(T));
  return Var<T>(node);
}

template <class T>
Var<T> parameter(const Shape& s, const T* value, T* grad) {
  auto& tape = Tape<T>::current();
  // Built by hand: value and gradient alias the caller's memory, nothing is allocated.
  auto* node = tape.template alloc_array<Node<T>>(1);
  node = new (node) Node<T>();
  node->shape = s;
  node->n = s.numel();
  node->name = "parameter";
  node->val = const_cast<T*>(value);
  node->grad = grad;
  return Var<T>(node);
}

template <class T>
T value_and_grad(const std::function<Var<T>(Var<T>)>& f, std::span<const T> theta, std::span<T> grad) {
  if (grad.size() != theta.size())
    throw std::invalid_argument("value_and_grad: grad has " + std::to_string(grad.size()) + " elements, theta " +
                                std::to_string(theta.size()));
  GradScope<T> scope;
  std::fill(grad.begin(), grad.end(), T(0));
  Var<T> th = parameter<T>(Shape{static_cast<int64_t>(theta.size())}, theta.data(), grad.data());
  Var<T> out = f(th);
  if (out.numel() != 1)
    throw std::invalid_argument("value_and_grad: f must return one element, got shape " + out.shape().str());
  T v = out.item();
  scope.backward(out);
  return v;
}

template <class T>
T value_and_grad(const std::function<Var<T>(std::span<const Var<T>>)>& f, std::span<const Tensor<T>> inputs,
                 std::span<Tensor<T>> grads) {
  if (grads.size() != inputs.size())
    throw std::invalid_argument("value_and_grad: " + std::to_string(grads.size()) + " gradient tensors for " +
                                std::to_string(inputs.size()) + " inputs");
  GradScope<T> scope;
  std::vector<Var<T>> vars;
  vars.reserve(inputs.size());
  for (const auto& t : inputs) vars.push_back(variable(t));
  Var<T> out = f(vars);
  if (out.numel() != 1)
    throw std::invalid_argument("value_and_grad: f must return one element, got shape " + out.shape().str());
  T v = out.item();
  scope.backward(out);
  for (size_t i = 0; i < inputs.size(); ++i) grads[i] = vars[i].grad_tensor();
  return v;
}

#define TRUSTY_INST(T)                                                                                       \
  template class Tape<T>;                                                                                    \
  template class Var<T>;                                                                                     \
  template Var<T> constant<T>(const Tensor<T>&);                                                             \
  template Var<T> constant<T>(T);                                                                            \
  template Var<T> constant_ref<T>(const Tensor<T>&);                                                         \
  template Var<T> variable<T>(const Tensor<T>&);                                                             \
  template Var<T> parameter<T>(const Shape&, const T*, T*);                                                  \
  template T value_and_grad<T>(const std::function<Var<T>(Var<T>)>&, std::span<const T>, std::span<T>);      \
  template T value_and_grad<T>(const std::function<Var<T>(std::span<const Var<T>>)>&, std::span<const Tensor<T>>, \
                               std::span<Tensor<T>>);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
