// Tensor<T>: a dense n-dimensional array of float or double.
// Storage is shared between views: reshape (when contiguous), transpose and slice return
// views that alias the same memory; contiguous() and clone() copy. Arithmetic follows
// NumPy broadcasting. The autodiff tape (var.hpp) reads tensors without copying them.
#pragma once
#include <memory>
#include <span>
#include <vector>

#include "trusty/core/shape.hpp"

namespace trusty::core {

template <class T>
class Tensor {
 public:
  using value_type = T;
  Tensor();                                   // a rank-0 tensor holding 0
  explicit Tensor(const Shape& shape);        // zeros
  Tensor(const Shape& shape, T fill);
  Tensor(const Shape& shape, std::span<const T> values);  // copies; sizes must agree
  Tensor(const Shape& shape, std::initializer_list<T> values);
  // A tensor that reads and writes memory it does not own (caller keeps it alive).
  static Tensor borrow(const Shape& shape, T* data);
  // A contiguous tensor over storage kept alive by `storage` (e.g. a memory-mapped file
  // released by its deleter); shape.numel() elements must be there.
  static Tensor adopt(const Shape& shape, std::shared_ptr<T> storage);
  static Tensor scalar(T v) { return Tensor(Shape{}, v); }

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  int64_t numel() const { return shape_.numel(); }
  int64_t dim(int axis) const { return shape_.dim(axis); }
  int64_t stride(int axis) const { return strides_[static_cast<size_t>(shape_.normalize_axis(axis))]; }
  const std::array<int64_t, kMaxRank>& strides() const { return strides_; }
  bool is_contiguous() const;

  T* data() { return base_.get() + offset_; }
  const T* data() const { return base_.get() + offset_; }
  // The elements as one span; throws unless contiguous.
  std::span<T> span();
  std::span<const T> span() const;
  std::vector<T> to_vector() const;  // row-major copy of the elements

  T& at(std::initializer_list<int64_t> index);
  T at(std::initializer_list<int64_t> index) const;
  T item() const;  // the single element of a one-element tensor

  Tensor reshape(const Shape& shape) const;             // view if contiguous, else a copy
  Tensor transpose(int axis0 = -2, int axis1 = -1) const;  // view
  Tensor permute(std::span<const int> axes) const;        // view
  Tensor slice(int axis, int64_t start, int64_t stop, int64_t step = 1) const;  // view
  Tensor contiguous() const;  // this if contiguous, else a copy
  Tensor clone() const;       // always a copy
  void fill(T v);
  void copy_from(const Tensor& src);  // same shape; handles strided src and dst
  bool shares_storage(const Tensor& o) const { return base_ == o.base_; }

 private:
  std::shared_ptr<T> base_;
  int64_t offset_ = 0;
  Shape shape_;
  std::array<int64_t, kMaxRank> strides_{};
};

// Broadcasting arithmetic; results are new contiguous tensors.
template <class T> Tensor<T> operator+(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator-(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator*(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator/(const Tensor<T>& a, const Tensor<T>& b);
template <class T> Tensor<T> operator*(const Tensor<T>& a, T s);
// Matrix product: [m,k]@[k,n], or batched [...,m,k]@[...,k,n] (equal batch dims, or b 2-D).
template <class T> Tensor<T> matmul(const Tensor<T>& a, const Tensor<T>& b);
// Largest |a-b| over elements (shapes must match); for tests and checks.
template <class T> T max_abs_diff(const Tensor<T>& a, const Tensor<T>& b);

// Aligned, uninitialised storage for n elements (64-byte aligned for AVX-512).
template <class T> std::shared_ptr<T> allocate_storage(int64_t n);

extern template class Tensor<float>;
extern template class Tensor<double>;

}  // namespace trusty::core
