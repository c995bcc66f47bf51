// Shape ops: reshape and leading-axis slices alias memory; the others copy with strides.
#include <cstring>
#include <numeric>
#include <vector>

#include "trusty/core/kernels/broadcast.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

using kernels::for_each_strided;

template <class T>
Var<T> strided_copy(const Var<T>& a, const Shape& out, const std::array<int64_t, kMaxRank>& strides, int64_t offset,
                    const char* name);

// out[o] = in[offset + strided index]; backward scatters back. Serves permute and slice.
template <class T>
struct StridedCopyNode final : Node<T> {
  std::array<int64_t, kMaxRank> strides;
  int64_t offset;
  Node<T>* tangent(TangentMap<T>& t) override {  // linear: the same copy of a'
    Node<T>* ta = t.of(this->in[0]);
    return ta ? strided_copy(Var<T>(ta), this->shape, strides, offset, this->name).node() : nullptr;
  }
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    const T* g = this->grad;
    T* base = ga + offset;
    for_each_strided(this->shape, strides, [&](int64_t o, int64_t i) { base[i] += g[o]; });
  }
};

template <class T>
Var<T> strided_copy(const Var<T>& a, const Shape& out, const std::array<int64_t, kMaxRank>& strides, int64_t offset,
                    const char* name) {
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<StridedCopyNode<T>>(out, a.requires_grad(), name);
  node->in = {a.node(), nullptr, nullptr};
  node->strides = strides;
  node->offset = offset;
  const T* src = a.data() + offset;
  T* y = node->val;
  for_each_strided(out, strides, [&](int64_t o, int64_t i) { y[o] = src[i]; });
  return tape.record(node);
}

template <class T>
struct GatherNode final : Node<T> {
  const int64_t* index;
  int64_t nidx, outer, inner, dim;
  int axis;
  Node<T>* tangent(TangentMap<T>& t) override {  // the same rows of a'
    Node<T>* ta = t.of(this->in[0]);
    return ta ? gather(Var<T>(ta), axis, std::span<const int64_t>(index, static_cast<size_t>(nidx))).node() : nullptr;
  }
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    const T* g = this->grad;
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t j = 0; j < nidx; ++j) {
        T* dst = ga + (o * dim + index[j]) * inner;
        const T* src = g + (o * nidx + j) * inner;
        for (int64_t k = 0; k < inner; ++k) dst[k] += src[k];
      }
  }
};

template <class T>
struct ConcatNode final : Node<T> {
  Node<T>** parts;
  int nparts, axis;
  int64_t outer, inner_total;
  Node<T>* tangent(TangentMap<T>& t) override {  // the parts' tangents concatenated (zeros where none)
    std::vector<Var<T>> tp(static_cast<size_t>(nparts));
    bool any = false;
    for (int p = 0; p < nparts; ++p) {
      Node<T>* tn = t.of(parts[p]);
      any = any || tn;
      tp[static_cast<size_t>(p)] = tn ? Var<T>(tn) : constant(Tensor<T>(parts[p]->shape));
    }
    return any ? concat(std::span<const Var<T>>(tp), axis).node() : nullptr;
  }
  void backward() override {
    int64_t off = 0;
    for (int p = 0; p < nparts; ++p) {
      Node<T>* part = parts[p];
      const int64_t w = part->n / outer;
      if (part->grad) {
        const bool acc = accumulate_into(part);  // parts beyond in[] are not prepared by the tape
        for (int64_t o = 0; o < outer; ++o) {
          const T* src = this->grad + o * inner_total + off;
          T* dst = part->grad + o * w;
          if (acc) for (int64_t k = 0; k < w; ++k) dst[k] += src[k];
          else std::copy(src, src + w, dst);
        }
      }
      off += w;
    }
  }
};

}  // namespace

template <class T>
Var<T> reshape(const Var<T>& a, const Shape& s) {
  if (s.numel() != a.numel())
    throw std::invalid_argument("reshape: cannot reshape " + a.shape().str() + " (" + std::to_string(a.numel()) +
                                " elements) to " + s.str() + " (" + std::to_string(s.numel()) + " elements)");
  return Tape<T>::current().alias(a.node(), s, 0, "reshape");
}

template <class T>
Var<T> permute(const Var<T>& a, std::span<const int> axes) {
  const Shape& s = a.shape();
  if (static_cast<int>(axes.size()) != s.rank())
    throw std::invalid_argument("permute: " + std::to_string(axes.size()) + " axes given for shape " + s.str());
  auto cs = s.contiguous_strides();
  std::array<int64_t, kMaxRank> st{}, d{};
  std::array<bool, kMaxRank> seen{};
  for (int i = 0; i < s.rank(); ++i) {
    int ax = s.normalize_axis(axes[static_cast<size_t>(i)]);
    if (seen[static_cast<size_t>(ax)]) throw std::invalid_argument("permute: axis " + std::to_string(ax) + " repeated for shape " + s.str());
    seen[static_cast<size_t>(ax)] = true;
    d[static_cast<size_t>(i)] = s[ax];
    st[static_cast<size_t>(i)] = cs[static_cast<size_t>(ax)];
  }
  return strided_copy(a, Shape(std::span<const int64_t>(d.data(), static_cast<size_t>(s.rank()))), st, 0, "permute");
}

template <class T>
Var<T> transpose(const Var<T>& a, int axis0, int axis1) {
  const Shape& s = a.shape();
  if (s.rank() < 2) throw std::invalid_argument("transpose: needs rank >= 2, got shape " + s.str());
  std::array<int, kMaxRank> ax{};
  std::iota(ax.begin(), ax.end(), 0);
  std::swap(ax[static_cast<size_t>(s.normalize_axis(axis0))], ax[static_cast<size_t>(s.normalize_axis(axis1))]);
  return permute(a, std::span<const int>(ax.data(), static_cast<size_t>(s.rank())));
}

template <class T>
Var<T> slice(const Var<T>& a, int axis, int64_t start, int64_t stop, int64_t step) {
  const Shape& s = a.shape();
  const int ax = s.normalize_axis(axis);
  const int64_t n = s[ax];
  if (step <= 0) throw std::invalid_argument("slice: step must be positive, got " + std::to_string(step));
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  stop = std::min(stop, n);
  if (start < 0 || start > stop)
    throw std::invalid_argument("slice: range [" + std::to_string(start) + ", " + std::to_string(stop) +
                                ") is invalid for axis " + std::to_string(axis) + " of shape " + s.str());
  Shape out = s;
  out[ax] = (stop - start + step - 1) / step;
  auto cs = s.contiguous_strides();
  bool leading = step == 1;
  for (int i = 0; i < ax; ++i) leading = leading && s[i] == 1;
  if (leading) return Tape<T>::current().alias(a.node(), out, start * cs[static_cast<size_t>(ax)], "slice");
  auto st = cs;
  st[static_cast<size_t>(ax)] *= step;
  return strided_copy(a, out, st, start * cs[static_cast<size_t>(ax)], "slice");
}

template <class T>
Var<T> gather(const Var<T>& a, int axis, std::span<const int64_t> index) {
  const Shape& s = a.shape();
  const int ax = s.normalize_axis(axis);
  const int64_t dim = s[ax];
  for (int64_t i : index)
    if (i < 0 || i >= dim)
      throw std::invalid_argument("gather: index " + std::to_string(i) + " out of range [0, " + std::to_string(dim) +
                                  ") on axis " + std::to_string(axis) + " of shape " + s.str());
  Shape out = s;
  out[ax] = static_cast<int64_t>(index.size());
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<GatherNode<T>>(out, a.requires_grad(), "gather");
  node->in = {a.node(), nullptr, nullptr};
  auto* idx = tape.template alloc_array<int64_t>(static_cast<int64_t>(index.size()));
  std::copy(index.begin(), index.end(), idx);
  node->index = idx;
  node->nidx = static_cast<int64_t>(index.size());
  node->dim = dim;
  node->axis = ax;
  node->inner = 1;
  for (int i = ax + 1; i < s.rank(); ++i) node->inner *= s[i];
  node->outer = s.numel() / (dim * node->inner);
  if (dim == 0) node->outer = 0;
  for (int64_t o = 0; o < node->outer; ++o)
    for (int64_t j = 0; j < node->nidx; ++j)
      std::memcpy(node->val + (o * node->nidx + j) * node->inner, a.data() + (o * dim + idx[j]) * node->inner,
                  static_cast<size_t>(node->inner) * sizeof(T));
  return tape.record(node);
}

template <class T>
Var<T> concat(std::span<const Var<T>> parts, int axis) {
  if (parts.empty()) throw std::invalid_argument("concat: no inputs");
  const Shape& s0 = parts[0].shape();
  const int ax = s0.normalize_axis(axis);
  Shape out = s0;
  out[ax] = 0;
  bool grad = false;
  for (const auto& p : parts) {
    const Shape& s = p.shape();
    bool ok = s.rank() == s0.rank();
    for (int i = 0; ok && i < s.rank(); ++i) ok = i == ax || s[i] == s0[i];
    if (!ok)
      throw std::invalid_argument("concat: shape " + s.str() + " does not match " + s0.str() + " except on axis " +
                                  std::to_string(axis));
    out[ax] += s[ax];
    grad = grad || p.requires_grad();
  }
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<ConcatNode<T>>(out, grad, "concat");
  node->nparts = static_cast<int>(parts.size());
  node->axis = ax;
  node->parts = tape.template alloc_array<Node<T>*>(node->nparts);
  for (int p = 0; p < node->nparts; ++p) node->parts[p] = parts[static_cast<size_t>(p)].node();
  for (int p = 0; p < std::min(3, node->nparts); ++p) node->in[static_cast<size_t>(p)] = node->parts[p];
  node->first_write = true;
  int64_t outer = 1;
  for (int i = 0; i < ax; ++i) outer *= out[i];
  node->outer = outer;
  node->inner_total = outer ? out.numel() / outer : 0;
  int64_t off = 0;
  for (const auto& p : parts) {
    const int64_t w = outer ? p.numel() / outer : 0;
    for (int64_t o = 0; o < outer; ++o)
      std::memcpy(node->val + o * node->inner_total + off, p.data() + o * w, static_cast<size_t>(w) * sizeof(T));
    off += w;
  }
  return tape.record(node);
}

#define TRUSTY_INST(T)                                                        \
  template Var<T> reshape<T>(const Var<T>&, const Shape&);                    \
  template Var<T> transpose<T>(const Var<T>&, int, int);                      \
  template Var<T> permute<T>(const Var<T>&, std::span<const int>);            \
  template Var<T> slice<T>(const Var<T>&, int, int64_t, int64_t, int64_t);    \
  template Var<T> gather<T>(const Var<T>&, int, std::span<const int64_t>);    \
  template Var<T> concat<T>(std::span<const Var<T>>, int);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
