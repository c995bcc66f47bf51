#include "trusty/core/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <numeric>

#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/kernels/broadcast.hpp"

namespace trusty::core {

template <class T>
std::shared_ptr<T> allocate_storage(int64_t n) {
  size_t bytes = static_cast<size_t>(std::max<int64_t>(n, 1)) * sizeof(T);
  bytes = (bytes + 63) / 64 * 64;
  void* p = std::aligned_alloc(64, bytes);
  if (!p) throw std::bad_alloc();
  return std::shared_ptr<T>(static_cast<T*>(p), [](T* q) { std::free(q); });
}

template <class T>
Tensor<T>::Tensor() : Tensor(Shape{}, T(0)) {}

template <class T>
Tensor<T>::Tensor(const Shape& shape) : Tensor(shape, T(0)) {}

template <class T>
Tensor<T>::Tensor(const Shape& shape, T fill)
    : base_(allocate_storage<T>(shape.numel())), shape_(shape), strides_(shape.contiguous_strides()) {
  std::fill(base_.get(), base_.get() + shape.numel(), fill);
}

template <class T>
Tensor<T>::Tensor(const Shape& shape, std::span<const T> values)
    : base_(allocate_storage<T>(shape.numel())), shape_(shape), strides_(shape.contiguous_strides()) {
  if (static_cast<int64_t>(values.size()) != shape.numel())
    throw std::invalid_argument("Tensor: " + std::to_string(values.size()) + " values given for shape " +
                                shape.str() + " (expected " + std::to_string(shape.numel()) + ")");
  std::copy(values.begin(), values.end(), base_.get());
}

template <class T>
Tensor<T>::Tensor(const Shape& shape, std::initializer_list<T> values)
    : Tensor(shape, std::span<const T>(values.begin(), values.size())) {}

template <class T>
Tensor<T> Tensor<T>::adopt(const Shape& shape, std::shared_ptr<T> storage) {
  Tensor t;
  t.base_ = std::move(storage);
  t.offset_ = 0;
  t.shape_ = shape;
  t.strides_ = shape.contiguous_strides();
  return t;
}

template <class T>
Tensor<T> Tensor<T>::borrow(const Shape& shape, T* data) {
  Tensor t;
  t.base_ = std::shared_ptr<T>(data, [](T*) {});
  t.offset_ = 0;
  t.shape_ = shape;
  t.strides_ = shape.contiguous_strides();
  return t;
}

template <class T>
bool Tensor<T>::is_contiguous() const {
  auto cs = shape_.contiguous_strides();
  for (int i = 0; i < rank(); ++i)
    if (shape_[i] != 1 && strides_[static_cast<size_t>(i)] != cs[static_cast<size_t>(i)]) return false;
  return true;
}

template <class T>
std::span<T> Tensor<T>::span() {
  if (!is_contiguous()) throw std::logic_error("Tensor::span: tensor of shape " + shape_.str() + " is not contiguous");
  return {data(), static_cast<size_t>(numel())};
}

template <class T>
std::span<const T> Tensor<T>::span() const {
  if (!is_contiguous()) throw std::logic_error("Tensor::span: tensor of shape " + shape_.str() + " is not contiguous");
  return {data(), static_cast<size_t>(numel())};
}

template <class T>
std::vector<T> Tensor<T>::to_vector() const {
  std::vector<T> v(static_cast<size_t>(numel()));
  const T* src = data();
  kernels::for_each_strided(shape_, strides_, [&](int64_t o, int64_t i) { v[static_cast<size_t>(o)] = src[i]; });
  return v;
}

namespace {
int64_t flat_offset(const Shape& s, const std::array<int64_t, kMaxRank>& st, std::initializer_list<int64_t> idx) {
  if (static_cast<int>(idx.size()) != s.rank())
    throw std::invalid_argument("Tensor::at: " + std::to_string(idx.size()) + " indices for shape " + s.str());
  int64_t off = 0;
  int ax = 0;
  for (int64_t i : idx) {
    if (i < 0 || i >= s[ax])
      throw std::out_of_range("Tensor::at: index " + std::to_string(i) + " out of range on axis " +
                              std::to_string(ax) + " of shape " + s.str());
    off += i * st[static_cast<size_t>(ax++)];
  }
  return off;
}
}  // namespace

template <class T>
T& Tensor<T>::at(std::initializer_list<int64_t> index) {
  return data()[flat_offset(shape_, strides_, index)];
}

template <class T>
T Tensor<T>::at(std::initializer_list<int64_t> index) const {
  return data()[flat_offset(shape_, strides_, index)];
}

template <class T>
T Tensor<T>::item() const {
  if (numel() != 1) throw std::invalid_argument("Tensor::item: tensor of shape " + shape_.str() + " has " + std::to_string(numel()) + " elements, expected 1");
  return *data();
}

template <class T>
Tensor<T> Tensor<T>::reshape(const Shape& shape) const {
  if (shape.numel() != numel())
    throw std::invalid_argument("Tensor::reshape: cannot reshape " + shape_.str() + " (" + std::to_string(numel()) +
                                " elements) to " + shape.str() + " (" + std::to_string(shape.numel()) + ")");
  Tensor t = is_contiguous() ? *this : contiguous();
  t.shape_ = shape;
  t.strides_ = shape.contiguous_strides();
  return t;
}

template <class T>
Tensor<T> Tensor<T>::transpose(int axis0, int axis1) const {
  Tensor t = *this;
  int a = shape_.normalize_axis(axis0), b = shape_.normalize_axis(axis1);
  std::swap(t.shape_[a], t.shape_[b]);
  std::swap(t.strides_[static_cast<size_t>(a)], t.strides_[static_cast<size_t>(b)]);
  return t;
}

template <class T>
Tensor<T> Tensor<T>::permute(std::span<const int> axes) const {
  if (static_cast<int>(axes.size()) != rank())
    throw std::invalid_argument("Tensor::permute: " + std::to_string(axes.size()) + " axes for shape " + shape_.str());
  Tensor t = *this;
  std::array<bool, kMaxRank> seen{};
  for (int i = 0; i < rank(); ++i) {
    int a = shape_.normalize_axis(axes[static_cast<size_t>(i)]);
    if (seen[static_cast<size_t>(a)]) throw std::invalid_argument("Tensor::permute: axis repeated for shape " + shape_.str());
    seen[static_cast<size_t>(a)] = true;
    t.shape_[i] = shape_[a];
    t.strides_[static_cast<size_t>(i)] = strides_[static_cast<size_t>(a)];
  }
  return t;
}

template <class T>
Tensor<T> Tensor<T>::slice(int axis, int64_t start, int64_t stop, int64_t step) const {
  int a = shape_.normalize_axis(axis);
  int64_t n = shape_[a];
  if (step <= 0) throw std::invalid_argument("Tensor::slice: step must be positive, got " + std::to_string(step));
  if (start < 0) start += n;
  if (stop < 0) stop += n;
  stop = std::min(stop, n);
  if (start < 0 || start > stop)
    throw std::invalid_argument("Tensor::slice: range [" + std::to_string(start) + ", " + std::to_string(stop) +
                                ") invalid for axis " + std::to_string(axis) + " of shape " + shape_.str());
  Tensor t = *this;
  t.offset_ += start * strides_[static_cast<size_t>(a)];
  t.shape_[a] = (stop - start + step - 1) / step;
  t.strides_[static_cast<size_t>(a)] *= step;
  return t;
}

template <class T>
Tensor<T> Tensor<T>::contiguous() const {
  return is_contiguous() ? *this : clone();
}

template <class T>
Tensor<T> Tensor<T>::clone() const {
  Tensor t(shape_);
  t.copy_from(*this);
  return t;
}

template <class T>
void Tensor<T>::fill(T v) {
  T* d = data();
  if (is_contiguous()) std::fill(d, d + numel(), v);
  else kernels::for_each_strided(shape_, strides_, [&](int64_t, int64_t i) { d[i] = v; });
}

template <class T>
void Tensor<T>::copy_from(const Tensor& src) {
  if (src.shape() != shape_)
    throw std::invalid_argument("Tensor::copy_from: shape " + src.shape().str() + " into " + shape_.str());
  T* d = data();
  const T* s = src.data();
  if (is_contiguous() && src.is_contiguous()) {
    std::memmove(d, s, static_cast<size_t>(numel()) * sizeof(T));
  } else if (is_contiguous()) {
    kernels::for_each_strided(shape_, src.strides_, [&](int64_t o, int64_t i) { d[o] = s[i]; });
  } else {
    Tensor tmp = src.clone();
    const T* c = tmp.data();
    kernels::for_each_strided(shape_, strides_, [&](int64_t o, int64_t i) { d[i] = c[o]; });
  }
}

namespace {
template <class T, class Op>
Tensor<T> binary(const Tensor<T>& a0, const Tensor<T>& b0, Op op, const char* name) {
  Shape out = broadcast_shapes(a0.shape(), b0.shape(), name);
  Tensor<T> a = a0.contiguous(), b = b0.contiguous();
  Tensor<T> r(out);
  T* o = r.data();
  const T *pa = a.data(), *pb = b.data();
  kernels::for_each_broadcast(out, broadcast_strides(a.shape(), out), broadcast_strides(b.shape(), out),
                              [&](int64_t i, int64_t ia, int64_t ib) { o[i] = op(pa[ia], pb[ib]); });
  return r;
}
}  // namespace

template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b) { return binary(a, b, std::plus<T>(), "add"); }
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b) { return binary(a, b, std::minus<T>(), "sub"); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b) { return binary(a, b, std::multiplies<T>(), "mul"); }
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b) { return binary(a, b, std::divides<T>(), "div"); }
template <class T> Tensor<T> operator*(const Tensor<T>& a, T s) {
  Tensor<T> r = a.clone();
  for (T& v : r.span()) v *= s;
  return r;
}

template <class T>
Tensor<T> matmul(const Tensor<T>& a0, const Tensor<T>& b0) {
  if (a0.rank() < 2 || b0.rank() < 2 || a0.dim(-1) != b0.dim(-2) ||
      (b0.rank() > 2 && (a0.rank() != b0.rank() ||
                         Shape(a0.shape().dims().first(a0.rank() - 2)) != Shape(b0.shape().dims().first(b0.rank() - 2)))))
    throw std::invalid_argument("matmul: shapes " + a0.shape().str() + " and " + b0.shape().str() +
                                " are not compatible (expected [...,m,k] @ [...,k,n] or [...,m,k] @ [k,n])");
  Tensor<T> a = a0.contiguous(), b = b0.contiguous();
  const int64_t m = a.dim(-2), k = a.dim(-1), n = b.dim(-1);
  auto dims = a.shape().to_vector();
  dims.back() = n;
  Tensor<T> r{Shape(std::span<const int64_t>(dims))};
  if (b.rank() == 2) {  // fold the batch into the rows of one GEMM
    const int64_t rows = a.numel() / k;
    kernels::gemm(false, false, rows, n, k, T(1), a.data(), k, b.data(), n, T(0), r.data(), n);
  } else {
    const int64_t batch = a.numel() / (m * k);
    for (int64_t i = 0; i < batch; ++i)
      kernels::gemm(false, false, m, n, k, T(1), a.data() + i * m * k, k, b.data() + i * k * n, n, T(0),
                    r.data() + i * m * n, n);
  }
  return r;
}

template <class T>
T max_abs_diff(const Tensor<T>& a, const Tensor<T>& b) {
  if (a.shape() != b.shape())
    throw std::invalid_argument("max_abs_diff: shapes " + a.shape().str() + " and " + b.shape().str() + " differ");
  auto va = a.to_vector(), vb = b.to_vector();
  T m = 0;
  for (size_t i = 0; i < va.size(); ++i) m = std::max(m, std::abs(va[i] - vb[i]));
  return m;
}

#define TRUSTY_INST(T)                                                        \
  template class Tensor<T>;                                                   \
  template std::shared_ptr<T> allocate_storage<T>(int64_t);                   \
  template Tensor<T> operator+ <T>(const Tensor<T>&, const Tensor<T>&);       \
  template Tensor<T> operator- <T>(const Tensor<T>&, const Tensor<T>&);       \
  template Tensor<T> operator* <T>(const Tensor<T>&, const Tensor<T>&);       \
  template Tensor<T> operator/ <T>(const Tensor<T>&, const Tensor<T>&);       \
  template Tensor<T> operator* <T>(const Tensor<T>&, T);                      \
  template Tensor<T> matmul<T>(const Tensor<T>&, const Tensor<T>&);           \
  template T max_abs_diff<T>(const Tensor<T>&, const Tensor<T>&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
