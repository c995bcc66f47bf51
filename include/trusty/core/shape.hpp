// Shape: the dimensions of a dense array, at most kMaxRank of them, stored inline
// so that shapes live on the autodiff tape without allocation.
#pragma once
#include <array>
#include <cstdint>
#include <initializer_list>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace trusty::core {

inline constexpr int kMaxRank = 6;

class Shape {
 public:
  Shape() = default;
  Shape(std::initializer_list<int64_t> dims);
  explicit Shape(std::span<const int64_t> dims);

  int rank() const { return rank_; }
  int64_t operator[](int axis) const { return dims_[static_cast<size_t>(axis)]; }
  int64_t& operator[](int axis) { return dims_[static_cast<size_t>(axis)]; }
  // Dimension with negative axes counted from the end (Python style); validated.
  int64_t dim(int axis) const { return dims_[static_cast<size_t>(normalize_axis(axis))]; }
  int64_t numel() const;
  bool operator==(const Shape& o) const;
  bool operator!=(const Shape& o) const { return !(*this == o); }
  std::span<const int64_t> dims() const { return {dims_.data(), static_cast<size_t>(rank_)}; }
  std::vector<int64_t> to_vector() const { return {dims_.begin(), dims_.begin() + rank_}; }
  // Maps a possibly negative axis into [0, rank); throws naming the shape otherwise.
  int normalize_axis(int axis) const;
  std::string str() const;  // "[2, 3]"

  // Row-major (C order) strides in elements.
  std::array<int64_t, kMaxRank> contiguous_strides() const;

 private:
  std::array<int64_t, kMaxRank> dims_{};
  int rank_ = 0;
};

// NumPy broadcasting of two shapes; throws std::invalid_argument naming both shapes.
Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op = "broadcast");

// Strides (in elements) with which `in` is read when broadcast to `out`: 0 on broadcast axes.
std::array<int64_t, kMaxRank> broadcast_strides(const Shape& in, const Shape& out);

// The shape left after reducing `axes` of `s` (keepdims keeps them as 1).
Shape reduced_shape(const Shape& s, std::span<const int> axes, bool keepdims);

}  // namespace trusty::core
