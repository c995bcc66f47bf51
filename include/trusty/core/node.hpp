// Node<T>: one tensor-valued operation on the autodiff tape. Its value and gradient live
// in the tape's arena (or alias a parameter buffer); backward() adds this node's
// gradient, pushed through the op's derivative, into its inputs' gradients.
// Nodes are placement-new'ed into the arena and never destroyed: they must not own
// anything with a destructor.
//
// Gradient memory is not zeroed when a node is made. `grad_ready` says whether it holds
// values yet; the first contribution may then overwrite it instead of adding to zeros
// (a GEMM with beta = 0 reads nothing, and nothing was cleared in forward that left the
// cache before backward came back to it). A node the tape reaches with no gradient is
// skipped: its gradient is zero. See accumulate_into().
#pragma once
#include <algorithm>
#include <array>
#include <cstdint>
#include <stdexcept>
#include <string>

#include "trusty/core/shape.hpp"

namespace trusty::core {

template <class T>
struct Node;

// Forward mode (jvp(), trusty/core/jvp.hpp): the tangents found so far, by primal node.
template <class T>
struct TangentMap {
  // The tangent of `primal`'s value (a node on the tape), or nullptr when it is zero.
  virtual Node<T>* of(Node<T>* primal) = 0;

 protected:
  ~TangentMap() = default;
};

template <class T>
struct Node {
  T* val = nullptr;
  T* grad = nullptr;  // non-null exactly when requires_grad
  Shape shape;
  int64_t n = 0;  // number of elements
  const char* name = "leaf";
  std::array<Node*, 3> in{};  // inputs (used by anomaly checks and graph walks)
  Node* owner = nullptr;      // an alias (reshape, contiguous slice): the node whose memory it shares
  bool grad_ready = true;     // (on the owner) the gradient memory holds values; false when fresh
  bool first_write = false;   // backward() prepares its inputs' gradients itself (accumulate_into);
                              // otherwise the tape zeroes fresh ones (in[]) before calling it

  bool requires_grad() const { return grad != nullptr; }
  virtual void backward() {}
  // Forward mode: this node's tangent, given its inputs' tangents (`t.of(input)`), built
  // from ordinary ops so that a reverse pass differentiates through it; nullptr when every
  // input's tangent is zero. An op without a rule throws std::logic_error naming it, unless
  // its inputs' tangents are all zero.
  virtual Node* tangent(TangentMap<T>& t) {
    for (Node* i : in)
      if (i && t.of(i))
        throw std::logic_error(std::string("jvp: op '") + name +
                               "' has no tangent rule (see trusty/core/jvp.hpp for the supported ops)");
    return nullptr;
  }
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

 protected:
  ~Node() = default;  // never deleted through a base pointer: the arena frees the memory
};

// For a backward rule about to push a contribution into `in`'s gradient: true if it must
// add; false if the memory is fresh and the rule writes every element of it instead. An
// alias covering part of its owner's memory gets that memory zeroed, and true.
template <class T>
bool accumulate_into(Node<T>* in) {
  Node<T>* o = in->owner ? in->owner : in;
  if (o->grad_ready) return true;
  o->grad_ready = true;
  if (in->n == o->n) return false;
  std::fill(o->grad, o->grad + o->n, T(0));
  return true;
}

// Makes `in`'s gradient memory hold zeros if it is fresh (for rules that only add).
template <class T>
void zero_if_fresh(Node<T>* in) {
  if (!accumulate_into(in)) std::fill(in->grad, in->grad + in->n, T(0));
}

}  // namespace trusty::core
