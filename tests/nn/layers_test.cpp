// Every layer is gradient-checked (inputs and parameters); batch norm and dropout obey
// train/eval; parameters live in one flat buffer.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "trusty/core.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/nn/losses.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;

#include "module_check.hpp"

using trusty::test::check_module;
using trusty::test::rand_t;

TEST(Layers, DenseGradients) {
  nn::Sequential<double> net;
  net.emplace<nn::Dense<double>>(4, 3, nn::Dense<double>::Options{.bias_init = {nn::Init::normal, 0.1}});
  net.finalize(1);
  EXPECT_EQ(net.num_parameters(), 4 * 3 + 3);
  check_module(net, rand_t({5, 4}, 2));
}

TEST(Layers, EveryActivationGradient) {
  for (const char* a : {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax"}) {
    auto net = nn::make_mlp<double>({3, 4, 2}, {.activation = a, .output_activation = a});
    net->finalize(3);
    check_module(*net, rand_t({6, 3}, 4));
  }
  EXPECT_THROW(nn::parse_activation("swish"), std::invalid_argument);
}

TEST(Layers, SequentialFusesDenseAndActivation) {
  // Sequential runs Dense + tanh/sigmoid/relu as one fused node: the same output and
  // parameter gradients as running each layer on its own, and the layer list is unchanged.
  for (const char* a : {"tanh", "sigmoid", "relu", "elu"}) {
    auto net = nn::make_mlp<double>({3, 20, 20, 2}, {.activation = a, .output_activation = a});
    net->finalize(5);
    ASSERT_EQ(net->size(), 6u);
    const auto x = rand_t({9, 3}, 6);
    auto run = [&](bool fused) {
      net->zero_grad();
      core::GradScope<double> s;
      Var<double> h = core::constant(x);
      if (fused) h = net->forward(h);
      else for (size_t i = 0; i < net->size(); ++i) h = (*net)[i].forward(h);
      auto loss = core::sum(core::square(h));
      s.backward(loss);
      std::vector<double> g(net->gradients().begin(), net->gradients().end());
      return std::make_pair(h.value(), g);
    };
    auto [yf, gf] = run(true);
    auto [yr, gr] = run(false);
    EXPECT_LT(core::max_abs_diff(yf, yr), 1e-14) << a;
    ASSERT_EQ(gf.size(), gr.size());
    for (size_t i = 0; i < gf.size(); ++i) EXPECT_NEAR(gf[i], gr[i], 1e-13) << a << " " << i;
  }
  {  // the fused node is what runs
    auto net = nn::make_mlp<double>({3, 4, 2}, {.activation = "tanh"});
    net->finalize(1);
    core::GradScope<double> s;
    EXPECT_STREQ(net->forward(core::constant(rand_t({2, 3}, 1))).op_name(), "linear");  // output layer: identity
    auto hidden = net->forward(core::constant(rand_t({2, 3}, 1))).node()->in[0];
    EXPECT_STREQ(hidden->name, "linear+tanh");
  }
}

TEST(Layers, BatchNormGradientAndRunningStatistics) {
  auto net = nn::make_mlp<double>({3, 5, 2}, {.activation = "tanh", .batch_norm = true});
  net->finalize(5);
  auto x = rand_t({8, 3}, 6);
  net->train();
  check_module(*net, x);  // training mode: batch statistics
  net->eval();
  check_module(*net, x);  // eval mode: running statistics
}

TEST(Layers, BatchNormEvalIsTheAffineMapOfRunningStatistics) {
  nn::BatchNorm<double> bn(3, 0.1, 1e-5);
  bn.finalize(0);
  auto x = rand_t({16, 3}, 7, -2, 5);
  {
    core::GradScope<double> s;
    bn.train();
    for (int i = 0; i < 30; ++i) bn.forward(core::constant(x));
  }
  // Running mean → batch mean, running var → unbiased batch variance (momentum 0.1, 30 steps).
  auto buf = bn.buffers();
  for (int64_t j = 0; j < 3; ++j) {
    double m = 0, v = 0;
    for (int64_t i = 0; i < 16; ++i) m += x.at({i, j}) / 16;
    for (int64_t i = 0; i < 16; ++i) v += (x.at({i, j}) - m) * (x.at({i, j}) - m) / 15;
    const double k = 1 - std::pow(0.9, 30);
    EXPECT_NEAR(buf[static_cast<size_t>(j)], m * k, 1e-12);
    EXPECT_NEAR(buf[static_cast<size_t>(3 + j)], v * k + std::pow(0.9, 30), 1e-12);
  }
  auto theta = bn.parameters();
  theta[0] = 2.0;   // γ₀
  theta[4] = -1.0;  // β₁
  bn.eval();
  core::GradScope<double> s;
  auto y = bn.forward(core::constant(x)).value();
  for (int64_t i = 0; i < 16; ++i)
    for (int64_t j = 0; j < 3; ++j) {
      const double want = theta[static_cast<size_t>(j)] * (x.at({i, j}) - buf[static_cast<size_t>(j)]) /
                              std::sqrt(buf[static_cast<size_t>(3 + j)] + 1e-5) + theta[static_cast<size_t>(3 + j)];
      EXPECT_NEAR(y.at({i, j}), want, 1e-12);
    }
}

TEST(Layers, DropoutScalesInTrainingAndIsIdentityInEval) {
  nn::Sequential<double> net;
  net.emplace<nn::Dropout<double>>(0.3);
  net.finalize(11);
  Tensor<double> x(Shape{200, 50}, 1.0);
  core::GradScope<double> s;
  auto y = net.forward(core::constant(x)).value();
  int64_t zeros = 0;
  double total = 0;
  for (double v : y.span()) {
    zeros += v == 0;
    total += v;
    if (v != 0) {
      EXPECT_NEAR(v, 1 / 0.7, 1e-12);
    }
  }
  // Binomial(10000, 0.3): sd = 45.8; 5 sd.
  EXPECT_NEAR(static_cast<double>(zeros), 3000, 230);
  EXPECT_NEAR(total / 10000, 1.0, 5 * std::sqrt(0.3 / 0.7 / 10000));
  net.eval();
  auto e = net.forward(core::constant(x)).value();
  EXPECT_EQ(core::max_abs_diff(e, x), 0.0);
  // Gradient through a fixed mask.
  net.train();
  check_module(net, rand_t({4, 5}, 12));
  EXPECT_THROW(nn::Dropout<double>(1.0), std::invalid_argument);
}

TEST(Layers, FlatBufferLayoutAndNames) {
  auto net = nn::make_mlp<float>({784, 128, 64, 10}, {.dropout = 0.2, .batch_norm = true});
  net->finalize(0);
  auto names = net->named_parameters();
  ASSERT_EQ(names.size(), 10u);  // 3 dense (w, b) + 2 batch norm (γ, β)
  EXPECT_EQ(names[0].name, "0.weight");
  EXPECT_EQ(names[0].shape, (Shape{784, 128}));
  EXPECT_EQ(names[1].offset, 784 * 128);
  EXPECT_EQ(names[2].name, "1.weight");  // batch norm γ
  int64_t total = 0;
  for (auto& e : names) {
    EXPECT_EQ(e.offset, total);
    total += e.shape.numel();
  }
  EXPECT_EQ(total, net->num_parameters());
  EXPECT_EQ(net->named_buffers().size(), 4u);
  // Same seed, same weights; He initialisation has the right spread.
  auto again = nn::make_mlp<float>({784, 128, 64, 10}, {.dropout = 0.2, .batch_norm = true});
  again->finalize(0);
  EXPECT_TRUE(std::equal(net->parameters().begin(), net->parameters().end(), again->parameters().begin()));
  double ss = 0;
  for (int64_t i = 0; i < 784 * 128; ++i) ss += static_cast<double>(net->parameters()[static_cast<size_t>(i)]) * net->parameters()[static_cast<size_t>(i)];
  EXPECT_NEAR(ss / (784 * 128), 2.0 / 784, 0.02 * 2.0 / 784);
}

TEST(Layers, ShapeErrorsNameTheLayer) {
  nn::Dense<double> d(4, 3);
  d.finalize(0);
  core::GradScope<double> s;
  try {
    d.forward(core::constant(rand_t({2, 5}, 1)));
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Dense(4 -> 3)"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("[2, 5]"), std::string::npos) << e.what();
  }
}

TEST(Losses, GradientsAndValues) {
  auto p = rand_t({6, 3}, 20), t = rand_t({6, 3}, 21, 0, 1);
  using Vs = std::span<const Var<double>>;
  for (auto f : std::vector<std::function<Var<double>(Vs)>>{
           [](Vs v) { return nn::mse(v[0], v[1]); }, [](Vs v) { return nn::half_sse(v[0], v[1]); },
           [](Vs v) { return nn::bce_with_logits(v[0], v[1]); },
           [](Vs v) { return nn::gaussian_nll(v[0], core::softplus(v[1]) + 0.1, core::constant(Tensor<double>(Shape{6, 3}, 0.3))); },
           [](Vs v) { return nn::l2_penalty(v[0]) + nn::l1_penalty(v[1]); }}) {
    auto r = core::check_gradient(f, {p, t});
    EXPECT_TRUE(r.ok) << r.str();
  }
  std::vector<int64_t> labels = {0, 2, 1, 1, 0, 2};
  auto r = core::check_gradient([&](Vs v) { return nn::cross_entropy(v[0], labels); }, {p});
  EXPECT_TRUE(r.ok) << r.str();
  core::GradScope<double> s;
  // Uniform logits: cross-entropy = ln 3; stable for huge logits.
  EXPECT_NEAR(nn::cross_entropy(core::constant(Tensor<double>(Shape{6, 3}, 0.0)), labels).item(), std::log(3.0), 1e-15);
  Tensor<double> big(Shape{1, 2}, {1000.0, -1000.0});
  EXPECT_NEAR(nn::cross_entropy(core::constant(big), std::vector<int64_t>{1}).item(), 2000.0, 1e-9);
  EXPECT_NEAR(nn::bce_with_logits(core::constant(big), core::constant(Tensor<double>(Shape{1, 2}, {1.0, 0.0}))).item(), 0.0, 1e-12);
  EXPECT_THROW(nn::cross_entropy(core::constant(big), std::vector<int64_t>{2}), std::invalid_argument);
}
