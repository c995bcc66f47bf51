// The reverse-mode tape: one per thread and per element type. Nodes are pushed in
// creation order and backward() walks them in reverse: no topological sort, no
// reference counting. GradScope owns a stretch of the tape: everything recorded inside
// it is released in O(1) when it ends.
//
//   double lp = value_and_grad<double>([&](Var<double> th) { return log_post(th); }, theta, grad);
#pragma once
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "trusty/core/arena.hpp"
#include "trusty/core/var.hpp"

namespace trusty::core {

// Thrown in detect-anomaly mode by the first op whose value (or gradient) is not finite.
class AnomalyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
class Tape {
 public:
  static Tape& current();  // this thread's tape

  // Storage for op values, in the arena.
  T* alloc(int64_t n) { return arena_.allocate_array<T>(n); }
  T* alloc_zero(int64_t n);
  template <class U>
  U* alloc_array(int64_t n) { return arena_.allocate_array<U>(n); }
  // Working memory for one backward rule, reused by the next (warm in cache, unlike fresh
  // arena memory): valid until the next call. Rules must not hold it across calls.
  T* scratch(int64_t n) {
    if (static_cast<int64_t>(scratch_.size()) < n) scratch_.resize(static_cast<size_t>(n));
    return scratch_.data();
  }

  // Constructs a node of type N in the arena with shape `s`; allocates its value, and
  // (fresh, not zeroed: see Node::grad_ready) gradient memory when `needs_grad`.
  template <class N>
  N* make(const Shape& s, bool needs_grad, const char* name) {
    N* node = new (arena_.allocate(sizeof(N), alignof(N))) N();
    node->shape = s;
    node->n = s.numel();
    node->name = name;
    node->val = alloc(node->n);
    node->grad = needs_grad ? alloc(node->n) : nullptr;
    node->grad_ready = false;
    return node;
  }
  // Finishes an op: anomaly check, then onto the tape if it takes part in backward.
  Var<T> record(Node<T>* node);
  // A node that shares value (and gradient) memory with `src` at an offset: reshape and
  // contiguous slices cost nothing and need no backward.
  Var<T> alias(Node<T>* src, const Shape& s, int64_t offset, const char* name);

  // Seeds d(root)/d(root) = 1 and runs every node's backward, newest first, down to `from`.
  void backward(const Var<T>& root, size_t from = 0);

  struct Mark {
    Arena::Mark arena;
    size_t nodes;
  };
  Mark mark() const { return {arena_.mark(), nodes_.size()}; }
  void rewind(const Mark& m);
  size_t size() const { return nodes_.size(); }
  Node<T>* node_at(size_t i) const { return nodes_[i]; }  // the i-th recorded node (jvp walks them)
  size_t arena_capacity() const { return arena_.capacity(); }

  static bool& detect_anomaly();  // thread-local switch

 private:
  Tape() = default;
  Arena arena_;
  std::vector<Node<T>*> nodes_;
  std::vector<T> scratch_;
};

// RAII: the tape stretch recorded while it lives is released when it ends. Nests.
template <class T>
class GradScope {
 public:
  GradScope() : tape_(Tape<T>::current()), mark_(tape_.mark()) {}
  ~GradScope() { tape_.rewind(mark_); }
  GradScope(const GradScope&) = delete;
  GradScope& operator=(const GradScope&) = delete;
  void backward(const Var<T>& root) { tape_.backward(root, mark_.nodes); }
  Tape<T>& tape() { return tape_; }

 private:
  Tape<T>& tape_;
  typename Tape<T>::Mark mark_;
};

// RAII switch for detect-anomaly mode on this thread.
template <class T>
class DetectAnomaly {
 public:
  explicit DetectAnomaly(bool on = true) : prev_(Tape<T>::detect_anomaly()) { Tape<T>::detect_anomaly() = on; }
  ~DetectAnomaly() { Tape<T>::detect_anomaly() = prev_; }

 private:
  bool prev_;
};

// Leaves.
// A constant: copied onto the tape, takes no gradient.
template <class T> Var<T> constant(const Tensor<T>& t);
template <class T> Var<T> constant(T v);
// A constant that reads a contiguous tensor in place, without a copy: the tensor must
// outlive the scope (used for data batches in training loops).
template <class T> Var<T> constant_ref(const Tensor<T>& t);
// A variable: copied onto the tape; its gradient is read with Var::grad() after backward.
template <class T> Var<T> variable(const Tensor<T>& t);
// A parameter that aliases caller-owned memory: value read from `value`, gradient
// accumulated into `grad` (the caller zeroes it). This is how a flat parameter vector
// meets the tape with no copy.
template <class T> Var<T> parameter(const Shape& s, const T* value, T* grad);

// Evaluates f(theta) on a fresh scope, returns its (scalar) value and writes d f/d theta
// into grad. f receives theta as a 1-D Var aliasing `theta`.
template <class T>
T value_and_grad(const std::function<Var<T>(Var<T>)>& f, std::span<const T> theta, std::span<T> grad);

// Several inputs: grads[i] receives d f/d inputs[i].
template <class T>
T value_and_grad(const std::function<Var<T>(std::span<const Var<T>>)>& f,
                 std::span<const Tensor<T>> inputs, std::span<Tensor<T>> grads);

}  // namespace trusty::core
