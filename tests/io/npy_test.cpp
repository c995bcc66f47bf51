#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "trusty/io/npy.hpp"

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
