// Module::forward_at: a network evaluated at an external flat θ gives the values and
// gradients of Module::forward on its own buffer, for a perceptron (served by the fused mlp
// node) and a small CNN (layers reading θ through param()), also from two threads at once.
#include <gtest/gtest.h>

#include <thread>

#include "density_check.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/nn/layers.hpp"

namespace trusty::test {
namespace {

using core::Shape;
using core::Tensor;
using core::Var;

struct Eval {
  std::vector<double> out, grad;
};

// sum(c ⊙ net(x)) and its θ-gradient via forward on the module's own buffer.
Eval own_buffer(nn::Module<double>& net, const Tensor<double>& x, const Tensor<double>& c) {
  core::GradScope<double> s;
  net.zero_grad();
  Var<double> out = net.forward(core::constant(x));
  s.backward(core::sum(out * core::constant(c)));
  return {out.value().to_vector(), {net.gradients().begin(), net.gradients().end()}};
}

// The same via forward_at on θ.
Eval at_theta(nn::Module<double>& net, const Tensor<double>& x, const Tensor<double>& c, std::span<const double> theta) {
  Eval e;
  e.grad.assign(theta.size(), 0.0);
  core::value_and_grad<double>(
      [&](Var<double> th) {
        Var<double> out = net.forward_at(core::constant_ref(x), th);
        e.out = out.value().to_vector();
        return core::sum(out * core::constant(c));
      },
      theta, e.grad);
  return e;
}

double max_rel_diff(const std::vector<double>& a, const std::vector<double>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::abs(a[i] - b[i]) / std::max(1.0, std::abs(b[i])));
  return m;
}

TEST(ForwardAt, PerceptronRunsAsOneMlpNodeWithTheModulesValuesAndGradients) {
  auto net = nn::make_mlp<double>({3, 8, 8, 2}, {.activation = "tanh"});
  net->finalize(7);
  EXPECT_EQ(net->mlp_widths(), (std::vector<int64_t>{3, 8, 8, 2}));
  const Tensor<double> x = uniform_tensor(Shape{37, 3}, 1), c = uniform_tensor(Shape{37, 2}, 2);
  const Eval ref = own_buffer(*net, x, c);
  // θ differs from the buffer first: forward_at must not read the buffer.
  std::vector<double> theta(net->parameters().begin(), net->parameters().end());
  std::vector<double> saved = theta;
  std::fill(net->parameters().begin(), net->parameters().end(), 0.0);
  const Eval got = at_theta(*net, x, c, theta);
  // Fused kernel against the per-layer chain: same sums in another order (measured ~1e-16).
  EXPECT_LT(max_rel_diff(got.out, ref.out), 1e-13);
  EXPECT_LT(max_rel_diff(got.grad, ref.grad), 1e-13);
  {  // the node really is the fused one
    core::GradScope<double> s;
    Var<double> th = core::parameter<double>(Shape{static_cast<int64_t>(theta.size())}, theta.data(), nullptr);
    EXPECT_STREQ(net->forward_at(core::constant(x), th).op_name(), "mlp");
  }
  EXPECT_EQ(theta, saved);
}

TEST(ForwardAt, NonPerceptronSequencesTakeTheLayerPath) {
  nn::Sequential<double> a;  // softmax output: not fusable
  a.emplace<nn::Dense<double>>(2, 4).emplace<nn::Activation<double>>(nn::Act::tanh).emplace<nn::Dense<double>>(4, 3)
      .emplace<nn::Activation<double>>(nn::Act::softmax);
  EXPECT_TRUE(a.mlp_widths().empty());
  nn::Sequential<double> b;  // mixed hidden activations
  b.emplace<nn::Dense<double>>(2, 4).emplace<nn::Activation<double>>(nn::Act::tanh).emplace<nn::Dense<double>>(4, 4)
      .emplace<nn::Activation<double>>(nn::Act::relu).emplace<nn::Dense<double>>(4, 1);
  EXPECT_TRUE(b.mlp_widths().empty());
  for (nn::Sequential<double>* net : {&a, &b}) {
    net->finalize(3);
    const Tensor<double> x = uniform_tensor(Shape{9, 2}, 4), c = uniform_tensor(Shape{9, net == &a ? 3 : 1}, 5);
    const Eval ref = own_buffer(*net, x, c);
    std::vector<double> theta(net->parameters().begin(), net->parameters().end());
    const Eval got = at_theta(*net, x, c, theta);
    EXPECT_EQ(got.out, ref.out);
    EXPECT_EQ(got.grad, ref.grad);
  }
}

TEST(ForwardAt, SmallCnnMatchesTheModule) {
  nn::Sequential<double> net;
  net.emplace<nn::Reshape<double>>(std::vector<int64_t>{1, 6, 6})
      .emplace<nn::Conv<double>>(1, 3, 3, nn::ConvOptions{.dims = 2})
      .emplace<nn::Activation<double>>(nn::Act::relu)
      .emplace<nn::Pool<double>>(true, 2, 2)
      .emplace<nn::Flatten<double>>()
      .emplace<nn::Dense<double>>(12, 2);
  net.finalize(11);
  const Tensor<double> x = uniform_tensor(Shape{5, 36}, 6), c = uniform_tensor(Shape{5, 2}, 7);
  const Eval ref = own_buffer(net, x, c);
  std::vector<double> theta(net.parameters().begin(), net.parameters().end());
  std::fill(net.parameters().begin(), net.parameters().end(), 0.0);
  const Eval got = at_theta(net, x, c, theta);
  EXPECT_EQ(got.out, ref.out);
  EXPECT_EQ(got.grad, ref.grad);
}

TEST(ForwardAt, RejectsAThetaOfTheWrongSize) {
  auto net = nn::make_mlp<double>({2, 3, 1});
  net->finalize(1);
  core::GradScope<double> s;
  std::vector<double> theta(5, 0.0);
  Var<double> th = core::parameter<double>(Shape{5}, theta.data(), nullptr);
  try {
    net->forward_at(core::constant(uniform_tensor(Shape{4, 2}, 1)), th);
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("expected [13]"), std::string::npos) << e.what();
  }
}

TEST(ForwardAt, TwoThreadsAtDifferentThetasGetTheirOwnAnswers) {
  auto net = nn::make_mlp<double>({1, 20, 20, 1}, {.activation = "tanh"});
  net->finalize(5);
  const Tensor<double> x = uniform_tensor(Shape{100, 1}, 8), c = uniform_tensor(Shape{100, 1}, 9);
  std::vector<std::vector<double>> thetas(2);
  std::vector<Eval> ref;
  for (uint64_t k = 0; k < 2; ++k) {
    thetas[k] = uniform_tensor(Shape{net->num_parameters()}, 20 + k).to_vector();
    ref.push_back(at_theta(*net, x, c, thetas[k]));
  }
  ASSERT_NE(ref[0].out, ref[1].out);
  int mismatches[2] = {0, 0};
  auto work = [&](int k) {
    for (int rep = 0; rep < 2000; ++rep) {
      const Eval e = at_theta(*net, x, c, thetas[static_cast<size_t>(k)]);
      if (e.out != ref[static_cast<size_t>(k)].out || e.grad != ref[static_cast<size_t>(k)].grad) ++mismatches[k];
    }
  };
  std::thread t0(work, 0), t1(work, 1);
  t0.join();
  t1.join();
  EXPECT_EQ(mismatches[0], 0);
  EXPECT_EQ(mismatches[1], 0);
}

}  // namespace
}  // namespace trusty::test
