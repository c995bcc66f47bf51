// Convolution and pooling: the im2col/GEMM path against the direct loop, and gradient
// checks for every padding mode in 1, 2 and 3 dimensions.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "test_util.hpp"
#include "trusty/core.hpp"
#include "trusty/core/conv.hpp"
#include "trusty/core/kernels/parallel.hpp"

using namespace trusty::core;
using trusty::test::random_tensor;
using V = Var<double>;
using Vs = std::span<const V>;

namespace {
struct Case {
  int dims;
  std::vector<int64_t> n;  // spatial input
  int64_t k, stride, dilation;
};
const std::vector<Case> kCases = {
    {1, {9}, 3, 1, 1},       {1, {10}, 4, 2, 1},    {1, {11}, 3, 1, 2},  {2, {6, 7}, 3, 1, 1},
    {2, {7, 6}, 2, 2, 1},    {2, {8, 8}, 3, 2, 2},  {3, {5, 4, 6}, 3, 1, 1}, {3, {6, 6, 5}, 2, 2, 1},
};
ConvSpec spec(const Case& c, Padding p) {
  ConvSpec s;
  s.dims = c.dims;
  s.stride = {c.stride, c.stride, c.stride};
  s.dilation = {c.dilation, c.dilation, c.dilation};
  s.padding = p;
  return s;
}
Shape shape(int64_t a, int64_t b, const std::vector<int64_t>& rest) {
  std::vector<int64_t> d = {a, b};
  d.insert(d.end(), rest.begin(), rest.end());
  return Shape(std::span<const int64_t>(d));
}
}  // namespace

TEST(Conv, GemmAgreesWithDirectLoop) {
  uint64_t seed = 1;
  for (const auto& c : kCases)
    for (Padding p : {Padding::valid, Padding::same, Padding::periodic}) {
      auto x = random_tensor(shape(2, 3, c.n), seed++);
      auto w = random_tensor(shape(4, 3, std::vector<int64_t>(static_cast<size_t>(c.dims), c.k)), seed++);
      GradScope<double> s;
      auto fast = conv(constant(x), constant(w), spec(c, p)).value();
      auto ref = conv_naive(x, w, spec(c, p));
      ASSERT_EQ(fast.shape(), ref.shape());
      EXPECT_LT(max_abs_diff(fast, ref), 1e-12) << c.dims << "-d k" << c.k << " padding " << static_cast<int>(p);
    }
}

TEST(Conv, OutputSizes) {
  EXPECT_EQ(conv_out_size(28, 3, 1, 1, Padding::valid), 26);
  EXPECT_EQ(conv_out_size(28, 3, 1, 1, Padding::same), 28);
  EXPECT_EQ(conv_out_size(28, 3, 2, 1, Padding::same), 14);
  EXPECT_EQ(conv_out_size(10, 3, 1, 2, Padding::valid), 6);
  EXPECT_EQ(conv_out_size(64, 3, 1, 1, Padding::periodic), 64);
}

TEST(Conv, PeriodicWrapsAround) {
  // A 1-d kernel (1, 0, 0) picks the left neighbour: with periodic padding x[-1] = x[n-1].
  Tensor<double> x(Shape{1, 1, 4}, {1, 2, 3, 4});
  Tensor<double> w(Shape{1, 1, 3}, {1, 0, 0});
  GradScope<double> s;
  ConvSpec sp{.dims = 1, .padding = Padding::periodic};
  EXPECT_EQ(conv(constant(x), constant(w), sp).value().to_vector(), (std::vector<double>{4, 1, 2, 3}));
  sp.padding = Padding::same;
  EXPECT_EQ(conv(constant(x), constant(w), sp).value().to_vector(), (std::vector<double>{0, 1, 2, 3}));
}

TEST(Conv, GradientsEveryPaddingMode) {
  uint64_t seed = 100;
  for (const auto& c : kCases)
    for (Padding p : {Padding::valid, Padding::same, Padding::periodic}) {
      auto x = random_tensor(shape(2, 2, c.n), seed++);
      auto w = random_tensor(shape(3, 2, std::vector<int64_t>(static_cast<size_t>(c.dims), c.k)), seed++);
      auto b = random_tensor({3}, seed++);
      const ConvSpec sp = spec(c, p);
      auto r = check_gradient([&](Vs v) { return conv(v[0], v[1], v[2], sp); }, {x, w, b});
      EXPECT_TRUE(r.ok) << c.dims << "-d k" << c.k << " s" << c.stride << " d" << c.dilation << " padding "
                        << static_cast<int>(p) << ": " << r.str();
    }
}

TEST(Conv, FusedReluGradients) {
  uint64_t seed = 500;
  for (ConvPath path : {ConvPath::direct, ConvPath::im2col, ConvPath::shifted}) {
    conv_path() = path;
    auto x = random_tensor({2, 3, 6, 5}, seed++);
    auto w = random_tensor({4, 3, 3, 3}, seed++);
    auto b = random_tensor({4}, seed++);
    const ConvSpec sp{.dims = 2, .padding = Padding::same, .relu = true};
    auto r = check_gradient([&](Vs v) { return conv(v[0], v[1], v[2], sp); }, {x, w, b});
    EXPECT_TRUE(r.ok) << static_cast<int>(path) << ": " << r.str();
  }
  conv_path() = ConvPath::automatic;
}

TEST(Conv, ShapeErrors) {
  GradScope<double> s;
  auto x = constant(random_tensor({1, 3, 5, 5}, 1));
  EXPECT_THROW(conv(x, constant(random_tensor({2, 4, 3, 3}, 2)), ConvSpec{.dims = 2}), std::invalid_argument);
  EXPECT_THROW(conv(x, constant(random_tensor({2, 3, 7, 7}, 2)), ConvSpec{.dims = 2}), std::invalid_argument);
  EXPECT_THROW(conv(x, constant(random_tensor({2, 3, 3}, 2)), ConvSpec{.dims = 2}), std::invalid_argument);
  EXPECT_THROW(parse_padding("reflect"), std::invalid_argument);
}

TEST(Pool, ValuesAndGradients) {
  Tensor<double> x(Shape{1, 1, 4, 4}, {1, 2, 5, 6, 3, 4, 7, 8, 9, 10, 13, 14, 11, 12, 15, 16});
  {
    GradScope<double> s;
    EXPECT_EQ(max_pool(constant(x), 2, 2).value().to_vector(), (std::vector<double>{4, 8, 12, 16}));
    EXPECT_EQ(avg_pool(constant(x), 2, 2).value().to_vector(), (std::vector<double>{2.5, 6.5, 10.5, 14.5}));
  }
  // Distinct values keep max pooling's argmax away from ties under the finite differences.
  auto y = random_tensor({2, 3, 6, 5}, 7);
  for (int dims : {1, 2}) {
    auto r1 = check_gradient([&](Vs v) { return max_pool(v[0], dims, 2); }, {y});
    EXPECT_TRUE(r1.ok) << r1.str();
    auto r2 = check_gradient([&](Vs v) { return avg_pool(v[0], dims, 3, 1); }, {y});
    EXPECT_TRUE(r2.ok) << r2.str();
  }
  auto z = random_tensor({1, 2, 4, 5, 6}, 8);
  auto r3 = check_gradient([&](Vs v) { return max_pool(v[0], 3, 2); }, {z});
  EXPECT_TRUE(r3.ok) << r3.str();
  auto r4 = check_gradient([&](Vs v) { return avg_pool(v[0], 3, 2); }, {z});
  EXPECT_TRUE(r4.ok) << r4.str();
  GradScope<double> s;
  EXPECT_THROW(max_pool(constant(y), 2, 7), std::invalid_argument);
}

TEST(Pool, FastPathAgreesWithGenericLoop) {
  auto x = random_tensor({3, 4, 9, 10}, 21);
  for (int64_t w : {2, 3}) {
    Tensor<double> fast, ref;
    std::vector<double> gf, gr;
    for (bool reference : {false, true}) {
      max_pool_reference() = reference;
      GradScope<double> s;
      auto v = variable(x);
      auto y = max_pool(v, 2, w);
      s.backward(sum(y * y));
      (reference ? ref : fast) = y.value();
      (reference ? gr : gf) = std::vector<double>(v.grad().begin(), v.grad().end());
    }
    max_pool_reference() = false;
    EXPECT_EQ(max_abs_diff(fast, ref), 0.0);
    EXPECT_EQ(gf, gr);
  }
}

// Values, input and kernel gradients of one convolution through a given path.
struct PathResult {
  std::vector<double> y, gx, gw, gb;
};
// y = op(x, w, b) on the given path, and the gradients of Σy².
template <class Op>
PathResult run_on(ConvPath path, const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& b, Op&& op) {
  conv_path() = path;
  GradScope<double> s;
  auto xv = variable(x), wv = variable(w), bv = variable(b);
  auto y = op(xv, wv, bv);
  s.backward(sum(y * y));
  conv_path() = ConvPath::automatic;
  return {y.value().to_vector(), std::vector<double>(xv.grad().begin(), xv.grad().end()),
          std::vector<double>(wv.grad().begin(), wv.grad().end()), std::vector<double>(bv.grad().begin(), bv.grad().end())};
}
PathResult run_path(ConvPath path, const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& b, const ConvSpec& sp) {
  return run_on(path, x, w, b, [&](const V& xv, const V& wv, const V& bv) { return conv(xv, wv, bv, sp); });
}
// The fused spec as separate ops on the direct path: conv, then relu, then max_pool (the
// reference for fusion).
PathResult composed(const Tensor<double>& x, const Tensor<double>& w, const Tensor<double>& b, const ConvSpec& fused) {
  ConvSpec plain = fused;
  plain.pool = 0;
  plain.relu = false;
  return run_on(ConvPath::direct, x, w, b, [&](const V& xv, const V& wv, const V& bv) {
    auto y = conv(xv, wv, bv, plain);
    if (fused.relu) y = relu(y);
    return fused.pool > 0 ? max_pool(y, fused.dims, fused.pool) : y;
  });
}
void expect_same(const PathResult& a, const PathResult& r, const std::string& what) {
  ASSERT_EQ(a.y.size(), r.y.size()) << what;
  for (size_t i = 0; i < a.y.size(); ++i) ASSERT_NEAR(a.y[i], r.y[i], 1e-12) << what << " value " << i;
  for (size_t i = 0; i < a.gx.size(); ++i) ASSERT_NEAR(a.gx[i], r.gx[i], 1e-11) << what << " d/dx " << i;
  for (size_t i = 0; i < a.gw.size(); ++i) ASSERT_NEAR(a.gw[i], r.gw[i], 1e-10) << what << " d/dw " << i;
  for (size_t i = 0; i < a.gb.size(); ++i) ASSERT_NEAR(a.gb[i], r.gb[i], 1e-10) << what << " d/db " << i;
}

TEST(Conv, EveryPathAgrees) {
  // Direct loops, im2col and the shifted grid: same values and gradients for every case
  // (the shifted grid falls back to im2col on strided cases), with one and several channels.
  // Also with the fused ReLU, checked against the direct loops followed by a separate relu.
  uint64_t seed = 300;
  for (bool fused : {false, true})
    for (int64_t cin : {1, 3})
      for (const auto& c : kCases)
        for (Padding p : {Padding::valid, Padding::same, Padding::periodic}) {
          auto x = random_tensor(shape(2, cin, c.n), seed++);
          auto w = random_tensor(shape(2, cin, std::vector<int64_t>(static_cast<size_t>(c.dims), c.k)), seed++);
          auto b = random_tensor({2}, seed++);
          ConvSpec sp = spec(c, p);
          sp.relu = fused;
          const PathResult ref = composed(x, w, b, sp);
          const std::string what = std::to_string(c.dims) + "-d k" + std::to_string(c.k) + " s" + std::to_string(c.stride) + " d" +
                                   std::to_string(c.dilation) + " padding " + std::to_string(static_cast<int>(p)) + " cin " +
                                   std::to_string(cin) + (fused ? " relu" : "");
          expect_same(run_path(ConvPath::direct, x, w, b, sp), ref, what + " direct");
          expect_same(run_path(ConvPath::im2col, x, w, b, sp), ref, what + " im2col");
          expect_same(run_path(ConvPath::shifted, x, w, b, sp), ref, what + " shifted");
        }
}

TEST(Conv, ShiftedGridSplitsAcrossThreadsAndChunks) {
  // Large enough to be chunked and split over two threads (samples 0-2 and 3-6): the same
  // values and gradients as the direct loops on one thread.
  using trusty::core::kernels::parallel_threads;
  using trusty::core::kernels::set_parallel_threads;
  const int before = parallel_threads();
  for (Padding p : {Padding::valid, Padding::same, Padding::periodic})
    for (int dims : {2, 3}) {
      std::vector<int64_t> n(static_cast<size_t>(dims), dims == 2 ? 23 : 9);
      auto x = random_tensor(shape(7, 16, n), 40 + dims);
      auto w = random_tensor(shape(24, 16, std::vector<int64_t>(static_cast<size_t>(dims), 3)), 50 + dims);
      auto b = random_tensor({24}, 60);
      ConvSpec sp{.dims = dims, .padding = p, .relu = dims == 2};
      set_parallel_threads(1);
      const auto ref = run_path(ConvPath::direct, x, w, b, sp);
      set_parallel_threads(2);
      expect_same(run_path(ConvPath::shifted, x, w, b, sp), ref, std::to_string(dims) + "-d padding " + std::to_string(static_cast<int>(p)));
    }
  set_parallel_threads(before);
}

TEST(Conv, FusedMaxPoolEqualsSeparateOps) {
  // Odd output sizes (a partial window dropped), windows 2 and 3, with and without the
  // ReLU, every padding, 1-, 2- and 3-d (3-d runs the two ops), on one and two threads.
  using trusty::core::kernels::parallel_threads;
  using trusty::core::kernels::set_parallel_threads;
  const int before = parallel_threads();
  uint64_t seed = 700;
  for (int threads : {1, 2})
    for (int dims : {1, 2, 3})
      for (int64_t pool : {2, 3})
        for (bool fused_relu : {false, true})
          for (Padding p : {Padding::valid, Padding::same, Padding::periodic}) {
            set_parallel_threads(threads);
            const int64_t side = dims == 3 ? 7 : (threads == 2 ? 21 : 11);
            auto x = random_tensor(shape(threads == 2 ? 6 : 2, 5, std::vector<int64_t>(static_cast<size_t>(dims), side)), seed++);
            auto w = random_tensor(shape(threads == 2 ? 16 : 3, 5, std::vector<int64_t>(static_cast<size_t>(dims), 3)), seed++);
            auto b = random_tensor({threads == 2 ? 16 : 3}, seed++);
            ConvSpec sp{.dims = dims, .padding = p, .relu = fused_relu, .pool = pool};
            const std::string what = std::to_string(dims) + "-d pool " + std::to_string(pool) + (fused_relu ? " relu" : "") + " padding " +
                                     std::to_string(static_cast<int>(p)) + " threads " + std::to_string(threads);
            expect_same(run_path(ConvPath::automatic, x, w, b, sp), composed(x, w, b, sp), what);
          }
  set_parallel_threads(before);
  GradScope<double> s;
  ConvSpec too_big{.dims = 2, .pool = 4};
  EXPECT_THROW(conv(constant(random_tensor({1, 1, 5, 5}, 1)), constant(random_tensor({2, 1, 3, 3}, 2)), too_big), std::invalid_argument);
}

TEST(Conv, FusedMaxPoolGradients) {
  auto x = random_tensor({2, 3, 8, 7}, 801);
  auto w = random_tensor({4, 3, 3, 3}, 802);
  auto b = random_tensor({4}, 803);
  const ConvSpec sp{.dims = 2, .padding = Padding::same, .relu = true, .pool = 2};
  auto r = check_gradient([&](Vs v) { return conv(v[0], v[1], v[2], sp); }, {x, w, b});
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(Conv, FusedPoolVectorKernelAgreesWithScalarLoop) {
  // float, 2×2 windows: the AVX-512 kernel (where built) against the scalar loop, with ties,
  // negative values under the ReLU, a NaN, and output rows of 13 (a partial vector) and 40.
  for (int64_t side : {28, 82})
    for (bool fused_relu : {false, true}) {
      Tensor<float> x(shape(3, 2, {side, side})), w(Shape{5, 2, 3, 3}), b(Shape{5});
      trusty::core::Rng rng(static_cast<uint64_t>(side) + fused_relu);
      // Small integers everywhere: the convolution's outputs are exact and tie often.
      for (auto& v : x.span()) v = static_cast<float>(rng.below(3));
      for (auto& v : w.span()) v = static_cast<float>(rng.below(3)) - 1;
      for (auto& v : b.span()) v = static_cast<float>(rng.below(3)) - 1;
      x.span()[100] = std::numeric_limits<float>::quiet_NaN();
      const ConvSpec sp{.dims = 2, .relu = fused_relu, .pool = 2};
      std::vector<float> y[2], gx[2], gw[2];
      for (int ref = 0; ref < 2; ++ref) {
        fused_pool_reference() = ref == 1;
        GradScope<float> s;
        auto xv = variable(x), wv = variable(w);
        auto out = conv(xv, wv, variable(b), sp);
        s.backward(sum(out));
        y[ref] = out.value().to_vector();
        gx[ref].assign(xv.grad().begin(), xv.grad().end());
        gw[ref].assign(wv.grad().begin(), wv.grad().end());
      }
      fused_pool_reference() = false;
      ASSERT_EQ(y[0].size(), y[1].size());
      for (size_t i = 0; i < y[0].size(); ++i)
        ASSERT_TRUE(y[0][i] == y[1][i] || (std::isnan(y[0][i]) && std::isnan(y[1][i]))) << i << ": " << y[0][i] << " vs " << y[1][i];
      for (size_t i = 0; i < gx[0].size(); ++i)
        ASSERT_TRUE(gx[0][i] == gx[1][i] || (std::isnan(gx[0][i]) && std::isnan(gx[1][i]))) << "d/dx " << i;
      for (size_t i = 0; i < gw[0].size(); ++i)
        ASSERT_TRUE(gw[0][i] == gw[1][i] || (std::isnan(gw[0][i]) && std::isnan(gw[1][i]))) << "d/dw " << i;
    }
}
