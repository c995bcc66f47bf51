// The .npz container: a zip archive of .npy members, stored (np.savez) or deflated
// (np.savez_compressed). Reading trusts nothing in the file: every offset and size is
// checked against the file before it is used or anything is allocated for it, and every
// member's CRC-32 is verified, so a flipped byte is an error naming the member.
#include <zlib.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>

#include "trusty/io/npy.hpp"

namespace trusty::io {

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

uint32_t crc_of(std::span<const char> b) {
  uLong c = crc32(0, Z_NULL, 0);
  for (size_t off = 0; off < b.size();) {
    const uInt n = static_cast<uInt>(std::min<size_t>(b.size() - off, 1u << 30));
    c = crc32(c, reinterpret_cast<const Bytef*>(b.data() + off), n);
    off += n;
  }
  return static_cast<uint32_t>(c);
}

std::string hex32(uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", v);
  return buf;
}

// Deflate never expands data by more than this factor (RFC 1951 worst case is ~1032:1).
constexpr uint64_t kMaxDeflateRatio = 1032;

std::vector<char> inflate_member(std::span<const char> in, uint32_t usize, const std::string& what) {
  std::vector<char> body(usize);
  z_stream zs{};
  if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) throw std::runtime_error(what + ": zlib inflateInit failed");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(body.data());
  zs.avail_out = usize;
  const int rc = inflate(&zs, Z_FINISH);
  const uLong out = zs.total_out;
  inflateEnd(&zs);
  if (rc != Z_STREAM_END || out != usize)
    throw std::invalid_argument(what + ": does not inflate to its recorded " + std::to_string(usize) + " bytes (the file is corrupt)");
  return body;
}
}  // namespace

void write_npz(const std::string& path, const Npz& arrays) {
  std::vector<char> out, central;
  uint16_t count = 0;
  for (const auto& [name, arr] : arrays) {
    const std::string fname = name + ".npy";
    auto body = encode_npy(arr);
    if (body.size() > 0xfffffff0u) throw std::invalid_argument("write_npz: member '" + name + "' exceeds 4 GiB");
    const uint32_t crc = crc_of(body);
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

Npz read_npz(const std::string& path) { return decode_npz(read_file(path), path); }

Npz decode_npz(std::span<const char> b, const std::string& path) {
  const size_t size = b.size();
  auto corrupt = [&](const std::string& what) { return std::invalid_argument(path + ": corrupt .npz (zip) file: " + what); };
  if (size < 22) throw std::invalid_argument(path + ": not a .npz (zip) file: " + std::to_string(size) + " bytes, too short");
  // The end record is within the last 22 + 65535 (comment) bytes.
  size_t eocd = size - 22;
  const size_t lowest = size > 22 + 0xffff ? size - 22 - 0xffff : 0;
  while (eocd > lowest && get32(b.data() + eocd) != 0x06054b50) --eocd;
  if (get32(b.data() + eocd) != 0x06054b50) throw std::invalid_argument(path + ": not a .npz (zip) file: no end-of-directory record");
  const uint32_t n = get16(b.data() + eocd + 10);
  const uint64_t cd_size = get32(b.data() + eocd + 12), cd_off = get32(b.data() + eocd + 16);
  if (cd_off == 0xffffffffu || n == 0xffff) throw corrupt("zip64 archives (members over 4 GiB) are not supported");
  if (cd_off + cd_size > eocd) throw corrupt("the directory (offset " + std::to_string(cd_off) + ", " + std::to_string(cd_size) + " bytes) lies outside the file");
  size_t p = cd_off;
  Npz out;
  for (uint32_t i = 0; i < n; ++i) {
    if (p + 46 > eocd || get32(b.data() + p) != 0x02014b50) throw corrupt("directory entry " + std::to_string(i) + " is damaged");
    const uint32_t flags = get16(b.data() + p + 8), method = get16(b.data() + p + 10), crc = get32(b.data() + p + 16);
    const uint32_t csize = get32(b.data() + p + 20), usize = get32(b.data() + p + 24);
    const uint32_t nlen = get16(b.data() + p + 28), xlen = get16(b.data() + p + 30), clen = get16(b.data() + p + 32);
    const uint64_t lho = get32(b.data() + p + 42);
    if (p + 46 + nlen > eocd) throw corrupt("directory entry " + std::to_string(i) + " is damaged");
    std::string name(b.data() + p + 46, nlen);
    const std::string what = path + ": member '" + name + "'";
    p += 46 + static_cast<size_t>(nlen) + xlen + clen;
    if (flags & 1) throw std::invalid_argument(what + " is encrypted");
    if (csize == 0xffffffffu || usize == 0xffffffffu || lho == 0xffffffffu) throw corrupt("zip64 member '" + name + "' is not supported");
    if (lho + 30 > size || get32(b.data() + lho) != 0x04034b50) throw corrupt("member '" + name + "' has no local header where the directory says");
    const uint64_t data = lho + 30 + get16(b.data() + lho + 26) + get16(b.data() + lho + 28);
    if (data + csize > size) throw std::invalid_argument(what + " is truncated (" + std::to_string(csize) + " bytes recorded, " +
                                                         std::to_string(size > data ? size - data : 0) + " present)");
    const std::span<const char> raw(b.data() + data, csize);
    std::vector<char> body;
    if (method == 0) {
      if (usize != csize) throw corrupt("stored member '" + name + "' records " + std::to_string(usize) + " and " + std::to_string(csize) + " bytes");
      body.assign(raw.begin(), raw.end());
    } else if (method == 8) {
      if (usize > static_cast<uint64_t>(csize) * kMaxDeflateRatio + 64)
        throw corrupt("member '" + name + "' claims " + std::to_string(usize) + " bytes from " + std::to_string(csize) + " compressed");
      body = inflate_member(raw, usize, what);
    } else {
      throw std::invalid_argument(what + " uses zip method " + std::to_string(method) + " (expected 0, stored, or 8, deflated)");
    }
    if (const uint32_t got = crc_of(body); got != crc)
      throw std::invalid_argument(what + " fails its CRC-32 check (recorded " + hex32(crc) + ", computed " + hex32(got) +
                                  "): the file is corrupt");
    if (name.size() > 4 && name.substr(name.size() - 4) == ".npy") name.resize(name.size() - 4);
    if (out.count(name)) throw corrupt("member '" + name + "' appears twice");
    out.emplace(name, decode_npy(body, path + ":" + name));
  }
  return out;
}

}  // namespace trusty::io
