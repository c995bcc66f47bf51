// Convolutional layers and multipole kernels: gradients, tying tables worked out by hand,
// parameter counts, and equivariance of ℓ = 0 kernels under the 24 rotations of the cube.
#include <gtest/gtest.h>

#include <array>
#include <set>

#include "module_check.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/nn/layers.hpp"

using namespace trusty;
using core::Padding;
using core::Shape;
using core::Tensor;
using trusty::test::check_module;
using trusty::test::rand_t;

namespace {
// The partition a table induces, as sets of row-major entry indices.
std::set<std::set<int64_t>> partition(const nn::MultipoleTable& t) {
  std::vector<std::set<int64_t>> g(static_cast<size_t>(t.groups));
  for (size_t i = 0; i < t.group.size(); ++i) g[static_cast<size_t>(t.group[i])].insert(static_cast<int64_t>(i));
  return {g.begin(), g.end()};
}
// Entries of a 3-kernel whose centred coordinates satisfy pred(x, y[, z]).
template <class F>
std::set<int64_t> where2(F f) {
  std::set<int64_t> s;
  for (int i = 0; i < 9; ++i)
    if (f(i / 3 - 1, i % 3 - 1)) s.insert(i);
  return s;
}
template <class F>
std::set<int64_t> where3(F f) {
  std::set<int64_t> s;
  for (int i = 0; i < 27; ++i)
    if (f(i / 9 - 1, (i / 3) % 3 - 1, i % 3 - 1)) s.insert(i);
  return s;
}
int nz(int a, int b, int c = 0) { return (a != 0) + (b != 0) + (c != 0); }
}  // namespace

TEST(Multipole, TwoDimensionalTablesByHand) {
  // ℓ = 0: centre, the 4 nearest neighbours, the 4 corners.
  EXPECT_EQ(partition(nn::multipole_table(2, 3, 0)),
            (std::set<std::set<int64_t>>{where2([](int x, int y) { return nz(x, y) == 0; }),
                                         where2([](int x, int y) { return nz(x, y) == 1; }),
                                         where2([](int x, int y) { return nz(x, y) == 2; })}));
  // ℓ = 1: r cos φ = x, so the three rows x = -1, 0, 1.
  EXPECT_EQ(partition(nn::multipole_table(2, 3, 1)),
            (std::set<std::set<int64_t>>{where2([](int x, int) { return x == -1; }), where2([](int x, int) { return x == 0; }),
                                         where2([](int x, int) { return x == 1; })}));
  // ℓ = 2: r cos 2φ = (x² - y²)/r: 1 on (±1, 0), -1 on (0, ±1), 0 at the centre and corners.
  EXPECT_EQ(partition(nn::multipole_table(2, 3, 2)),
            (std::set<std::set<int64_t>>{where2([](int x, int y) { return x != 0 && y == 0; }),
                                         where2([](int x, int y) { return x == 0 && y != 0; }),
                                         where2([](int x, int y) { return x * x == y * y; })}));
}

TEST(Multipole, ThreeDimensionalTablesByHand) {
  // ℓ = 0: centre (1), faces (6), edges (12), corners (8): 4 free weights.
  auto t0 = nn::multipole_table(3, 3, 0);
  EXPECT_EQ(t0.groups, 4);
  EXPECT_EQ(partition(t0), (std::set<std::set<int64_t>>{where3([](int x, int y, int z) { return nz(x, y, z) == 0; }),
                                                         where3([](int x, int y, int z) { return nz(x, y, z) == 1; }),
                                                         where3([](int x, int y, int z) { return nz(x, y, z) == 2; }),
                                                         where3([](int x, int y, int z) { return nz(x, y, z) == 3; })}));
  // ℓ = 1, m = 0: r Y_10 ∝ z, three planes; m = 1: ∝ x.
  for (auto [m, axis] : {std::pair{0, 2}, std::pair{1, 0}, std::pair{-1, 1}}) {
    std::set<std::set<int64_t>> want;
    for (int v : {-1, 0, 1})
      want.insert(where3([&](int x, int y, int z) { return std::array{x, y, z}[static_cast<size_t>(axis)] == v; }));
    EXPECT_EQ(partition(nn::multipole_table(3, 3, 1, m)), want) << "m = " << m;
  }
  // ℓ = 2, m = 0: r Y_20 ∝ (2z² - x² - y²)/r: 2 on the z faces, -1 on the x/y faces, 1/√2 on the
  // edges touching z, -√2 on the xy edges, and 0 at the centre and the 8 corners.
  EXPECT_EQ(partition(nn::multipole_table(3, 3, 2, 0)),
            (std::set<std::set<int64_t>>{
                where3([](int x, int y, int z) { return nz(x, y, z) == 0 || nz(x, y, z) == 3; }),
                where3([](int x, int y, int z) { return nz(x, y, z) == 1 && z != 0; }),
                where3([](int x, int y, int z) { return nz(x, y, z) == 1 && z == 0; }),
                where3([](int x, int y, int z) { return nz(x, y, z) == 2 && z != 0; }),
                where3([](int x, int y, int z) { return nz(x, y, z) == 2 && z == 0; })}));
  // ℓ = 2, m = 2: ∝ (x² - y²)/r: 1 on x faces, -1 on y faces, ±1/√2 on xz / yz edges, 0 elsewhere.
  EXPECT_EQ(partition(nn::multipole_table(3, 3, 2, 2)),
            (std::set<std::set<int64_t>>{
                where3([](int x, int y, int) { return x * x == y * y; }),
                where3([](int x, int y, int z) { return x != 0 && y == 0 && z == 0; }),
                where3([](int x, int y, int z) { return x == 0 && y != 0 && z == 0; }),
                where3([](int x, int y, int z) { return x != 0 && y == 0 && z != 0; }),
                where3([](int x, int y, int z) { return x == 0 && y != 0 && z != 0; })}));
  EXPECT_THROW(nn::multipole_table(3, 3, 1, 2), std::invalid_argument);
}

TEST(Multipole, ParameterCounts) {
  nn::Sequential<double> npe;
  npe.emplace<nn::MultipoleConv<double>>(1, 1, 3, 0, 0, nn::ConvOptions{.dims = 3, .padding = Padding::periodic});
  npe.finalize(0);
  EXPECT_EQ(npe.num_parameters(), 4 + 1);  // 4 tied weights + bias
  nn::Sequential<double> wide;
  wide.emplace<nn::MultipoleConv<double>>(2, 3, 5, 0, 0, nn::ConvOptions{.dims = 2, .bias = false});
  wide.finalize(0);
  // 5×5 in 2-d at ℓ = 0: distances² 0, 1, 2, 4, 5, 8 -> 6 free weights per channel pair.
  EXPECT_EQ(wide.num_parameters(), 2 * 3 * 6);
}

TEST(Multipole, LZeroIsEquivariantUnderTheCubeRotations) {
  const int64_t n = 6;
  nn::MultipoleConv<double> layer(1, 1, 3, 0, 0, {.dims = 3, .padding = Padding::periodic});
  layer.finalize(5);
  auto x = rand_t({1, 1, n, n, n}, 9);
  // The 24 proper rotations: signed permutations of the axes with determinant +1, acting on
  // periodic indices about grid point 0 (i -> -i mod n for a flip).
  auto rotate = [&](const Tensor<double>& t, std::array<int, 3> perm, std::array<int, 3> sign) {
    Tensor<double> r(t.shape());
    for (int64_t a = 0; a < n; ++a)
      for (int64_t b = 0; b < n; ++b)
        for (int64_t c = 0; c < n; ++c) {
          const std::array<int64_t, 3> src = {a, b, c};
          std::array<int64_t, 3> dst{};
          for (int d = 0; d < 3; ++d) {
            const int64_t v = src[static_cast<size_t>(perm[static_cast<size_t>(d)])];
            dst[static_cast<size_t>(d)] = sign[static_cast<size_t>(d)] > 0 ? v : (n - v) % n;
          }
          r.at({0, 0, dst[0], dst[1], dst[2]}) = t.at({0, 0, a, b, c});
        }
    return r;
  };
  int rotations = 0;
  core::GradScope<double> s;
  auto y = layer.forward(core::constant(x)).value();
  std::array<int, 3> perm = {0, 1, 2};
  do {
    const int parity = (perm[0] == 0 ? (perm[1] == 1 ? 1 : -1) : perm[0] == 1 ? (perm[1] == 2 ? 1 : -1) : (perm[1] == 0 ? 1 : -1));
    for (int sg = 0; sg < 8; ++sg) {
      std::array<int, 3> sign = {sg & 1 ? -1 : 1, sg & 2 ? -1 : 1, sg & 4 ? -1 : 1};
      if (parity * sign[0] * sign[1] * sign[2] != 1) continue;
      ++rotations;
      auto yr = layer.forward(core::constant(rotate(x, perm, sign))).value();
      EXPECT_LT(core::max_abs_diff(yr, rotate(y, perm, sign)), 1e-12) << "rotation " << rotations;
    }
  } while (std::next_permutation(perm.begin(), perm.end()));
  EXPECT_EQ(rotations, 24);
  // A generic 3×3×3 kernel is not equivariant: the test can fail.
  nn::Conv<double> generic(1, 1, 3, {.dims = 3, .padding = Padding::periodic});
  generic.finalize(5);
  auto g = generic.forward(core::constant(x)).value();
  auto gr = generic.forward(core::constant(rotate(x, {1, 0, 2}, {1, 1, -1}))).value();
  EXPECT_GT(core::max_abs_diff(gr, rotate(g, {1, 0, 2}, {1, 1, -1})), 1e-3);
}

TEST(ConvLayers, Gradients) {
  for (Padding p : {Padding::valid, Padding::same, Padding::periodic}) {
    nn::Sequential<double> net;
    net.emplace<nn::Conv<double>>(2, 3, 3, nn::ConvOptions{.dims = 2, .padding = p});
    net.emplace<nn::Activation<double>>(nn::Act::softplus);
    net.emplace<nn::Pool<double>>(true, 2, 2);
    net.emplace<nn::Flatten<double>>();
    net.finalize(1);
    check_module(net, rand_t({2, 2, 6, 6}, 2));
  }
  for (int dims : {1, 3}) {
    nn::Sequential<double> net;
    net.emplace<nn::Conv<double>>(1, 2, 2, nn::ConvOptions{.dims = dims, .stride = 2, .padding = Padding::same});
    net.emplace<nn::Pool<double>>(false, dims, 2);
    net.finalize(3);
    check_module(net, rand_t(dims == 1 ? Shape{2, 1, 8} : Shape{1, 1, 4, 6, 4}, 4));
  }
  for (auto [dims, ell, m] : {std::tuple{2, 0, 0}, std::tuple{2, 2, 0}, std::tuple{3, 0, 0}, std::tuple{3, 1, -1}, std::tuple{3, 2, 1}}) {
    nn::Sequential<double> net;
    net.emplace<nn::MultipoleConv<double>>(2, 2, 3, ell, m, nn::ConvOptions{.dims = dims, .padding = Padding::periodic});
    net.emplace<nn::Activation<double>>(nn::Act::softplus);
    net.finalize(5);
    check_module(net, rand_t(dims == 2 ? Shape{2, 2, 5, 5} : Shape{1, 2, 4, 4, 4}, 6));
  }
  nn::Sequential<double> r;
  r.emplace<nn::Reshape<double>>(std::vector<int64_t>{1, 4, 4});
  r.emplace<nn::Conv<double>>(1, 1, 3, nn::ConvOptions{});
  r.finalize(0);
  check_module(r, rand_t({3, 16}, 7));
}

TEST(ConvLayers, NeuralPhysicalEngineOnAPeriodicField) {
  // The bias model's front end: multipole ℓ = 0 3×3×3 convolution + bias + softplus on a
  // periodic 3-d density field; output field of the same size, positive.
  nn::Sequential<double> npe;
  npe.emplace<nn::MultipoleConv<double>>(1, 1, 3, 0, 0, nn::ConvOptions{.dims = 3, .padding = Padding::periodic});
  npe.emplace<nn::Activation<double>>(nn::Act::softplus);
  npe.finalize(11);
  auto field = rand_t({1, 1, 8, 8, 8}, 12, -2, 2);
  core::GradScope<double> s;
  auto psi = npe.forward(core::constant(field)).value();
  EXPECT_EQ(psi.shape(), field.shape());
  for (double v : psi.span()) EXPECT_GT(v, 0);
  EXPECT_NE(npe.describe().find("4 free weights"), std::string::npos) << npe.describe();
}
