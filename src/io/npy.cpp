#include "trusty/io/npy.hpp"

#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <stdexcept>
#include <unistd.h>
#include <fcntl.h>

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
  int64_t n = 1;
  for (auto d : shape) n *= d;
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
  std::memcpy(a.data.data(), v.data(), a.data.size());
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
  std::vector<char> out;
  const char magic[] = "\x93NUMPY\x01\x00";
  out.insert(out.end(), magic, magic + 8);
  const uint16_t len = static_cast<uint16_t>(header.size());
  out.push_back(static_cast<char>(len & 0xff));
  out.push_back(static_cast<char>(len >> 8));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), a.data.begin(), a.data.end());
  return out;
}

NpyArray decode_npy(std::span<const char> b, const std::string& what) {
  if (b.size() < 10 || std::memcmp(b.data(), "\x93NUMPY", 6) != 0)
    throw std::invalid_argument(what + ": not a .npy file (bad magic)");
  const int major = static_cast<unsigned char>(b[6]);
  size_t hlen, off;
  if (major == 1) {
    hlen = static_cast<unsigned char>(b[8]) | (static_cast<size_t>(static_cast<unsigned char>(b[9])) << 8);
    off = 10;
  } else {
    if (b.size() < 12) throw std::invalid_argument(what + ": truncated .npy header");
    hlen = 0;
    for (int i = 0; i < 4; ++i) hlen |= static_cast<size_t>(static_cast<unsigned char>(b[8 + static_cast<size_t>(i)])) << (8 * i);
    off = 12;
  }
  if (off + hlen > b.size()) throw std::invalid_argument(what + ": truncated .npy header");
  std::string h(b.data() + off, hlen);
  std::smatch m;
  NpyArray a;
  if (!std::regex_search(h, m, std::regex("'descr':\\s*'([^']+)'"))) throw std::invalid_argument(what + ": .npy header has no descr");
  a.descr = m[1];
  if (std::regex_search(h, m, std::regex("'fortran_order':\\s*True")))
    throw std::invalid_argument(what + ": Fortran-ordered arrays are not supported (save with np.ascontiguousarray)");
  if (!std::regex_search(h, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw std::invalid_argument(what + ": .npy header has no shape");
  std::string dims = m[1];
  std::regex num("\\d+");
  for (auto it = std::sregex_iterator(dims.begin(), dims.end(), num); it != std::sregex_iterator(); ++it)
    a.shape.push_back(std::stoll(it->str()));
  const size_t bytes = static_cast<size_t>(a.numel()) * item_size(a.descr, what);
  if (off + hlen + bytes > b.size())
    throw std::invalid_argument(what + ": data truncated (" + std::to_string(b.size() - off - hlen) + " bytes for " +
                                std::to_string(bytes) + " expected)");
  a.data.assign(b.data() + off + hlen, b.data() + off + hlen + bytes);
  return a;
}

void write_file_atomic(const std::string& path, std::span<const char> bytes) {
  const std::string tmp = path + ".tmp";
  {
    std::FILE* f = std::fopen(tmp.c_str(), "wb");
    if (!f) throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
    const bool ok = std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size() && std::fflush(f) == 0 && ::fsync(fileno(f)) == 0;
    std::fclose(f);
    if (!ok) throw std::runtime_error("cannot write '" + tmp + "': " + std::strerror(errno));
  }
  std::filesystem::rename(tmp, path);
}

std::vector<char> read_file(const std::string& path) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) throw std::invalid_argument("cannot open '" + path + "': " + std::strerror(errno));
  std::vector<char> b(static_cast<size_t>(f.tellg()));
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

// ---- zip (the .npz container) -----------------------------------------------------------------
namespace {
void put16(std::vector<char>& o, uint32_t v) {
  o.push_back(static_cast<char>(v & 0xff));
  o.push_back(static_cast<char>((v >> 8) & 0xff));
}
void put32(std::vector<char>& o, uint32_t v) {
  put16(o, v & 0xffff);
  put16(o, v >> 16);
}
uint32_t get16(const char* p) { return static_cast<unsigned char>(p[0]) | (static_cast<uint32_t>(static_cast<unsigned char>(p[1])) << 8); }
uint32_t get32(const char* p) { return get16(p) | (get16(p + 2) << 16); }
}  // namespace

void write_npz(const std::string& path, const Npz& arrays) {
  std::vector<char> out, central;
  uint16_t count = 0;
  for (const auto& [name, arr] : arrays) {
    const std::string fname = name + ".npy";
    auto body = encode_npy(arr);
    if (body.size() > 0xfffffff0u) throw std::invalid_argument("write_npz: member '" + name + "' exceeds 4 GiB");
    const uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
    const uint32_t offset = static_cast<uint32_t>(out.size());
    put32(out, 0x04034b50); put16(out, 20); put16(out, 0); put16(out, 0); put16(out, 0); put16(out, 0x21);
    put32(out, crc); put32(out, static_cast<uint32_t>(body.size())); put32(out, static_cast<uint32_t>(body.size()));
    put16(out, static_cast<uint32_t>(fname.size())); put16(out, 0);
    out.insert(out.end(), fname.begin(), fname.end());
    out.insert(out.end(), body.begin(), body.end());
    put32(central, 0x02014b50); put16(central, 20); put16(central, 20); put16(central, 0); put16(central, 0);
    put16(central, 0); put16(central, 0x21); put32(central, crc); put32(central, static_cast<uint32_t>(body.size()));
    put32(central, static_cast<uint32_t>(body.size())); put16(central, static_cast<uint32_t>(fname.size()));
    put16(central, 0); put16(central, 0); put16(central, 0); put16(central, 0); put32(central, 0); put32(central, offset);
    central.insert(central.end(), fname.begin(), fname.end());
    ++count;
  }
  const uint32_t cd_off = static_cast<uint32_t>(out.size());
  out.insert(out.end(), central.begin(), central.end());
  put32(out, 0x06054b50); put16(out, 0); put16(out, 0); put16(out, count); put16(out, count);
  put32(out, static_cast<uint32_t>(central.size())); put32(out, cd_off); put16(out, 0);
  write_file_atomic(path, out);
}

Npz read_npz(const std::string& path) {
  auto b = read_file(path);
  if (b.size() < 22) throw std::invalid_argument(path + ": not a .npz (zip) file: too short");
  size_t eocd = b.size() - 22;
  while (eocd > 0 && get32(b.data() + eocd) != 0x06054b50) --eocd;
  if (get32(b.data() + eocd) != 0x06054b50) throw std::invalid_argument(path + ": not a .npz (zip) file: no end record");
  const uint32_t n = get16(b.data() + eocd + 10);
  size_t p = get32(b.data() + eocd + 16);
  Npz out;
  for (uint32_t i = 0; i < n; ++i) {
    if (p + 46 > b.size() || get32(b.data() + p) != 0x02014b50) throw std::invalid_argument(path + ": corrupt zip directory");
    const uint32_t method = get16(b.data() + p + 10), csize = get32(b.data() + p + 20), usize = get32(b.data() + p + 24);
    const uint32_t nlen = get16(b.data() + p + 28), xlen = get16(b.data() + p + 30), clen = get16(b.data() + p + 32);
    const uint32_t lho = get32(b.data() + p + 42);
    std::string name(b.data() + p + 46, nlen);
    p += 46 + nlen + xlen + clen;
    const size_t data = lho + 30 + get16(b.data() + lho + 26) + get16(b.data() + lho + 28);
    if (data + csize > b.size()) throw std::invalid_argument(path + ": member '" + name + "' is truncated");
    std::vector<char> body;
    if (method == 0) {
      body.assign(b.data() + data, b.data() + data + csize);
    } else if (method == 8) {
      body.resize(usize);
      z_stream zs{};
      inflateInit2(&zs, -MAX_WBITS);
      zs.next_in = reinterpret_cast<Bytef*>(b.data() + data);
      zs.avail_in = csize;
      zs.next_out = reinterpret_cast<Bytef*>(body.data());
      zs.avail_out = usize;
      const int rc = inflate(&zs, Z_FINISH);
      inflateEnd(&zs);
      if (rc != Z_STREAM_END) throw std::invalid_argument(path + ": member '" + name + "' does not inflate");
    } else {
      throw std::invalid_argument(path + ": member '" + name + "' uses zip method " + std::to_string(method));
    }
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.resize(name.size() - 4);
    out.emplace(name, decode_npy(body, path + ":" + name));
  }
  return out;
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
template core::Tensor<double> NpyArray::tensor<double>() const;

}  // namespace trusty::io
