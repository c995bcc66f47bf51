// Linear algebra: values against Eigen-free identities, gradients on random SPD matrices up to 50x50.
#include <gtest/gtest.h>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;
using trusty::test::random_spd;
using trusty::test::random_tensor;
using V = Var<double>;
using Vs = std::span<const V>;

namespace {
void expect_grad(const std::function<V(Vs)>& f, const std::vector<Tensor<double>>& in, double tol = 1e-6) {
  auto r = check_gradient(f, in, {.eps = 1e-6, .tol = tol});
  EXPECT_TRUE(r.ok) << r.str();
}
}  // namespace

TEST(Linalg, ValuesAreConsistent) {
  GradScope<double> s;
  auto a = random_spd(6, 1);
  auto A = constant(a);
  auto L = cholesky(A);
  auto LLt = matmul(L, transpose(L));
  EXPECT_LT(max_abs_diff(LLt.value(), a), 1e-12);
  for (int64_t i = 0; i < 6; ++i)
    for (int64_t j = i + 1; j < 6; ++j) EXPECT_EQ(L.value().at({i, j}), 0.0);
  auto b = constant(random_tensor({6, 2}, 2));
  auto x = solve_spd(A, b);
  EXPECT_LT(max_abs_diff(matmul(A, x).value(), b.value()), 1e-12);
  auto z = solve_triangular(L, b);  // L z = b
  EXPECT_LT(max_abs_diff(matmul(L, z).value(), b.value()), 1e-12);
  auto zt = solve_triangular(L, b, true, true);  // Lᵀ z = b
  EXPECT_LT(max_abs_diff(matmul(transpose(L), zt).value(), b.value()), 1e-12);
  auto Lt = transpose(L);  // upper
  auto u = solve_triangular(Lt, b, false);
  EXPECT_LT(max_abs_diff(matmul(Lt, u).value(), b.value()), 1e-12);
  auto inv = inverse_spd(A);
  Tensor<double> eye(Shape{6, 6});
  for (int64_t i = 0; i < 6; ++i) eye.at({i, i}) = 1;
  EXPECT_LT(max_abs_diff(matmul(A, inv).value(), eye), 1e-12);
  // log det of diag(1..4) = ln 24
  Tensor<double> d(Shape{4, 4});
  for (int64_t i = 0; i < 4; ++i) d.at({i, i}) = static_cast<double>(i + 1);
  EXPECT_NEAR(logdet_spd(constant(d)).item(), std::log(24.0), 1e-14);
  // 1-D right-hand side
  auto v = solve_spd(A, constant(random_tensor({6}, 3)));
  EXPECT_EQ(v.shape(), (Shape{6}));
}

TEST(Linalg, NotPositiveDefiniteIsReported) {
  GradScope<double> s;
  Tensor<double> a(Shape{2, 2}, {1, 2, 2, 1});  // eigenvalues -1, 3
  try {
    cholesky(constant(a));
    FAIL();
  } catch (const NotPositiveDefinite& e) {
    EXPECT_NE(std::string(e.what()).find("not positive definite"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("-1"), std::string::npos) << e.what();
  }
  EXPECT_THROW(cholesky(constant(random_tensor({2, 3}, 1))), std::invalid_argument);
  EXPECT_THROW(solve_spd(constant(random_spd(3, 1)), constant(random_tensor({4}, 1))), std::invalid_argument);
}

class LinalgGrad : public ::testing::TestWithParam<int> {};

TEST_P(LinalgGrad, AllOpsOnRandomSpd) {
  const int n = GetParam();
  auto a = random_spd(n, 100 + static_cast<uint64_t>(n));
  auto b = random_tensor({n, 2}, 200 + static_cast<uint64_t>(n));
  const double tol = 1e-6;
  expect_grad([](Vs v) { return cholesky(v[0]); }, {a}, tol);
  expect_grad([](Vs v) { return logdet_spd(v[0]); }, {a}, tol);
  expect_grad([](Vs v) { return inverse_spd(v[0]); }, {a}, tol);
  expect_grad([](Vs v) { return solve_spd(v[0], v[1]); }, {a, b}, tol);
  // Triangular solves with a well-conditioned triangular factor.
  Tensor<double> L(Shape{n, n});
  {
    GradScope<double> s;
    L = cholesky(constant(a)).value();
  }
  expect_grad([](Vs v) { return solve_triangular(v[0], v[1]); }, {L, b}, tol);
  expect_grad([](Vs v) { return solve_triangular(v[0], v[1], true, true); }, {L, b}, tol);
  expect_grad([](Vs v) { return solve_triangular(v[0], v[1], false); }, {L.transpose().contiguous(), b}, tol);
  expect_grad([](Vs v) { return solve_triangular(v[0], v[1], false, true); }, {L.transpose().contiguous(), b}, tol);
}

INSTANTIATE_TEST_SUITE_P(Sizes, LinalgGrad, ::testing::Values(1, 2, 5, 12, 50));

TEST(Linalg, GaussianLogDensityComposite) {
  // ln N(x; 0, Σ) = -½ xᵀΣ⁻¹x - ½ ln|Σ| - n/2 ln 2π through cholesky + triangular solve,
  // checked against solve_spd + logdet_spd, with gradients.
  auto sigma = random_spd(7, 5);
  auto x = random_tensor({7}, 6);
  auto via_chol = [](Vs v) {
    auto L = cholesky(v[0]);
    auto z = solve_triangular(L, v[1]);
    auto diag = std::vector<int64_t>{};
    return dot(z, z) * -0.5 - sum(log(reshape(gather(reshape(L, Shape{49}), 0, std::vector<int64_t>{0, 8, 16, 24, 32, 40, 48}), Shape{7})));
  };
  auto via_solve = [](Vs v) { return dot(v[1], solve_spd(v[0], v[1])) * -0.5 - logdet_spd(v[0]) * 0.5; };
  {
    GradScope<double> s;
    std::vector<V> in{constant(sigma), constant(x)};
    EXPECT_NEAR(via_chol(in).item(), via_solve(in).item(), 1e-12);
  }
  expect_grad(via_chol, {sigma, x});
  expect_grad(via_solve, {sigma, x});
}
