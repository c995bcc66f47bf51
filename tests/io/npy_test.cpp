#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "trusty/io/npy.hpp"
#include "test_paths.hpp"

using namespace trusty;
namespace fs = std::filesystem;

namespace {
std::string data(const char* f) { return std::string(TRUSTY_SOURCE_DIR) + "/tests/io/data/" + f; }
std::string tmp(const char* f) { return (fs::temp_directory_path() / (std::string("trusty_io_") + f)).string(); }
}  // namespace

TEST(Npy, ReadsWhatNumpyWrote) {
  auto a = io::read_npy(data("f8_2x3.npy"));
  EXPECT_EQ(a.descr, "<f8");
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(a.values<double>(), (std::vector<double>{0, 0.25, 0.5, 0.75, 1.0, 1.25}));
  for (const char* f : {"stored.npz", "deflated.npz"}) {
    auto z = io::read_npz(data(f));
    ASSERT_EQ(z.size(), 2u) << f;
    EXPECT_EQ(z.at("a").values<int64_t>(), (std::vector<int64_t>{0, 1, 2, 3, 4}));
    EXPECT_EQ(z.at("b").shape, (std::vector<int64_t>{2, 2}));
    EXPECT_EQ(z.at("b").values<float>()[3], std::string(f) == "stored.npz" ? 1.0f : 3.0f);
  }
}

TEST(Npy, RoundTripAllDtypes) {
  io::Npz z;
  std::vector<float> f = {1.5f, -2.0f};
  std::vector<double> d = {3.25};
  std::vector<int64_t> i = {7, 8, 9};
  std::vector<uint8_t> u = {255, 0};
  z["f"] = io::NpyArray::from<float>(f, {2});
  z["d"] = io::NpyArray::from<double>(d, {});  // a 0-d array
  z["i"] = io::NpyArray::from<int64_t>(i, {3, 1});
  z["u"] = io::NpyArray::from<uint8_t>(u, {2});
  const auto path = tmp("roundtrip.npz");
  io::write_npz(path, z);
  auto r = io::read_npz(path);
  EXPECT_EQ(r.at("f").values<float>(), f);
  EXPECT_EQ(r.at("d").values<double>(), d);
  EXPECT_TRUE(r.at("d").shape.empty());
  EXPECT_EQ(r.at("i").shape, (std::vector<int64_t>{3, 1}));
  EXPECT_EQ(r.at("u").values<int64_t>(), (std::vector<int64_t>{255, 0}));
  EXPECT_FALSE(fs::exists(path + ".tmp"));  // atomic write leaves no temporary behind
}

TEST(Npy, BadFilesAreNamed) {
  const auto path = tmp("bad.npy");
  io::write_file_atomic(path, std::vector<char>{'h', 'e', 'l', 'l', 'o', ' ', 'w', 'o', 'r', 'l', 'd'});
  try {
    io::read_npy(path);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find(path), std::string::npos) << e.what();
  }
  EXPECT_THROW(io::read_npz(tmp("does_not_exist.npz")), std::invalid_argument);
}

// Found by fuzz_npy: a zero dimension made the array empty, so the size check passed, but the
// other dimensions overflowed int64 when multiplied out (signed overflow in numel()).
TEST(Npy, EmptyShapeWhoseOtherDimensionsOverflowIsRefused) {
  auto npy = [](const std::string& shape) {
    std::string h = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
    h.append(64 - (10 + h.size() + 1) % 64, ' ');
    h += '\n';
    std::string b = "\x93NUMPY";
    b += {'\x01', '\x00', static_cast<char>(h.size() & 0xff), static_cast<char>(h.size() >> 8)};
    b += h;
    return std::vector<char>(b.begin(), b.end());
  };
  const auto bad = npy("(3333331331333331, 333, 3333331331333331, 0)");
  try {
    io::decode_npy(bad, "x.npy");
    FAIL() << "accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("x.npy: the shape's non-zero dimensions multiply past 2^62"), std::string::npos) << e.what();
  }
  // Empty arrays whose other dimensions are sane still load, with no elements.
  const auto ok = io::decode_npy(npy("(1000000, 0, 3)"), "y.npy");
  EXPECT_EQ(ok.numel(), 0);
  EXPECT_TRUE(ok.data.empty());
}

// map_npy: the same tensor as read_npy, without reading the file; writing to the tensor
// never changes the file (private, copy-on-write mapping); other dtypes and unaligned data
// fall back to reading; bad files get read_npy's messages.
TEST(Npy, MappedArraysEqualReadOnesAndNeverWriteTheFile) {
  std::vector<float> v(3 * 64 * 5);
  for (size_t i = 0; i < v.size(); ++i) v[i] = 0.5f * static_cast<float>(i) - 7.0f;
  const auto path = tmp("mapped.npy");
  io::write_npy(path, io::NpyArray::from<float>(v, {3, 64, 5}));
  auto t = io::map_npy<float>(path);
  ASSERT_EQ(t.shape(), (core::Shape{3, 64, 5}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u) << "AVX-512 kernels need 64-byte alignment";
  EXPECT_EQ(t.to_vector(), v);
  t.data()[0] = 123.0f;  // copy-on-write: this process's page only
  EXPECT_EQ(io::read_npy(path).values<float>()[0], v[0]);
  auto view = t.reshape(core::Shape{3, 320});  // views keep the mapping alive
  t = core::Tensor<float>();
  EXPECT_EQ(view.at({2, 319}), v.back());

  // Another dtype is converted: float64 on disk, float wanted.
  std::vector<double> d = {1.25, -3.5};
  io::write_npy(tmp("mapped_f8.npy"), io::NpyArray::from<double>(d, {2}));
  EXPECT_EQ(io::map_npy<float>(tmp("mapped_f8.npy")).to_vector(), (std::vector<float>{1.25f, -3.5f}));
  // Data not 64-byte aligned in the file (a hand-made header of 16 + 10 bytes): read.
  const std::string h = "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }";
  std::string hdr = h + std::string((16 - (10 + h.size() + 1) % 16) % 16, ' ') + "\n";
  ASSERT_NE((10 + hdr.size()) % 64, 0u);
  std::string bytes = std::string("\x93NUMPY\x01\x00", 8) + char(hdr.size() & 0xff) + char(hdr.size() >> 8) + hdr;
  const float two[2] = {4.0f, 5.0f};
  bytes.append(reinterpret_cast<const char*>(two), sizeof two);
  io::write_file_atomic(tmp("mapped_unaligned.npy"), std::span<const char>(bytes.data(), bytes.size()));
  auto u = io::map_npy<float>(tmp("mapped_unaligned.npy"));
  EXPECT_EQ(u.to_vector(), (std::vector<float>{4.0f, 5.0f}));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(u.data()) % 64, 0u);

  // Bad files: the same messages as read_npy.
  bytes.resize(bytes.size() - 1);
  io::write_file_atomic(tmp("mapped_short.npy"), std::span<const char>(bytes.data(), bytes.size()));
  try {
    (void)io::map_npy<float>(tmp("mapped_short.npy"));
    FAIL() << "a truncated file was mapped";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("mapped_short.npy: data truncated"), std::string::npos) << e.what();
  }
  io::write_file_atomic(tmp("mapped_empty.npy"), std::span<const char>());
  EXPECT_THROW((void)io::map_npy<float>(tmp("mapped_empty.npy")), std::invalid_argument);
  EXPECT_THROW((void)io::map_npy<float>(fs::temp_directory_path().string()), std::invalid_argument);
  EXPECT_THROW((void)io::map_npy<float>(tmp("no_such_file.npy")), std::invalid_argument);
}
