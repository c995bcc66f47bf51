#include "trusty/core/shape.hpp"

#include <algorithm>
#include <sstream>

namespace trusty::core {

Shape::Shape(std::initializer_list<int64_t> dims) : Shape(std::span<const int64_t>(dims.begin(), dims.size())) {}

Shape::Shape(std::span<const int64_t> dims) {
  if (dims.size() > static_cast<size_t>(kMaxRank))
    throw std::invalid_argument("Shape: rank " + std::to_string(dims.size()) + " exceeds the maximum " +
                                std::to_string(kMaxRank));
  rank_ = static_cast<int>(dims.size());
  for (size_t i = 0; i < dims.size(); ++i) {
    if (dims[i] < 0) throw std::invalid_argument("Shape: negative dimension " + std::to_string(dims[i]));
    dims_[i] = dims[i];
  }
}

int64_t Shape::numel() const {
  int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<size_t>(i)];
  return n;
}

bool Shape::operator==(const Shape& o) const {
  if (rank_ != o.rank_) return false;
  for (int i = 0; i < rank_; ++i)
    if (dims_[static_cast<size_t>(i)] != o.dims_[static_cast<size_t>(i)]) return false;
  return true;
}

int Shape::normalize_axis(int axis) const {
  int a = axis < 0 ? axis + rank_ : axis;
  if (a < 0 || a >= rank_)
    throw std::invalid_argument("axis " + std::to_string(axis) + " is out of range for shape " + str());
  return a;
}

std::string Shape::str() const {
  std::ostringstream os;
  os << '[';
  for (int i = 0; i < rank_; ++i) os << (i ? ", " : "") << dims_[static_cast<size_t>(i)];
  os << ']';
  return os.str();
}

std::array<int64_t, kMaxRank> Shape::contiguous_strides() const {
  std::array<int64_t, kMaxRank> s{};
  int64_t acc = 1;
  for (int i = rank_ - 1; i >= 0; --i) {
    s[static_cast<size_t>(i)] = acc;
    acc *= dims_[static_cast<size_t>(i)];
  }
  return s;
}

Shape broadcast_shapes(const Shape& a, const Shape& b, const char* op) {
  int r = std::max(a.rank(), b.rank());
  std::array<int64_t, kMaxRank> d{};
  for (int i = 0; i < r; ++i) {
    int ia = a.rank() - r + i, ib = b.rank() - r + i;
    int64_t da = ia >= 0 ? a[ia] : 1, db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1)
      throw std::invalid_argument(std::string(op) + ": shapes " + a.str() + " and " + b.str() +
                                  " cannot be broadcast together");
    d[static_cast<size_t>(i)] = da == 1 ? db : da;
  }
  return Shape(std::span<const int64_t>(d.data(), static_cast<size_t>(r)));
}

std::array<int64_t, kMaxRank> broadcast_strides(const Shape& in, const Shape& out) {
  std::array<int64_t, kMaxRank> s{};
  auto cs = in.contiguous_strides();
  int off = out.rank() - in.rank();
  for (int i = 0; i < out.rank(); ++i) {
    int j = i - off;
    s[static_cast<size_t>(i)] = (j < 0 || in[j] == 1) ? 0 : cs[static_cast<size_t>(j)];
  }
  return s;
}

Shape reduced_shape(const Shape& s, std::span<const int> axes, bool keepdims) {
  std::array<bool, kMaxRank> red{};
  for (int a : axes) red[static_cast<size_t>(s.normalize_axis(a))] = true;
  std::array<int64_t, kMaxRank> d{};  // no heap: reductions run on every HMC gradient
  size_t n = 0;
  for (int i = 0; i < s.rank(); ++i) {
    if (!red[static_cast<size_t>(i)]) d[n++] = s[i];
    else if (keepdims) d[n++] = 1;
  }
  return Shape(std::span<const int64_t>(d.data(), n));
}

}  // namespace trusty::core
