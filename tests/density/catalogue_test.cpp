// Catalogue .npz files: a round trip, and each kind of bad input rejected with a message
// naming the file, the array and the index.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>

#include "test_util.hpp"
#include "trusty/density/catalogue.hpp"
#include "trusty/io/npy.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;

namespace {
density::Catalogue small_catalogue() {
  density::Catalogue c;
  c.field = test::random_tensor({4, 4, 4}, 1, -0.5, 1.0);
  c.positions = Tensor<double>(Shape{3, 3}, {0.1, 0.2, 0.3, 7.9, 0.0, 4.0, 2.0, 2.0, 2.0});
  c.masses = Tensor<double>(Shape{3}, {2e12, 1e13, 1e12});
  c.box_size = 8;
  c.mass_threshold = 1e12;
  return c;
}

std::string temp_path(const std::string& name) {
  return (std::filesystem::temp_directory_path() / ("trusty_density_" + name)).string();
}

// Writes c's arrays without validation (as a foreign program might), then loads the file.
std::string load_message(const density::Catalogue& c, const std::string& name) {
  io::Npz z;
  z["field"] = io::NpyArray::from(c.field);
  z["positions"] = io::NpyArray::from(c.positions);
  z["masses"] = io::NpyArray::from(c.masses);
  z["box_size"] = io::NpyArray::from(Tensor<double>::scalar(c.box_size));
  z["mass_threshold"] = io::NpyArray::from(Tensor<double>::scalar(c.mass_threshold));
  const auto path = temp_path(name);
  io::write_npz(path, z);
  const auto msg = test::invalid_argument_message([&] { density::load_catalogue(path); });
  std::filesystem::remove(path);
  return msg;
}
}  // namespace

TEST(Catalogue, RoundTripAndVoxels) {
  const auto c = small_catalogue();
  const auto path = temp_path("roundtrip.npz");
  density::save_catalogue(path, c);
  const auto r = density::load_catalogue(path);
  std::filesystem::remove(path);
  EXPECT_EQ(r.grid(), 4);
  EXPECT_EQ(r.size(), 3);
  EXPECT_EQ(max_abs_diff(r.field, c.field), 0.0);
  EXPECT_EQ(max_abs_diff(r.positions, c.positions), 0.0);
  EXPECT_EQ(r.box_size, 8.0);
  EXPECT_DOUBLE_EQ(r.voxel_volume(), 8.0);
  // Voxel side 2: (0.1, 0.2, 0.3) → (0,0,0); (7.9, 0, 4) → (3,0,2); (2,2,2) → (1,1,1).
  const auto v = r.halo_voxels();
  EXPECT_EQ(v, (std::vector<int64_t>{0, 3 * 16 + 2, 16 + 4 + 1}));
}

TEST(Catalogue, BadInputNamesFileArrayAndIndex) {
  auto c = small_catalogue();
  c.masses.data()[2] = 0.5e12;
  auto msg = load_message(c, "low_mass.npz");
  EXPECT_NE(msg.find("low_mass.npz"), std::string::npos) << msg;
  EXPECT_NE(msg.find("masses[2]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("below mass_threshold"), std::string::npos) << msg;

  c = small_catalogue();
  c.positions.data()[4] = 8.0;  // halo 1, y = box_size
  msg = load_message(c, "outside.npz");
  EXPECT_NE(msg.find("halo 1 is outside the box"), std::string::npos) << msg;
  EXPECT_NE(msg.find("positions[1, 1]"), std::string::npos) << msg;
  c.positions.data()[4] = -0.1;
  EXPECT_NE(load_message(c, "outside2.npz").find("halo 1 is outside"), std::string::npos);

  c = small_catalogue();
  c.field = Tensor<double>(Shape{4, 4, 5});
  msg = load_message(c, "shape.npz");
  EXPECT_NE(msg.find("field has shape [4, 4, 5]"), std::string::npos) << msg;

  c = small_catalogue();
  c.field.data()[17] = std::numeric_limits<double>::quiet_NaN();
  msg = load_message(c, "nan.npz");
  EXPECT_NE(msg.find("field[17]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("not finite"), std::string::npos) << msg;

  c = small_catalogue();
  c.masses.data()[0] = std::numeric_limits<double>::infinity();
  EXPECT_NE(load_message(c, "inf.npz").find("masses[0]"), std::string::npos);

  c = small_catalogue();
  c.masses = Tensor<double>(Shape{2}, {2e12, 3e12});
  EXPECT_NE(load_message(c, "count.npz").find("one per row of positions"), std::string::npos);
}

TEST(Catalogue, MissingArrayIsNamed) {
  io::Npz z;
  z["field"] = io::NpyArray::from(Tensor<double>(Shape{4, 4, 4}));
  const auto path = temp_path("missing.npz");
  io::write_npz(path, z);
  const auto msg = test::invalid_argument_message([&] { density::load_catalogue(path); });
  std::filesystem::remove(path);
  EXPECT_NE(msg.find("no array 'positions'"), std::string::npos) << msg;
}
