// Max and average pooling over the last `dims` axes (valid windows).
#include <limits>

#include "trusty/core/conv.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/ops.hpp"
#include "tangent_util.hpp"
#include "window_max.hpp"

namespace trusty::core {
namespace {

struct PoolGeom {
  int64_t outer = 1;
  std::array<int64_t, 3> n{1, 1, 1}, o{1, 1, 1};
  int64_t win = 1, stride = 1, in_size = 1, out_size = 1;
  std::array<int64_t, 3> w{1, 1, 1};  // window per axis (1 on absent axes)
};

PoolGeom pool_geometry(const Shape& s, int dims, int64_t window, int64_t stride, std::vector<int64_t>& out_dims) {
  if (dims < 1 || dims > 3 || s.rank() < dims)
    throw std::invalid_argument("pool: cannot pool " + std::to_string(dims) + " axes of shape " + s.str());
  if (window < 1) throw std::invalid_argument("pool: window must be >= 1, got " + std::to_string(window));
  PoolGeom g;
  g.win = window;
  g.stride = stride > 0 ? stride : window;
  const int lead = s.rank() - dims;
  for (int i = 0; i < lead; ++i) {
    g.outer *= s[i];
    out_dims.push_back(s[i]);
  }
  for (int d = 0; d < dims; ++d) {
    const auto D = static_cast<size_t>(3 - dims + d);  // right-align into 3 axes
    g.n[D] = s[lead + d];
    g.w[D] = window;
    if (g.n[D] < window)
      throw std::invalid_argument("pool: window " + std::to_string(window) + " exceeds axis " + std::to_string(lead + d) + " of shape " + s.str());
    g.o[D] = (g.n[D] - window) / g.stride + 1;
    out_dims.push_back(g.o[D]);
  }
  g.in_size = g.n[0] * g.n[1] * g.n[2];
  g.out_size = g.o[0] * g.o[1] * g.o[2];
  return g;
}

template <class F>
void for_each_window(const PoolGeom& g, F&& f) {
  const int64_t st = g.stride;  // absent axes have one output position, p = 0
  for (int64_t b = 0; b < g.outer; ++b)
    for (int64_t p0 = 0; p0 < g.o[0]; ++p0)
      for (int64_t p1 = 0; p1 < g.o[1]; ++p1)
        for (int64_t p2 = 0; p2 < g.o[2]; ++p2) {
          const int64_t out = ((b * g.o[0] + p0) * g.o[1] + p1) * g.o[2] + p2;
          const int64_t base = b * g.in_size + (p0 * st * g.n[1] + p1 * st) * g.n[2] + p2 * st;
          f(out, base);
        }
}

template <class T>
struct MaxPoolNode final : Node<T> {
  const int64_t* arg;
  int64_t outer;  // each outer slice scatters into its own input slice: safe to split
  // The tangent at each window's maximum: ẏ_i = ẋ[arg_i].
  Node<T>* tangent(TangentMap<T>& t) override {
    Var<T> tx = detail::tangent_of(t, this->in[0]);
    if (!tx) return nullptr;
    return reshape(gather(reshape(tx, Shape{tx.numel()}), 0, std::span<const int64_t>(arg, static_cast<size_t>(this->n))), this->shape)
        .node();
  }
  void backward() override {
    T* gx = this->in[0]->grad;
    if (!gx) return;
    const int64_t per = this->n / std::max<int64_t>(outer, 1);
    kernels::parallel_for(outer, this->n, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0 * per; i < b1 * per; ++i) gx[arg[i]] += this->grad[i];
    });
  }
};

template <class T>
struct AvgPoolNode final : Node<T> {
  PoolGeom g;
  int dims;
  Node<T>* tangent(TangentMap<T>& t) override {  // linear: the same pooling of ẋ
    Var<T> tx = detail::tangent_of(t, this->in[0]);
    return tx ? avg_pool(tx, dims, g.win, g.stride).node() : nullptr;
  }
  void backward() override {
    T* gx = this->in[0]->grad;
    if (!gx) return;
    const T scale = T(1) / static_cast<T>(g.w[0] * g.w[1] * g.w[2]);
    for_each_window(g, [&](int64_t out, int64_t base) {
      const T v = this->grad[out] * scale;
      for (int64_t a = 0; a < g.w[0]; ++a)
        for (int64_t c = 0; c < g.w[1]; ++c)
          for (int64_t e = 0; e < g.w[2]; ++e) gx[base + (a * g.n[1] + c) * g.n[2] + e] += v;
    });
  }
};

}  // namespace

bool& max_pool_reference() {
  thread_local bool on = false;
  return on;
}

// 2-d max pooling with window = stride: the window's maximum and its index kept in
// registers, one output at a time, no per-window index arithmetic beyond a row base (the
// generic loop below is the reference it is tested against). NaN wins, as there.
template <class T, int W>
void max_pool_2d_rows(int64_t w_rt, int64_t n2, int64_t o2, const T* __restrict xv, int64_t row0, T* __restrict yr,
                      int64_t* __restrict ar) {
  const int64_t w = W > 0 ? W : w_rt;
  for (int64_t p2 = 0; p2 < o2; ++p2) {
    const int64_t base = row0 + p2 * w;
    const auto m = window_max<T, W, W>(xv + base, n2, w, w);
    yr[p2] = m.value;
    ar[p2] = base + m.row * n2 + m.col;
  }
}

template <class T>
void max_pool_2d(const PoolGeom& g, const T* xv, T* y, int64_t* arg) {
  const int64_t w = g.win, n2 = g.n[2], o1 = g.o[1], o2 = g.o[2];
  kernels::parallel_for(g.outer, g.outer * g.in_size, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      for (int64_t p1 = 0; p1 < o1; ++p1) {
        const int64_t row0 = b * g.in_size + p1 * w * n2, out = (b * o1 + p1) * o2;
        if (w == 2) max_pool_2d_rows<T, 2>(w, n2, o2, xv, row0, y + out, arg + out);
        else max_pool_2d_rows<T, 0>(w, n2, o2, xv, row0, y + out, arg + out);
      }
  });
}

template <class T>
Var<T> max_pool(const Var<T>& x, int dims, int64_t window, int64_t stride) {
  std::vector<int64_t> od;
  PoolGeom g = pool_geometry(x.shape(), dims, window, stride, od);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<MaxPoolNode<T>>(Shape(std::span<const int64_t>(od)), x.requires_grad(), "max_pool");
  node->in = {x.node(), nullptr, nullptr};
  auto* arg = tape.template alloc_array<int64_t>(node->n);
  node->arg = arg;
  node->outer = g.outer;
  const T* xv = x.data();
  if (dims == 2 && g.stride == g.win && !max_pool_reference()) {
    max_pool_2d(g, xv, node->val, arg);
    return tape.record(node);
  }
  for_each_window(g, [&](int64_t out, int64_t base) {
    int64_t best = base;
    for (int64_t a = 0; a < g.w[0]; ++a)
      for (int64_t c = 0; c < g.w[1]; ++c)
        for (int64_t e = 0; e < g.w[2]; ++e) {
          const int64_t i = base + (a * g.n[1] + c) * g.n[2] + e;
          if (xv[i] > xv[best] || xv[i] != xv[i]) best = i;
        }
    arg[out] = best;
    node->val[out] = xv[best];
  });
  return tape.record(node);
}

template <class T>
Var<T> avg_pool(const Var<T>& x, int dims, int64_t window, int64_t stride) {
  std::vector<int64_t> od;
  PoolGeom g = pool_geometry(x.shape(), dims, window, stride, od);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<AvgPoolNode<T>>(Shape(std::span<const int64_t>(od)), x.requires_grad(), "avg_pool");
  node->in = {x.node(), nullptr, nullptr};
  node->g = g;
  node->dims = dims;
  const T* xv = x.data();
  const T scale = T(1) / static_cast<T>(g.w[0] * g.w[1] * g.w[2]);
  for_each_window(g, [&](int64_t out, int64_t base) {
    T acc = 0;
    for (int64_t a = 0; a < g.w[0]; ++a)
      for (int64_t c = 0; c < g.w[1]; ++c)
        for (int64_t e = 0; e < g.w[2]; ++e) acc += xv[base + (a * g.n[1] + c) * g.n[2] + e];
    node->val[out] = acc * scale;
  });
  return tape.record(node);
}

template Var<float> max_pool<float>(const Var<float>&, int, int64_t, int64_t);
template Var<double> max_pool<double>(const Var<double>&, int, int64_t, int64_t);
template Var<float> avg_pool<float>(const Var<float>&, int, int64_t, int64_t);
template Var<double> avg_pool<double>(const Var<double>&, int, int64_t, int64_t);

}  // namespace trusty::core
