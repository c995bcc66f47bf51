// jvp(): forward-mode tangents as tape nodes (trusty/core/jvp.hpp).
#include "trusty/core/jvp.hpp"

#include <algorithm>
#include <unordered_map>

#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

// x as seen by f: a copy that always takes part in backward, so every node that depends
// on x is recorded on the tape (and walked), even when x itself is a constant.
template <class T>
struct JvpInputNode final : Node<T> {
  void backward() override {
    Node<T>* a = this->in[0];
    if (!a->grad) return;
    if (accumulate_into(a))
      for (int64_t i = 0; i < this->n; ++i) a->grad[i] += this->grad[i];
    else
      std::copy(this->grad, this->grad + this->n, a->grad);
  }
  // The identity: an inner jvp() walked by an outer one (second-order tangents).
  Node<T>* tangent(TangentMap<T>& t) override { return t.of(this->in[0]); }
};

// Tangents by primal node: those set by the walk, aliases (reshape, contiguous slices)
// resolved on demand as the same alias of their source's tangent, zero for everything else.
template <class T>
class Tangents final : public TangentMap<T> {
 public:
  void set(Node<T>* primal, Node<T>* tangent) { map_[primal] = tangent; }
  Node<T>* of(Node<T>* primal) override {
    auto it = map_.find(primal);
    if (it != map_.end()) return it->second;
    Node<T>* t = nullptr;
    if (primal->owner && primal->in[0]) {  // an alias of in[0], at an offset into its memory
      Node<T>* src = primal->in[0];
      if (Node<T>* ts = of(src))
        t = Tape<T>::current().alias(ts, primal->shape, primal->val - src->val, primal->name).node();
    }
    map_[primal] = t;
    return t;
  }

 private:
  std::unordered_map<Node<T>*, Node<T>*> map_;
};

}  // namespace

template <class T>
std::pair<Var<T>, Var<T>> jvp(const std::function<Var<T>(const Var<T>&)>& f, const Var<T>& x, const Var<T>& v) {
  if (v.shape() != x.shape())
    throw std::invalid_argument("jvp: the tangent direction has shape " + v.shape().str() + ", x has shape " +
                                x.shape().str());
  auto& tape = Tape<T>::current();
  auto* in = tape.template make<JvpInputNode<T>>(x.shape(), true, "jvp_input");
  in->in = {x.node(), nullptr, nullptr};
  in->first_write = true;
  std::copy(x.data(), x.data() + x.numel(), in->val);
  Var<T> xin = tape.record(in);
  const size_t before_f = tape.size();
  Var<T> y = f(xin);
  const size_t end = tape.size();
  Tangents<T> t;
  t.set(in, v.node());
  for (size_t i = before_f; i < end; ++i) {
    Node<T>* node = tape.node_at(i);
    t.set(node, node->tangent(t));
  }
  Node<T>* ty = t.of(y.node());
  return {y, ty ? Var<T>(ty) : constant(Tensor<T>(y.shape()))};
}

#define TRUSTY_INST(T) \
  template std::pair<Var<T>, Var<T>> jvp<T>(const std::function<Var<T>(const Var<T>&)>&, const Var<T>&, const Var<T>&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
