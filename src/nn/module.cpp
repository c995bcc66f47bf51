#include "trusty/nn/module.hpp"

#include <algorithm>
#include <stdexcept>

namespace trusty::nn {

template <class T>
void Module<T>::train(bool on) {
  training_ = on;
  for (auto& [n, c] : children_) c->train(on);
}

template <class T>
int Module<T>::add_parameter(std::string name, Shape shape, InitSpec init) {
  if (store_) throw std::logic_error("Module: parameter '" + name + "' added after finalize()");
  params_.push_back({std::move(name), shape, init, T(0), -1});
  return static_cast<int>(params_.size()) - 1;
}

template <class T>
int Module<T>::add_buffer(std::string name, Shape shape, T fill) {
  if (store_) throw std::logic_error("Module: buffer '" + name + "' added after finalize()");
  buffers_.push_back({std::move(name), shape, {}, fill, -1});
  return static_cast<int>(buffers_.size()) - 1;
}

template <class T>
Module<T>& Module<T>::add_child(std::string name, std::unique_ptr<Module> child) {
  if (store_) throw std::logic_error("Module: child '" + name + "' added after finalize()");
  children_.emplace_back(std::move(name), std::move(child));
  return *children_.back().second;
}

template <class T>
void Module<T>::assign(int64_t& p, int64_t& b) {
  for (auto& s : params_) {
    s.offset = p;
    p += s.shape.numel();
  }
  for (auto& s : buffers_) {
    s.offset = b;
    b += s.shape.numel();
  }
  for (auto& [n, c] : children_) c->assign(p, b);
}

template <class T>
void Module<T>::bind(Store* s) {
  store_ = s;
  for (auto& [n, c] : children_) c->bind(s);
}

template <class T>
void Module<T>::finalize(uint64_t seed) {
  if (store_ && !root_store_) throw std::logic_error("Module::finalize: call it on the root module only");
  int64_t np = 0, nb = 0;
  assign(np, nb);
  root_store_ = std::make_unique<Store>();
  Store& st = *root_store_;
  st.params.assign(static_cast<size_t>(np), T(0));
  st.grads.assign(static_cast<size_t>(np), T(0));
  st.buffers.assign(static_cast<size_t>(nb), T(0));
  st.rng = core::Rng(seed, 1);  // stream 1: layers (dropout); stream 0 stays free for users
  bind(&st);
  // Initialise in declaration order from one stream: the same seed gives the same network.
  core::Rng init_rng(seed, 0);
  auto init_tree = [&](auto&& self, Module& m) -> void {
    for (auto& s : m.params_)
      initialise<T>(std::span<T>(st.params.data() + s.offset, static_cast<size_t>(s.shape.numel())), s.shape, s.init,
                    init_rng, s.init.fan_in);
    for (auto& s : m.buffers_)
      std::fill_n(st.buffers.data() + s.offset, s.shape.numel(), s.fill);
    for (auto& [n, c] : m.children_) self(self, *c);
  };
  init_tree(init_tree, *this);
}

template <class T>
int64_t Module<T>::offset() const {
  if (!params_.empty()) return params_.front().offset;
  for (const auto& [n, c] : children_)
    if (int64_t o = c->offset(); o >= 0) return o;
  return -1;
}

template <class T>
void Module<T>::check_finalized(const char* what) const {
  if (!store_) throw std::logic_error(std::string("Module::") + what + ": the network is not finalized (call finalize(seed) on its root)");
}

template <class T> std::span<T> Module<T>::parameters() { check_finalized("parameters"); return store_->params; }
template <class T> std::span<T> Module<T>::gradients() { check_finalized("gradients"); return store_->grads; }
template <class T> std::span<T> Module<T>::buffers() { check_finalized("buffers"); return store_->buffers; }
template <class T> std::span<const T> Module<T>::parameters() const { check_finalized("parameters"); return store_->params; }
template <class T> std::span<const T> Module<T>::buffers() const { check_finalized("buffers"); return store_->buffers; }
template <class T> int64_t Module<T>::num_parameters() const { return store_ ? static_cast<int64_t>(store_->params.size()) : 0; }
template <class T> void Module<T>::zero_grad() { check_finalized("zero_grad"); std::fill(store_->grads.begin(), store_->grads.end(), T(0)); }
template <class T> core::Rng& Module<T>::rng() { check_finalized("rng"); return store_->rng; }

namespace {
// One slot per thread and element type: forward_at sets it for the duration of a forward.
template <class T>
core::Node<T>*& theta_slot() {
  thread_local core::Node<T>* theta = nullptr;
  return theta;
}
}  // namespace

template <class T>
core::Node<T>* Module<T>::theta_override() {
  return theta_slot<T>();
}

template <class T>
Var<T> Module<T>::param(int index) const {
  check_finalized("forward");
  const Slot& s = params_[static_cast<size_t>(index)];
  if (core::Node<T>* theta = theta_slot<T>()) return core::Tape<T>::current().alias(theta, s.shape, s.offset, "param");
  return core::parameter<T>(s.shape, store_->params.data() + s.offset, store_->grads.data() + s.offset);
}

template <class T>
Var<T> Module<T>::forward_at(const Var<T>& x, const Var<T>& theta) {
  check_finalized("forward_at");
  const auto n = static_cast<int64_t>(store_->params.size());
  if (theta.rank() != 1 || theta.numel() != n)
    throw std::invalid_argument("Module::forward_at: theta of shape " + theta.shape().str() + " for a network of " +
                                std::to_string(n) + " parameters (expected [" + std::to_string(n) + "], the root's layout)");
  // Restores the previous θ on exit (a forward_at inside a forward_at, or an exception).
  struct Guard {
    core::Node<T>* prev;
    explicit Guard(core::Node<T>* th) : prev(theta_slot<T>()) { theta_slot<T>() = th; }
    ~Guard() { theta_slot<T>() = prev; }
  } guard(theta.node());
  return forward(x);
}

template <class T>
T* Module<T>::buffer(int index) {
  check_finalized("forward");
  return store_->buffers.data() + buffers_[static_cast<size_t>(index)].offset;
}

template <class T>
void Module<T>::collect(const std::string& prefix, std::vector<Entry>& out, bool buffers) const {
  for (const auto& s : buffers ? buffers_ : params_) out.push_back({prefix + s.name, s.shape, s.offset});
  for (const auto& [n, c] : children_) c->collect(prefix + n + ".", out, buffers);
}

template <class T>
std::vector<typename Module<T>::Entry> Module<T>::named_parameters() const {
  std::vector<Entry> out;
  collect("", out, false);
  return out;
}

template <class T>
std::vector<typename Module<T>::Entry> Module<T>::named_buffers() const {
  std::vector<Entry> out;
  collect("", out, true);
  return out;
}

template class Module<float>;
template class Module<double>;

}  // namespace trusty::nn
