// Node<T>: one tensor-valued operation on the autodiff tape. Its value and gradient live
// in the tape's arena (or alias a parameter buffer); backward() adds this node's
// gradient, pushed through the op's derivative, into its inputs' gradients.
// Nodes are placement-new'ed into the arena and never destroyed: they must not own
// anything with a destructor.
#pragma once
#include <array>
#include <cstdint>

#include "trusty/core/shape.hpp"

namespace trusty::core {

template <class T>
struct Node {
  T* val = nullptr;
  T* grad = nullptr;  // non-null exactly when requires_grad
  Shape shape;
  int64_t n = 0;  // number of elements
  const char* name = "leaf";
  std::array<Node*, 3> in{};  // inputs (used by anomaly checks and graph walks)

  bool requires_grad() const { return grad != nullptr; }
  virtual void backward() {}
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

 protected:
  ~Node() = default;  // never deleted through a base pointer: the arena frees the memory
};

}  // namespace trusty::core
