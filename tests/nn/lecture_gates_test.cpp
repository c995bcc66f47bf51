// The lecture's gates: least squares gives 0.5 for every XOR input, logistic regression
// cannot exceed 0.75 on XOR, and an MLP learns XOR, OR and AND perfectly. And a smooth
// regression: y = x0² + 3 x0 x1 + x1² + 5 from 100 random points, held-out R² >= 0.995.
#include <gtest/gtest.h>

#include "trusty/core.hpp"
#include "trusty/core/rng.hpp"
#include "trusty/nn/baselines.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;

namespace {
const Tensor<double> kX(Shape{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
const std::vector<int64_t> kXor = {0, 1, 1, 0}, kOr = {0, 1, 1, 1}, kAnd = {0, 0, 0, 1};
}  // namespace

TEST(LectureGates, LeastSquaresPredictsOneHalfForXor) {
  std::vector<double> y(kXor.begin(), kXor.end());
  auto m = nn::least_squares(kX, y);
  for (double p : m.predict(kX)) EXPECT_NEAR(p, 0.5, 1e-12);
  // The lecture's OR and AND fits: θ = (0.25, 0.5, 0.5) and (-0.25, 0.5, 0.5).
  std::vector<double> yor(kOr.begin(), kOr.end()), yand(kAnd.begin(), kAnd.end());
  auto mor = nn::least_squares(kX, yor), mand = nn::least_squares(kX, yand);
  EXPECT_NEAR(mor.intercept, 0.25, 1e-12);
  EXPECT_NEAR(mor.coef[0], 0.5, 1e-12);
  EXPECT_NEAR(mand.intercept, -0.25, 1e-12);
  EXPECT_NEAR(mand.coef[1], 0.5, 1e-12);
}

TEST(LectureGates, LogisticRegressionCannotSolveXor) {
  auto m = nn::logistic_regression(kX, kXor);
  EXPECT_LE(m.accuracy(kX, kXor), 0.75);
  // A linear boundary does separate OR and AND without regularisation.
  EXPECT_EQ(nn::logistic_regression(kX, kOr, {.c = 0}).accuracy(kX, kOr), 1.0);
  EXPECT_EQ(nn::logistic_regression(kX, kAnd, {.c = 0}).accuracy(kX, kAnd), 1.0);
}

TEST(LectureGates, MlpLearnsXorOrAnd) {
  for (const auto* labels : {&kXor, &kOr, &kAnd}) {
    io::Dataset<double> d;
    d.x = kX;
    d.labels = *labels;
    d.classes = 2;
    auto net = nn::make_mlp<double>({2, 8, 2}, {.activation = "tanh"});
    net->finalize(3);
    optim::Adam<double> adam({.lr = 0.05});
    optim::Trainer<double> tr(*net, adam, {.epochs = 300, .batch_size = 4, .progress = false});
    tr.fit(d);
    EXPECT_EQ(tr.evaluate(d).accuracy, 1.0);
  }
}

// One tanh hidden layer on the even quadratic target: with zero biases the network starts
// odd and Adam stalls (R² ~0.35); the default initialisation must not fall into that.
TEST(LectureGates, QuadraticWithOneTanhLayerDoesNotStall) {
  core::Rng rng(3);
  io::Dataset<double> d;
  d.x = Tensor<double>(Shape{200, 2});
  d.y = Tensor<double>(Shape{200, 1});
  for (int64_t i = 0; i < 200; ++i) {
    const double a = rng.uniform(-1, 1), b = rng.uniform(-1, 1);
    d.x.at({i, 0}) = a;
    d.x.at({i, 1}) = b;
    d.y.at({i, 0}) = a * a + 3 * a * b + b * b + 5;
  }
  for (uint64_t seed : {0, 1}) {
    auto net = nn::make_mlp<double>({2, 32, 1}, {.activation = "tanh"});
    net->finalize(seed);
    optim::Adam<double> adam({.lr = 0.01});
    optim::Trainer<double> tr(*net, adam, {.epochs = 300, .batch_size = 20, .seed = seed, .progress = false});
    tr.fit(d);
    EXPECT_GT(tr.evaluate(d).r2, 0.99) << "seed " << seed;
  }
}

TEST(LectureGates, QuadraticRegressionHeldOutR2) {
  core::Rng rng(42);
  auto make = [&](int64_t n) {
    io::Dataset<double> d;
    d.x = Tensor<double>(Shape{n, 2});
    d.y = Tensor<double>(Shape{n, 1});
    for (int64_t i = 0; i < n; ++i) {
      const double x0 = rng.uniform(-1, 1), x1 = rng.uniform(-1, 1);
      d.x.at({i, 0}) = x0;
      d.x.at({i, 1}) = x1;
      d.y.at({i, 0}) = x0 * x0 + 3 * x0 * x1 + x1 * x1 + 5;
    }
    return d;
  };
  auto train = make(100), test = make(1000);
  auto net = nn::make_mlp<double>({2, 32, 32, 1}, {.activation = "tanh"});
  net->finalize(1);
  optim::Adam<double> adam({.lr = 0.01});
  optim::Trainer<double> tr(*net, adam, {.epochs = 1500, .batch_size = 100, .progress = false});
  tr.fit(train);
  const double r2 = tr.evaluate(test).r2;
  EXPECT_GE(r2, 0.995) << "held-out R² " << r2;
}
