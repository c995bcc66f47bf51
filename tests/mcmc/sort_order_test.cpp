// The radix-sort order against its std::stable_sort reference.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "trusty/mcmc/sort_order.hpp"

namespace trusty::mcmc {
namespace {

TEST(SortOrder, RadixMatchesStableSortIncludingTiesZerosAndInfinities) {
  std::mt19937_64 rng(3);
  std::normal_distribution<double> normal;
  std::uniform_int_distribution<int> pick(0, 9);
  for (const size_t n : {0u, 1u, 255u, 256u, 4000u, 20001u}) {
    std::vector<double> v(n);
    for (double& x : v) {
      switch (pick(rng)) {
        case 0: x = std::round(normal(rng)); break;  // many ties
        case 1: x = pick(rng) < 5 ? 0.0 : -0.0; break;
        case 2: x = (pick(rng) < 5 ? 1 : -1) * std::numeric_limits<double>::infinity(); break;
        case 3: x = normal(rng) * std::numeric_limits<double>::denorm_min(); break;
        case 4: x = normal(rng) * 1e300; break;
        default: x = normal(rng);
      }
    }
    const auto fast = ascending_order(v), reference = ascending_order_reference(v);
    EXPECT_EQ(fast, reference) << "n = " << n;
    for (size_t i = 1; i < fast.size(); ++i) ASSERT_LE(v[fast[i - 1]], v[fast[i]]) << "n = " << n;
  }
}

TEST(SortOrder, ConstantInputKeepsItsOrder) {
  const std::vector<double> v(1000, 2.5);
  const auto order = ascending_order(v);
  for (uint32_t i = 0; i < order.size(); ++i) ASSERT_EQ(order[i], i);
}

}  // namespace
}  // namespace trusty::mcmc
