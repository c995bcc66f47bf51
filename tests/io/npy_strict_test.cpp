// .npy and .npz readers trust nothing in the file: malformed headers, negative or huge
// dimensions, flipped bytes and truncation are errors naming the file and what was
// expected, raised before any allocation sized by the file.
#include <gtest/gtest.h>

#include <filesystem>

#include "trusty/io/npy.hpp"

using namespace trusty;
namespace fs = std::filesystem;

namespace {
std::string tmp(const std::string& f) { return (fs::temp_directory_path() / ("trusty_strict_" + f)).string(); }

// A version-1 .npy file with this header text (padded as numpy does) and these data bytes.
std::vector<char> npy_with(std::string header, size_t data_bytes) {
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string b = std::string("\x93NUMPY\x01\x00", 8);
  b += static_cast<char>(header.size() & 0xff);
  b += static_cast<char>(header.size() >> 8);
  b += header;
  b.append(data_bytes, '\0');
  return std::vector<char>(b.begin(), b.end());
}

std::string error_reading(const std::vector<char>& bytes, const std::string& name) {
  const auto p = tmp(name);
  io::write_file_atomic(p, bytes);
  try {
    io::read_npy(p);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

std::string npz_error(const std::string& p) {
  try {
    io::read_npz(p);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}
}  // namespace

TEST(NpyStrict, WellFormedHeadersStillRead) {
  const auto p = tmp("ok.npy");
  io::write_file_atomic(p, npy_with("{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48));
  EXPECT_EQ(io::read_npy(p).shape, (std::vector<int64_t>{2, 3}));
  io::write_file_atomic(p, npy_with("{\"descr\":\"<i8\",\"fortran_order\":False,\"shape\":(4,)}", 32));
  EXPECT_EQ(io::read_npy(p).shape, (std::vector<int64_t>{4}));
  io::write_file_atomic(p, npy_with("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 5), }", 0));
  EXPECT_EQ(io::read_npy(p).shape, (std::vector<int64_t>{0, 5}));
}

TEST(NpyStrict, MalformedHeadersAreRefused) {
  struct Case {
    const char* header;
    size_t data;
    const char* expected;
  };
  const Case cases[] = {
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), ", 48, "expected a closing '}'"},  // missing brace
      {"'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 48, "expected the header to start with '{'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (-2, 3), }", 48, "expected a non-negative integer dimension"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, -3), }", 48, "expected a non-negative integer dimension"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2.5, 3), }", 48, "expected ',' or ')' in the shape"},
      {"{'descr': '<f8', 'fortran_order': False, }", 48, "'shape' is missing"},
      {"{'descr': '<f8', 'shape': (2, 3), }", 48, "'fortran_order' is missing"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}", 48, "only the keys"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), } junk", 48, "expected only padding after '}'"},
      {"{'descr': '<f8', 'fortran_order': Maybe, 'shape': (2, 3), }", 48, "expected fortran_order to be False"},
      {"{'descr': '>f8', 'fortran_order': False, 'shape': (2, 3), }", 48, "unsupported dtype '>f8'"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 40, "data truncated"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 3), }", 56, "8 bytes after the data"},
      // Overflowing shapes: an error, not stoll, bad_alloc or a wrapped product.
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 3), }", 48, "a dimension below 2^50"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (1125899906842624, 1125899906842624, 16), }", 48, "data truncated"},
      {"{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", 48, "data truncated"},
  };
  int i = 0;
  for (const auto& c : cases) {
    const std::string name = "bad" + std::to_string(i++) + ".npy";
    const auto msg = error_reading(npy_with(c.header, c.data), name);
    EXPECT_NE(msg.find(tmp(name) + ": "), std::string::npos) << c.header << " -> " << msg;
    EXPECT_NE(msg.find(c.expected), std::string::npos) << c.header << " -> " << msg;
  }
}

TEST(NpyStrict, ADirectoryIsNamedAsSuch) {
  const auto d = tmp("a_directory");
  fs::create_directories(d);
  EXPECT_EQ(error_reading({}, "unused.npy"), tmp("unused.npy") + ": not a .npy file (bad magic)");
  try {
    io::read_npy(d);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_EQ(std::string(e.what()), d + ": is a directory, expected a file");
  }
}

TEST(NpzStrict, AFlippedByteFailsTheCrc) {
  io::Npz z;
  z["w"] = io::NpyArray::from<double>(std::vector<double>{1, 2, 3, 4}, {2, 2});
  const auto p = tmp("flip.npz");
  io::write_npz(p, z);
  auto b = io::read_file(p);
  // The last data byte of the member (the high byte of 4.0): still a valid .npy, a
  // different number.
  const size_t data_end = b.size() - 22 - (46 + 5);
  b[data_end - 1] ^= 0x01;
  io::write_file_atomic(p, b);
  const auto msg = npz_error(p);
  EXPECT_NE(msg.find(p + ": member 'w.npy' fails its CRC-32 check (recorded 0x"), std::string::npos) << msg;
}

TEST(NpzStrict, TruncatedAndDamagedArchivesAreNamed) {
  io::Npz z;
  z["a"] = io::NpyArray::from<int64_t>(std::vector<int64_t>{1, 2, 3}, {3});
  const auto p = tmp("damaged.npz");
  io::write_npz(p, z);
  const auto good = io::read_file(p);
  auto bad = good;
  bad.resize(bad.size() - 30);  // the end record gone
  io::write_file_atomic(p, bad);
  EXPECT_NE(npz_error(p).find("no end-of-directory record"), std::string::npos) << npz_error(p);
  // The directory's offset pointing past the end of the file.
  bad = good;
  bad[bad.size() - 3] = '\x7f';
  io::write_file_atomic(p, bad);
  EXPECT_NE(npz_error(p).find("lies outside the file"), std::string::npos) << npz_error(p);
  // The member's compressed size claiming more than the file holds.
  bad = good;
  const size_t cd = good.size() - 22 - (46 + 5);
  bad[cd + 21] = '\x7f';
  io::write_file_atomic(p, bad);
  EXPECT_NE(npz_error(p).find("member 'a.npy' is truncated"), std::string::npos) << npz_error(p);
}
