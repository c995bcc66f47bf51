// Binary (de)serialisation of sampler state for checkpoints: native-endian PODs, sizes as
// int64, Eigen matrices as rows, cols, column-major values. A reader past the end, or a
// size that does not fit, throws std::invalid_argument naming the file.
#pragma once
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <Eigen/Dense>

namespace trusty::mcmc::detail {

class ByteWriter {
 public:
  template <class T>
    requires std::is_arithmetic_v<T>
  void put(T v) {
    const auto* b = reinterpret_cast<const char*>(&v);
    bytes_.insert(bytes_.end(), b, b + sizeof(T));
  }
  template <class T>
  void put(const std::vector<T>& v) {
    put(static_cast<int64_t>(v.size()));
    const auto* b = reinterpret_cast<const char*>(v.data());
    bytes_.insert(bytes_.end(), b, b + v.size() * sizeof(T));
  }
  void put(const std::string& s) { put(std::vector<char>(s.begin(), s.end())); }
  template <class Derived>
  void put_matrix(const Eigen::PlainObjectBase<Derived>& m) {
    put(static_cast<int64_t>(m.rows()));
    put(static_cast<int64_t>(m.cols()));
    const auto* b = reinterpret_cast<const char*>(m.data());
    bytes_.insert(bytes_.end(), b, b + m.size() * sizeof(double));
  }
  const std::vector<char>& bytes() const { return bytes_; }

 private:
  std::vector<char> bytes_;
};

class ByteReader {
 public:
  ByteReader(const std::vector<char>& bytes, std::string what) : bytes_(bytes), what_(std::move(what)) {}
  template <class T>
    requires std::is_arithmetic_v<T>
  T get() {
    T v;
    need(sizeof(T));
    std::memcpy(&v, bytes_.data() + pos_, sizeof(T));
    pos_ += sizeof(T);
    return v;
  }
  template <class T>
  std::vector<T> get_vector() {
    const auto n = get<int64_t>();
    if (n < 0 || static_cast<uint64_t>(n) > remaining() / sizeof(T)) fail();  // no overflow: checked by division
    std::vector<T> v(static_cast<size_t>(n));
    if (!v.empty()) std::memcpy(v.data(), bytes_.data() + pos_, v.size() * sizeof(T));  // memcpy(nullptr, ., 0) is UB
    pos_ += v.size() * sizeof(T);
    return v;
  }
  std::string get_string() {
    const auto v = get_vector<char>();
    return std::string(v.begin(), v.end());
  }
  template <class M>
  void get_matrix(M& m) {
    const auto r = get<int64_t>(), c = get<int64_t>();
    if (r < 0 || c < 0) fail();
    // A vector type has one fixed dimension: a stored shape that disagrees is corrupt (Eigen
    // would otherwise size the storage r·c but report r·1 elements).
    if ((M::RowsAtCompileTime != Eigen::Dynamic && r != M::RowsAtCompileTime) ||
        (M::ColsAtCompileTime != Eigen::Dynamic && c != M::ColsAtCompileTime))
      fail();
    if (c > 0 && static_cast<uint64_t>(r) > remaining() / sizeof(double) / static_cast<uint64_t>(c)) fail();
    m.resize(r, c);
    if (r * c > 0) std::memcpy(m.data(), bytes_.data() + pos_, static_cast<size_t>(r * c) * sizeof(double));
    pos_ += static_cast<size_t>(r * c) * sizeof(double);
  }
  bool at_end() const { return pos_ == bytes_.size(); }

 private:
  size_t remaining() const { return bytes_.size() - pos_; }
  void need(size_t n) const {
    if (n > remaining()) fail();
  }
  [[noreturn]] void fail() const {
    throw std::invalid_argument(what_ + ": truncated or corrupt checkpoint");
  }
  const std::vector<char>& bytes_;
  std::string what_;
  size_t pos_ = 0;
};

}  // namespace trusty::mcmc::detail
