#include "trusty/io/tgz.hpp"

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <memory>
#include <stdexcept>
#include <string_view>

namespace trusty::io {

namespace {
struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};
using Gz = std::unique_ptr<gzFile_s, GzCloser>;

// Exactly n bytes, or false at a clean end of file; throws on a gzip error or a short read.
bool read_exact(gzFile f, char* dst, size_t n, const std::string& path, const std::string& what) {
  size_t got = 0;
  while (got < n) {
    const unsigned chunk = static_cast<unsigned>(std::min<size_t>(n - got, 1u << 20));
    const int r = gzread(f, dst + got, chunk);
    if (r < 0) {
      int err = 0;
      const char* msg = gzerror(f, &err);
      throw std::invalid_argument(path + ": not a valid .tgz: " + what + ": " + (msg ? msg : "gzip error"));
    }
    if (r == 0) {
      if (got == 0) return false;
      throw std::invalid_argument(path + ": truncated .tgz: " + what + " ends after " + std::to_string(got) + " of " +
                                  std::to_string(n) + " bytes");
    }
    got += static_cast<size_t>(r);
  }
  return true;
}

// A NUL- or space-terminated octal field; -1 when it holds anything else.
int64_t octal(std::string_view f) {
  int64_t v = 0;
  size_t i = 0;
  while (i < f.size() && f[i] == ' ') ++i;
  const size_t start = i;
  for (; i < f.size() && f[i] >= '0' && f[i] <= '7'; ++i) {
    if (v > (INT64_MAX >> 3)) return -1;
    v = v * 8 + (f[i] - '0');
  }
  if (i == start) return -1;
  for (; i < f.size(); ++i)
    if (f[i] != '\0' && f[i] != ' ') return -1;
  return v;
}

std::string field(const char* p, size_t n) { return std::string(p, strnlen(p, n)); }
}  // namespace

std::map<std::string, std::string> read_tgz(const std::string& path, const std::function<bool(const std::string&)>& want,
                                            size_t max_member) {
  {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::invalid_argument("cannot open '" + path + "': " + std::strerror(errno));
    char magic[2] = {};
    in.read(magic, 2);
    if (in.gcount() != 2 || static_cast<unsigned char>(magic[0]) != 0x1f || static_cast<unsigned char>(magic[1]) != 0x8b)
      throw std::invalid_argument(path + ": not a .tgz: not gzip-compressed");
  }
  Gz f(gzopen(path.c_str(), "rb"));
  if (!f) throw std::invalid_argument("cannot open '" + path + "': " + std::strerror(errno));
  std::map<std::string, std::string> out;
  std::array<char, 512> h{};
  for (int64_t index = 0;; ++index) {
    const std::string where = "header " + std::to_string(index);
    if (!read_exact(f.get(), h.data(), h.size(), path, where)) {
      if (index == 0) throw std::invalid_argument(path + ": not a .tgz: empty");
      break;  // end of file without the two zero blocks: accepted, as GNU tar does
    }
    if (std::all_of(h.begin(), h.end(), [](char c) { return c == 0; })) break;
    // The checksum: the sum of the header's bytes with its own field read as spaces.
    int64_t sum = 0;
    for (size_t i = 0; i < h.size(); ++i) sum += (i >= 148 && i < 156) ? ' ' : static_cast<unsigned char>(h[i]);
    const int64_t stored = octal(std::string_view(h.data() + 148, 8));
    if (stored != sum)
      throw std::invalid_argument(path + ": not a valid .tgz: " + where + " checksum " + std::to_string(stored) + ", expected " +
                                  std::to_string(sum));
    std::string name = field(h.data(), 100);
    if (std::memcmp(h.data() + 257, "ustar", 5) == 0) {
      const std::string prefix = field(h.data() + 345, 155);
      if (!prefix.empty()) name = prefix + "/" + name;
    }
    const int64_t size = octal(std::string_view(h.data() + 124, 12));
    if (size < 0) throw std::invalid_argument(path + ": not a valid .tgz: member '" + name + "' has no octal size");
    const char type = h[156];
    const bool regular = type == '0' || type == '\0' || type == '7';
    const bool keep = regular && want(name);
    if (keep && static_cast<uint64_t>(size) > max_member)
      throw std::invalid_argument(path + ": member '" + name + "' holds " + std::to_string(size) + " bytes, expected at most " +
                                  std::to_string(max_member));
    const size_t padded = (static_cast<size_t>(size) + 511) / 512 * 512;
    if (keep) {
      std::string body(padded, '\0');
      if (!read_exact(f.get(), body.data(), padded, path, "member '" + name + "'"))
        throw std::invalid_argument(path + ": truncated .tgz: member '" + name + "' has no data");
      body.resize(static_cast<size_t>(size));
      out[name] = std::move(body);
    } else {
      std::array<char, 512> skip{};
      for (size_t left = padded; left > 0; left -= 512)
        if (!read_exact(f.get(), skip.data(), 512, path, "member '" + name + "'"))
          throw std::invalid_argument(path + ": truncated .tgz: member '" + name + "' has no data");
    }
  }
  return out;
}

}  // namespace trusty::io
