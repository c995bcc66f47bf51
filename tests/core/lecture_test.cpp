// The lecture's worked examples (seed 000), reproduced by the autodiff.
#include <gtest/gtest.h>

#include <cmath>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;
using V = Var<double>;

namespace {
double grad1(const std::function<V(V)>& f, double x) {
  std::vector<double> th = {x}, g(1);
  value_and_grad<double>(f, th, g);
  return g[0];
}
}  // namespace

TEST(Lecture, ExpOfSquare) {
  // f(x) = exp(x²)  ->  2x exp(x²)
  for (double x : {-1.3, 0.0, 0.4, 1.7}) {
    double g = grad1([](V t) { return sum(exp(square(t))); }, x);
    EXPECT_NEAR(g, 2 * x * std::exp(x * x), 1e-12 * std::max(1.0, std::abs(g)));
  }
}

TEST(Lecture, SqrtOfSumWithExp) {
  // f(x) = sqrt(x² + exp(x²))  ->  x(1 + exp(x²)) / sqrt(x² + exp(x²))
  for (double x : {-2.0, -0.5, 0.3, 1.1}) {
    double g = grad1([](V t) { auto s = square(t); return sum(sqrt(s + exp(s))); }, x);
    const double e = std::exp(x * x);
    EXPECT_NEAR(g, x * (1 + e) / std::sqrt(x * x + e), 1e-12);
  }
}

// Three-layer sigmoid network, C = ½ Σ (a^L - y)², back-propagated by hand with the lecture's
// equations δ^L = σ'(z^L) ∘ ∂C/∂a^L, δ^l = (W^{l+1})ᵀ δ^{l+1} ∘ σ'(z^l), ∂C/∂W^l = δ^l (a^{l-1})ᵀ.
TEST(Lecture, HandBackpropAgreesWithAutodiff) {
  const std::vector<int64_t> width = {4, 6, 5, 3};  // input, two hidden, output: 3 weight layers
  const int64_t batch = 7;
  auto x = trusty::test::random_tensor({batch, width[0]}, 1);
  auto y = trusty::test::random_tensor({batch, width[3]}, 2, 0, 1);
  std::vector<Tensor<double>> W, b;
  for (int l = 0; l < 3; ++l) {
    W.push_back(trusty::test::random_tensor({width[l], width[l + 1]}, 10 + static_cast<uint64_t>(l)));
    b.push_back(trusty::test::random_tensor({width[l + 1]}, 20 + static_cast<uint64_t>(l)));
  }
  auto sigma = [](double z) { return 1 / (1 + std::exp(-z)); };
  // Forward, keeping z and a per layer (rows are samples: z = a W + b).
  std::vector<Tensor<double>> a = {x}, z;
  for (int l = 0; l < 3; ++l) {
    Tensor<double> zl = matmul(a.back(), W[static_cast<size_t>(l)]) + b[static_cast<size_t>(l)];
    Tensor<double> al = zl.clone();
    for (auto& v : al.span()) v = sigma(v);
    z.push_back(zl);
    a.push_back(al);
  }
  // Backward by hand.
  std::vector<Tensor<double>> dW(3), db(3);
  Tensor<double> delta = a[3] - y;  // ∂C/∂a^L
  for (int l = 2; l >= 0; --l) {
    auto L = static_cast<size_t>(l);
    for (int64_t i = 0; i < delta.numel(); ++i) {
      double s = a[L + 1].span()[static_cast<size_t>(i)];
      delta.span()[static_cast<size_t>(i)] *= s * (1 - s);  // ∘ σ'(z^l)
    }
    dW[L] = matmul(a[L].transpose(), delta);
    db[L] = Tensor<double>(Shape{width[L + 1]});
    for (int64_t r = 0; r < batch; ++r)
      for (int64_t c = 0; c < width[L + 1]; ++c) db[L].at({c}) += delta.at({r, c});
    if (l > 0) delta = matmul(delta, W[L].transpose());  // (W^{l+1})ᵀ δ^{l+1}
  }
  // The same network through the autodiff.
  std::vector<Tensor<double>> inputs = {W[0], b[0], W[1], b[1], W[2], b[2]};
  std::vector<Tensor<double>> grads(6);
  value_and_grad<double>(
      [&](std::span<const V> p) {
        V act = constant(x);
        for (size_t l = 0; l < 3; ++l) act = sigmoid(matmul(act, p[2 * l]) + p[2 * l + 1]);
        return sum(square(act - constant(y))) * 0.5;
      },
      inputs, grads);
  for (size_t l = 0; l < 3; ++l) {
    EXPECT_LT(max_abs_diff(grads[2 * l], dW[l]), 1e-12) << "layer " << l;
    EXPECT_LT(max_abs_diff(grads[2 * l + 1], db[l]), 1e-12) << "layer " << l;
  }
}

// x = 4, y = 2x + 1, one sigmoid hidden neuron, linear output, w1 = 1.76405235,
// w2 = 0.40015721 (np.random.seed(0) randn), b1 = b2 = 0.01, η = 0.1, 50 plain GD steps:
// the lecture prints the loss ½(a₂ - y)² before each step.
TEST(Lecture, SingleInputNetworkLossSequence) {
  const double printed[] = {36.89563074, 23.62323175, 15.1251681,  9.68402334,  6.20020163,  3.96963458,
                            2.54150298,  1.62714703,  1.0417409,   0.66694492,  0.42699034,  0.27336592,
                            0.17501258,  0.11204514,  0.07173249,  0.04592382,  0.02940083,  0.01882264,
                            0.01205039,  0.00771475,  0.00493903,  0.003162,    0.00202433,  0.00129599,
                            0.0008297,   0.00053118,  0.00034006,  0.00021771,  0.00013938,  8.92313548e-05,
                            5.71263851e-05, 3.6572612e-05, 2.34139775e-05, 1.49897504e-05, 9.5965161e-06,
                            6.14373934e-06, 3.93325371e-06, 2.51808934e-06, 1.61209378e-06, 1.03207075e-06,
                            6.60737006e-07, 4.23007231e-07, 2.70811405e-07, 1.73374853e-07, 1.10995472e-07,
                            7.10598715e-08, 4.54928947e-08, 2.91247848e-08, 1.86458368e-08, 1.19371605e-08};
  // np.random.seed(0); randn() twice, at full precision (the lecture prints them rounded).
  std::vector<double> theta = {1.764052345967664, 0.01, 0.4001572083672233, 0.01}, grad(4);  // w1, b1, w2, b2
  const double x = 4.0, y = 2 * x + 1;
  for (int step = 0; step < 50; ++step) {
    double loss = value_and_grad<double>(
        [&](V th) {
          auto w1 = slice(th, 0, 0, 1), b1 = slice(th, 0, 1, 2), w2 = slice(th, 0, 2, 3), b2 = slice(th, 0, 3, 4);
          auto a1 = sigmoid(w1 * x + b1);
          auto a2 = w2 * a1 + b2;
          return sum(square(a2 - y)) * 0.5;
        },
        theta, grad);
    // 6 significant digits, or half a unit in the 8th decimal where numpy printed fewer digits
    // (its fixed notation, 0.00053118, used down to 1e-4; below that it prints 9 digits).
    const double tol = printed[step] >= 1e-4 ? std::max(5e-7 * printed[step], 5e-9) : 5e-7 * printed[step];
    EXPECT_NEAR(loss, printed[step], tol) << "step " << step;
    for (size_t i = 0; i < 4; ++i) theta[i] -= 0.1 * grad[i];
  }
}
