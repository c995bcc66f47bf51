#include <gtest/gtest.h>

#include "test_util.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/core/tensor.hpp"

using namespace trusty::core;
using trusty::test::random_tensor;

TEST(Tensor, ConstructAndIndex) {
  Tensor<double> t(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  EXPECT_EQ(t.at({1, 2}), 6);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_THROW(t.at({2, 0}), std::out_of_range);
  EXPECT_THROW(Tensor<double>(Shape{2, 2}, {1.0, 2.0}), std::invalid_argument);
}

TEST(Tensor, ViewsShareStorage) {
  Tensor<float> t(Shape{3, 4}, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11});
  auto tr = t.transpose();
  EXPECT_EQ(tr.shape(), (Shape{4, 3}));
  EXPECT_FALSE(tr.is_contiguous());
  EXPECT_EQ(tr.at({3, 1}), 7);
  tr.at({3, 1}) = 70;
  EXPECT_EQ(t.at({1, 3}), 70);  // same memory
  auto sl = t.slice(1, 1, 4, 2);  // columns 1 and 3
  EXPECT_EQ(sl.shape(), (Shape{3, 2}));
  EXPECT_EQ(sl.to_vector(), (std::vector<float>{1, 3, 5, 70, 9, 11}));
  EXPECT_EQ(sl.at({2, 1}), 11);
  auto r = t.reshape(Shape{2, 6});
  EXPECT_TRUE(r.shares_storage(t));
  auto rt = tr.reshape(Shape{12});  // non-contiguous: a copy in transposed order
  EXPECT_FALSE(rt.shares_storage(t));
  EXPECT_EQ(rt.at({1}), 4);
  EXPECT_THROW(t.reshape(Shape{5}), std::invalid_argument);
  int axes[] = {1, 0};
  EXPECT_EQ(t.permute(axes).at({2, 1}), t.at({1, 2}));
}

TEST(Tensor, Broadcasting) {
  Tensor<double> a(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor<double> b(Shape{3}, {10, 20, 30});
  Tensor<double> c(Shape{2, 1}, {100, 200});
  auto s = a + b;
  EXPECT_EQ(s.to_vector(), (std::vector<double>{11, 22, 33, 14, 25, 36}));
  auto p = a * c;
  EXPECT_EQ(p.to_vector(), (std::vector<double>{100, 200, 300, 800, 1000, 1200}));
  auto q = c - b;  // [2,1] - [3] -> [2,3]
  EXPECT_EQ(q.shape(), (Shape{2, 3}));
  EXPECT_EQ(q.at({1, 2}), 170);
  EXPECT_EQ((a / a).to_vector(), (std::vector<double>(6, 1.0)));
  try {
    a + Tensor<double>(Shape{2});
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[2, 3] and [2]"), std::string::npos) << e.what();
  }
}

TEST(Tensor, MatmulAgreesWithNaive) {
  for (auto [m, k, n] : {std::tuple{3, 4, 5}, std::tuple{70, 80, 90}, std::tuple{1, 300, 2}}) {
    auto a = random_tensor({m, k}, 1), b = random_tensor({k, n}, 2);
    auto c = matmul(a, b);
    Tensor<double> ref(Shape{m, n});
    kernels::gemm_naive(false, false, m, n, k, 1.0, a.data(), k, b.data(), n, 0.0, ref.data(), n);
    EXPECT_LT(max_abs_diff(c, ref), 1e-12) << m << "x" << k << "x" << n;
  }
  // Batched, and a transposed view operand.
  auto a = random_tensor({2, 3, 4}, 3), b = random_tensor({2, 4, 5}, 4);
  auto c = matmul(a, b);
  auto c1 = matmul(a.slice(0, 1, 2).reshape(Shape{3, 4}), b.slice(0, 1, 2).reshape(Shape{4, 5}));
  EXPECT_LT(max_abs_diff(c.slice(0, 1, 2).reshape(Shape{3, 5}), c1), 1e-14);
  auto bt = random_tensor({5, 4}, 5);
  EXPECT_LT(max_abs_diff(matmul(a, bt.transpose()), matmul(a, bt.transpose().contiguous())), 1e-14);
  EXPECT_THROW(matmul(random_tensor({2, 3}, 1), random_tensor({2, 3}, 1)), std::invalid_argument);
}
