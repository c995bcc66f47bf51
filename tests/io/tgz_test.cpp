// The in-process .tgz reader and the SHA-512 that checks downloaded packages.
#include <gtest/gtest.h>

#include <string>

#include "trusty/io/checksum.hpp"
#include "trusty/io/tgz.hpp"
#include "test_paths.hpp"

using namespace trusty;

namespace {
// Fixtures made with Python's tarfile (ustar) + gzip: small.tgz holds package/package.json
// and package/src/digits/0.json; bad_header.tgz has one flipped name byte in the first
// header; truncated.tgz stops inside the first member.
std::string data(const char* f) { return std::string(TRUSTY_SOURCE_DIR) + "/tests/io/data/" + f; }
auto all = [](const std::string&) { return true; };
std::string error_of(const std::string& path, size_t max_member = size_t{1} << 30) {
  try {
    io::read_tgz(path, all, max_member);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(Tgz, ReadsTheMembersAsked) {
  auto m = io::read_tgz(data("small.tgz"), [](const std::string& n) { return n.rfind("package/src/", 0) == 0; });
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m.at("package/src/digits/0.json").size(), 1 + 784 * 4 - 1 + 1);
  EXPECT_EQ(io::read_tgz(data("small.tgz"), all).at("package/package.json"), "{\"name\": \"x\"}");
}

TEST(Tgz, RefusesCorruptArchivesNamingThem) {
  EXPECT_NE(error_of(data("bad_header.tgz")).find("bad_header.tgz: not a valid .tgz: header 0 checksum"), std::string::npos)
      << error_of(data("bad_header.tgz"));
  EXPECT_NE(error_of(data("truncated.tgz")).find("truncated.tgz: truncated .tgz: member 'package/package.json'"), std::string::npos)
      << error_of(data("truncated.tgz"));
  EXPECT_NE(error_of(data("f8_2x3.npy")).find("f8_2x3.npy: not a .tgz: not gzip-compressed"), std::string::npos)
      << error_of(data("f8_2x3.npy"));
  EXPECT_NE(error_of(data("small.tgz"), 100).find("member 'package/src/digits/0.json' holds 3137 bytes, expected at most 100"),
            std::string::npos)
      << error_of(data("small.tgz"), 100);
  EXPECT_NE(error_of(data("missing.tgz")).find("cannot open"), std::string::npos);
}

TEST(Checksum, Sha512KnownAnswers) {
  // FIPS 180-2 appendix C examples ("abc", and the 896-bit two-block message) and "".
  auto hex = [](const std::string& s) {
    auto h = io::sha512(std::span<const char>(s.data(), s.size()));
    std::string o;
    for (auto b : h) o += "0123456789abcdef"[b >> 4], o += "0123456789abcdef"[b & 15];
    return o;
  };
  EXPECT_EQ(hex("abc"),
            "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f");
  EXPECT_EQ(hex(""),
            "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e");
  EXPECT_EQ(hex("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu"),
            "8e959b75dae313da8cf4f72814fc143f8f7779c6eb9f7fa17299aeadb6889018501d289e4900f7e4331b99dec4b5433ac7d329eeb6dd26545e96e55b874be909");
  const std::string abc = "abc";
  EXPECT_EQ(io::npm_integrity(std::span<const char>(abc.data(), 3)).substr(0, 20), "sha512-3a81oZNherrMQ");
}
