#include "trusty/io/npy.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <unistd.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

namespace trusty::io {

namespace {
template <class T> constexpr const char* descr_of();
template <> constexpr const char* descr_of<float>() { return "<f4"; }
template <> constexpr const char* descr_of<double>() { return "<f8"; }
template <> constexpr const char* descr_of<int64_t>() { return "<i8"; }
template <> constexpr const char* descr_of<int32_t>() { return "<i4"; }
template <> constexpr const char* descr_of<uint8_t>() { return "|u1"; }

size_t item_size(const std::string& d, const std::string& what) {
  if (d == "<f4" || d == "<i4") return 4;
  if (d == "<f8" || d == "<i8") return 8;
  if (d == "|u1" || d == "<u1" || d == "|b1") return 1;
  throw std::invalid_argument(what + ": unsupported dtype '" + d + "' (expected <f4, <f8, <i4, <i8 or |u1)");
}
}  // namespace

int64_t NpyArray::numel() const {
  if (std::find(shape.begin(), shape.end(), 0) != shape.end()) return 0;
  int64_t n = 1;
  for (auto d : shape)
    if (d < 0 || __builtin_mul_overflow(n, d, &n))
      throw std::invalid_argument("npy: shape with " + std::to_string(shape.size()) + " dimensions has no representable size");
  return n;
}

template <class T>
std::vector<T> NpyArray::values() const {
  const int64_t n = numel();
  std::vector<T> out(static_cast<size_t>(n));
  auto conv = [&](auto tag) {
    using S = decltype(tag);
    for (int64_t i = 0; i < n; ++i) {
      S s;
      std::memcpy(&s, data.data() + i * static_cast<int64_t>(sizeof(S)), sizeof(S));
      out[static_cast<size_t>(i)] = static_cast<T>(s);
    }
  };
  if (descr == "<f4") conv(float{});
  else if (descr == "<f8") conv(double{});
  else if (descr == "<i8") conv(int64_t{});
  else if (descr == "<i4") conv(int32_t{});
  else if (descr == "|u1" || descr == "<u1" || descr == "|b1") conv(uint8_t{});
  else throw std::invalid_argument("npy: unsupported dtype '" + descr + "'");
  return out;
}

template <class T>
NpyArray NpyArray::from(std::span<const T> v, std::vector<int64_t> shape) {
  NpyArray a;
  a.descr = descr_of<T>();
  a.shape = std::move(shape);
  if (a.numel() != static_cast<int64_t>(v.size()))
    throw std::invalid_argument("NpyArray::from: " + std::to_string(v.size()) + " values for the shape given");
  a.data.resize(v.size() * sizeof(T));
  if (!v.empty()) std::memcpy(a.data.data(), v.data(), a.data.size());  // memcpy(null, null, 0) is undefined
  return a;
}

template <class T>
NpyArray NpyArray::from(const core::Tensor<T>& t) {
  auto v = t.to_vector();
  return from<T>(std::span<const T>(v), t.shape().to_vector());
}

template <class T>
core::Tensor<T> NpyArray::tensor() const {
  auto v = values<T>();
  return core::Tensor<T>(core::Shape(std::span<const int64_t>(shape)), std::span<const T>(v));
}

std::vector<char> encode_npy(const NpyArray& a) {
  std::string shape = "(";
  for (size_t i = 0; i < a.shape.size(); ++i) shape += std::to_string(a.shape[i]) + (a.shape.size() == 1 ? "," : (i + 1 < a.shape.size() ? ", " : ""));
  shape += ")";
  std::string header = "{'descr': '" + a.descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
  const size_t pre = 10;  // magic(6) + version(2) + len(2)
  size_t total = pre + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  // Sized once and filled with memcpy (GCC 12 warns falsely on vector<char>::insert here).
  const uint16_t len = static_cast<uint16_t>(header.size());
  const char prefix[10] = {'\x93', 'N', 'U', 'M', 'P', 'Y', 1, 0, static_cast<char>(len & 0xff), static_cast<char>(len >> 8)};
  std::vector<char> out(sizeof prefix + header.size() + a.data.size());
  std::memcpy(out.data(), prefix, sizeof prefix);
  std::memcpy(out.data() + sizeof prefix, header.data(), header.size());
  if (!a.data.empty()) std::memcpy(out.data() + sizeof prefix + header.size(), a.data.data(), a.data.size());
  return out;
}

namespace {
// The .npy header is a Python dict literal: {'descr': '<f4', 'fortran_order': False,
// 'shape': (2, 3), }. Read strictly: exactly these three keys, a closing brace, nothing but
// padding after it, and non-negative dimensions whose product fits the file.
class HeaderParser {
 public:
  HeaderParser(const std::string& h, const std::string& what) : h_(h), what_(what) {}

  NpyArray parse() {
    NpyArray a;
    bool descr = false, order = false, shape = false;
    expect('{', "the header to start with '{'");
    for (;;) {
      ws();
      if (peek() == '}') break;
      if (i_ >= h_.size() || peek() == '\n') fail("a closing '}'");
      const std::string key = quoted();
      ws();
      expect(':', "':' after '" + key + "'");
      ws();
      if (key == "descr" && !descr) {
        a.descr = quoted();
        descr = true;
      } else if (key == "fortran_order" && !order) {
        if (h_.compare(i_, 4, "True") == 0) throw std::invalid_argument(what_ + ": Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
        if (h_.compare(i_, 5, "False") != 0) fail("fortran_order to be False");
        i_ += 5;
        order = true;
      } else if (key == "shape" && !shape) {
        a.shape = dims();
        shape = true;
      } else {
        fail("only the keys 'descr', 'fortran_order' and 'shape', once each, got '" + key + "'");
      }
      ws();
      if (peek() == ',') { ++i_; continue; }
      ws();
      if (peek() != '}') fail("',' or '}' after the value of '" + key + "'");
    }
    ++i_;
    while (i_ < h_.size() && (h_[i_] == ' ' || h_[i_] == '\n' || h_[i_] == '\0')) ++i_;
    if (i_ != h_.size()) fail("only padding after '}'");
    if (!descr || !order || !shape)
      fail(std::string("the keys descr, fortran_order and shape; '") + (!descr ? "descr" : !order ? "fortran_order" : "shape") + "' is missing");
    return a;
  }

 private:
  [[noreturn]] void fail(const std::string& expected) const {
    throw std::invalid_argument(what_ + ": malformed .npy header at byte " + std::to_string(i_) + ": expected " + expected);
  }
  char peek() const { return i_ < h_.size() ? h_[i_] : '\0'; }
  void ws() { while (i_ < h_.size() && h_[i_] == ' ') ++i_; }
  void expect(char c, const std::string& expected) {
    if (peek() != c) fail(expected);
    ++i_;
  }
  std::string quoted() {
    const char q = peek();
    if (q != '\'' && q != '"') fail("a quoted string");
    const size_t end = h_.find(q, i_ + 1);
    if (end == std::string::npos) fail("a closing quote");
    std::string v = h_.substr(i_ + 1, end - i_ - 1);
    i_ = end + 1;
    return v;
  }
  std::vector<int64_t> dims() {
    expect('(', "a shape tuple '(...)'");
    std::vector<int64_t> d;
    for (;;) {
      ws();
      if (peek() == ')') break;
      if (peek() < '0' || peek() > '9') fail("a non-negative integer dimension in the shape");
      int64_t v = 0;
      while (peek() >= '0' && peek() <= '9') {
        if (v > (int64_t{1} << 50)) fail("a dimension below 2^50 in the shape");
        v = v * 10 + (h_[i_++] - '0');
      }
      if (peek() == 'L') ++i_;  // Python 2's long suffix
      d.push_back(v);
      ws();
      if (peek() == ',') { ++i_; continue; }
      ws();
      if (peek() != ')') fail("',' or ')' in the shape");
    }
    ++i_;
    if (d.size() > 8) fail("at most 8 dimensions, got " + std::to_string(d.size()));
    return d;
  }

  const std::string& h_;
  const std::string& what_;
  size_t i_ = 0;
};
}  // namespace

namespace {
// The validated header of a .npy held in `b`: the array without its data, where the data
// starts and how many bytes it has (exactly what the file holds after the header).
struct NpyLayout {
  NpyArray header;
  size_t offset = 0, bytes = 0;
};

NpyLayout parse_npy(std::span<const char> b, const std::string& what) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw std::invalid_argument(what + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(b[6]);
  size_t hlen, off;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    off = 10;
  } else if (major == 2 || major == 3) {
    if (b.size() < 12) throw std::invalid_argument(what + ": truncated .npy header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + static_cast<size_t>(i)])) << (8 * i);
    off = 12;
  } else {
    throw std::invalid_argument(what + ": .npy format version " + std::to_string(major) + ", expected 1, 2 or 3");
  }
  if (hlen > b.size() - off) throw std::invalid_argument(what + ": truncated .npy header (" + std::to_string(hlen) + " bytes announced)");
  const std::string h(b.data() + off, hlen);
  NpyLayout l{HeaderParser(h, what).parse(), off + hlen, 0};
  const NpyArray& a = l.header;
  const size_t item = item_size(a.descr, what);
  // The size in bytes, checked against what the file holds before anything is allocated.
  const size_t avail = b.size() - off - hlen;
  // A zero dimension makes the array empty whatever the others are, but the others must still
  // multiply to a size (as numpy requires), or code that multiplies the shape out overflows.
  // (Without a zero, the byte count below is checked against the file instead.)
  const bool empty = std::find(a.shape.begin(), a.shape.end(), 0) != a.shape.end();
  if (empty) {
    int64_t nonzero = 1;
    for (auto d : a.shape)
      if (d != 0 && (__builtin_mul_overflow(nonzero, d, &nonzero) || nonzero > (int64_t{1} << 62)))
        throw std::invalid_argument(what + ": the shape's non-zero dimensions multiply past 2^62 (expected an array size that fits in memory)");
  }
  uint64_t bytes = item;
  for (auto d : a.shape) {
    if (d != 0 && bytes > avail / static_cast<uint64_t>(d)) {
      bytes = UINT64_MAX;
      break;
    }
    bytes *= static_cast<uint64_t>(d);
  }
  if (empty) bytes = 0;
  if (bytes > avail) {
    std::string shape;
    for (auto d : a.shape) shape += (shape.empty() ? "" : ", ") + std::to_string(d);
    throw std::invalid_argument(what + ": data truncated: shape (" + shape + ") of " + a.descr + " needs more than the " +
                                std::to_string(avail) + " bytes present");
  }
  if (bytes != avail)
    throw std::invalid_argument(what + ": " + std::to_string(avail - bytes) + " bytes after the data (shape and file size disagree)");
  l.bytes = bytes;
  return l;
}
}  // namespace

NpyArray decode_npy(std::span<const char> b, const std::string& what) {
  auto l = parse_npy(b, what);
  l.header.data.assign(b.data() + l.offset, b.data() + l.offset + l.bytes);
  return std::move(l.header);
}

int64_t stored_count(double v, int64_t lo, const std::string& what) {
  if (!(v >= static_cast<double>(lo) && v <= 1e15 && v == std::floor(v)))
    throw std::invalid_argument(what + " is " + std::to_string(v) + ", expected a whole number >= " + std::to_string(lo));
  return static_cast<int64_t>(v);
}

void write_file_atomic(const std::string& path, std::span<const char> bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
    const bool ok = (bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size()) && std::fflush(f) == 0 &&
                    ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
  }
  std::filesystem::rename(tmp, path);
}

std::vector<char> read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::invalid_argument(path + ": is a directory, expected a file");
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::invalid_argument("cannot open '" + path + "': " + std::strerror(errno));
  const auto end = f.tellg();
  if (end < 0) throw std::invalid_argument("cannot read '" + path + "': not a regular file");
  std::vector<char> b(static_cast<size_t>(end));
  f.seekg(0);
  if (!f.read(b.data(), static_cast<std::streamsize>(b.size()))) throw std::invalid_argument("cannot read '" + path + "'");
  return b;
}

void write_npy(const std::string& path, const NpyArray& a) {
  auto b = encode_npy(a);
  write_file_atomic(path, b);
}

NpyArray read_npy(const std::string& path) {
  auto b = read_file(path);
  return decode_npy(b, path);
}

template <class T>
core::Tensor<T> map_npy(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw std::invalid_argument(path + ": is a directory, expected a file");
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw std::invalid_argument("cannot open '" + path + "': " + std::strerror(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw std::invalid_argument("cannot read '" + path + "': not a regular file");
  }
  const size_t size = static_cast<size_t>(st.st_size);
  if (size == 0) {
    ::close(fd);
    return decode_npy({}, path).tensor<T>();  // the "bad magic" error
  }
  // Private and writable: pages are the page cache's until written, then copied (the file is
  // never changed). Not populated: a read fault maps the page cache's pages around it (the
  // kernel's fault-around), and rows never read (a subset of a data set) cost nothing.
  void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  ::close(fd);
  if (m == MAP_FAILED) throw std::runtime_error("cannot map '" + path + "': " + std::strerror(errno));
  std::shared_ptr<char> region(static_cast<char*>(m), [size](char* p) { ::munmap(p, size); });
  const std::span<const char> bytes(region.get(), size);
  auto l = parse_npy(bytes, path);
  std::vector<int64_t> shape = l.header.shape;
  if (l.header.descr == descr_of<T>() && l.offset % 64 == 0 && l.bytes > 0)
    return core::Tensor<T>::adopt(core::Shape(std::span<const int64_t>(shape)), std::shared_ptr<T>(region, reinterpret_cast<T*>(region.get() + l.offset)));
  // Another dtype (converted) or data not 64-byte aligned in the file: read and copy.
  l.header.data.assign(bytes.data() + l.offset, bytes.data() + l.offset + l.bytes);
  return l.header.tensor<T>();
}

#define TRUSTY_INST(T)                                                                 \
  template std::vector<T> NpyArray::values<T>() const;                                 \
  template NpyArray NpyArray::from<T>(std::span<const T>, std::vector<int64_t>);
TRUSTY_INST(float)
TRUSTY_INST(double)
TRUSTY_INST(int64_t)
TRUSTY_INST(int32_t)
TRUSTY_INST(uint8_t)
#undef TRUSTY_INST
template NpyArray NpyArray::from<float>(const core::Tensor<float>&);
template NpyArray NpyArray::from<double>(const core::Tensor<double>&);
template core::Tensor<float> NpyArray::tensor<float>() const;
template core::Tensor<float> map_npy<float>(const std::string&);
template core::Tensor<double> map_npy<double>(const std::string&);
template core::Tensor<double> NpyArray::tensor<double>() const;

}  // namespace trusty::io
