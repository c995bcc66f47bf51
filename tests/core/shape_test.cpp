#include <gtest/gtest.h>

#include "trusty/core/shape.hpp"

using namespace trusty::core;

TEST(Shape, NumelAndStrides) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.numel(), 24);
  auto st = s.contiguous_strides();
  EXPECT_EQ(st[0], 12);
  EXPECT_EQ(st[1], 4);
  EXPECT_EQ(st[2], 1);
  EXPECT_EQ(s.str(), "[2, 3, 4]");
  EXPECT_EQ(Shape{}.numel(), 1);
}

TEST(Shape, Broadcast) {
  EXPECT_EQ(broadcast_shapes(Shape{4, 1, 3}, Shape{5, 1}), (Shape{4, 5, 3}));
  EXPECT_EQ(broadcast_shapes(Shape{}, Shape{2, 2}), (Shape{2, 2}));
  try {
    broadcast_shapes(Shape{2, 3}, Shape{4}, "add");
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3]"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("[4]"), std::string::npos);
  }
}

TEST(Shape, AxesAndReduction) {
  Shape s{2, 3, 4};
  EXPECT_EQ(s.normalize_axis(-1), 2);
  EXPECT_THROW(s.normalize_axis(3), std::invalid_argument);
  const int ax[] = {1};
  EXPECT_EQ(reduced_shape(s, ax, false), (Shape{2, 4}));
  EXPECT_EQ(reduced_shape(s, ax, true), (Shape{2, 1, 4}));
  auto bs = broadcast_strides(Shape{3, 1}, Shape{2, 3, 4});
  EXPECT_EQ(bs[0], 0);
  EXPECT_EQ(bs[1], 1);
  EXPECT_EQ(bs[2], 0);
}
