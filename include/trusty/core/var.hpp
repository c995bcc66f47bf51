// Var<T>: a handle to a node on the current thread's tape (a tensor that remembers how
// it was computed). Cheap to copy; valid until the GradScope that created it ends.
#pragma once
#include <span>

#include "trusty/core/node.hpp"
#include "trusty/core/tensor.hpp"

namespace trusty::core {

template <class T>
class Var {
 public:
  Var() = default;
  explicit Var(Node<T>* n) : n_(n) {}

  const Shape& shape() const { return n_->shape; }
  int rank() const { return n_->shape.rank(); }
  int64_t dim(int axis) const { return n_->shape.dim(axis); }
  int64_t numel() const { return n_->n; }
  bool requires_grad() const { return n_->requires_grad(); }
  const char* op_name() const { return n_->name; }

  const T* data() const { return n_->val; }
  std::span<const T> values() const { return {n_->val, static_cast<size_t>(n_->n)}; }
  // The gradient after backward(); empty if the node does not require one.
  std::span<const T> grad() const;
  T item() const;                    // the value of a one-element Var
  Tensor<T> value() const;           // a copy of the value
  Tensor<T> grad_tensor() const;     // a copy of the gradient
  Node<T>* node() const { return n_; }
  explicit operator bool() const { return n_ != nullptr; }

 private:
  Node<T>* n_ = nullptr;
};

}  // namespace trusty::core
