// Derivative mode 2: the network's input Jacobian carried as tape ops. Its outputs agree with
// the network and with finite differences along the tangents, and the IMNN loss built from
// it passes the gradient checker with respect to the weights.
#include <gtest/gtest.h>

#include "trusty/core/grad_check.hpp"
#include "trusty/imnn/fisher.hpp"
#include "trusty/imnn/simulation_set.hpp"
#include "trusty/imnn/tangent_forward.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/sim/gaussian.hpp"
#include "trusty/sim/gaussian_field.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;

namespace {
Tensor<double> random(Shape s, uint64_t seed, double scale = 1) {
  core::Rng r(seed);
  Tensor<double> t(s);
  for (auto& v : t.span()) v = scale * r.normal();
  return t;
}

// A small CNN on n×n images given flat: conv + ELU, max pooling, conv with fused ReLU and
// max pooling, average pooling, flatten, dense: every op with a new tangent rule.
std::unique_ptr<nn::Sequential<double>> small_cnn(int64_t n, uint64_t seed) {
  auto net = std::make_unique<nn::Sequential<double>>();
  net->emplace<nn::Reshape<double>>(std::vector<int64_t>{1, n, n});
  net->emplace<nn::Conv<double>>(1, 3, 3, nn::ConvOptions{.padding = core::Padding::periodic});
  net->emplace<nn::Activation<double>>(nn::Act::elu);
  net->emplace<nn::Pool<double>>(true, 2, 2);
  net->emplace<nn::Conv<double>>(3, 2, 3, nn::ConvOptions{.padding = core::Padding::same, .relu = true, .pool = 2});
  net->emplace<nn::Pool<double>>(false, 2, n / 4);
  net->emplace<nn::Flatten<double>>();
  net->emplace<nn::Dense<double>>(2, 2);
  net->finalize(seed);
  return net;
}

std::vector<int64_t> owners(int64_t nd, int64_t p) {
  std::vector<int64_t> o;
  for (int64_t i = 0; i < nd; ++i)
    for (int64_t a = 0; a < p; ++a) o.push_back(i);
  return o;
}

// The IMNN loss (two summaries) of `net` at weights w from data [n_s, D] and tangent rows
// dd [n_d·p, D] owned by owners(n_d, p), through the layer-by-layer path or the jvp path.
Var<double> tangent_loss(nn::Sequential<double>& net, const Var<double>& w, const Tensor<double>& data, const Tensor<double>& dd,
                         int64_t nd, int64_t p, bool jvp = false) {
  const auto owner = owners(nd, p);
  auto o = jvp ? imnn::forward_with_tangents_jvp(net, w, core::constant(data), core::constant(dd), owner)
               : imnn::forward_with_tangents(net, w, core::constant(data), core::constant(dd), owner);
  auto dx = core::reshape(o.dx, Shape{nd, p, 2});  // [n_d, n_params, n_summaries]
  return imnn::fisher_statistics(o.x, imnn::mean_derivative(core::permute(dx, std::vector<int>{0, 2, 1})), {}).loss;
}

// The message forward_with_tangents refuses `net` with ("" when it does not).
std::string tangent_refusal(nn::Sequential<double>& net) {
  core::GradScope<double> scope;
  const std::vector<int64_t> owner{0};
  try {
    imnn::forward_with_tangents(net, imnn::parameters_leaf(net), core::constant(random({2, 4}, 1)), core::constant(random({1, 4}, 2)), owner);
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}
}  // namespace

class TangentForward : public ::testing::TestWithParam<const char*> {};

TEST_P(TangentForward, MatchesTheNetworkAndFiniteDifferences) {
  auto net = nn::make_mlp<double>({4, 7, 5, 3}, {.activation = GetParam()});
  net->finalize(2);
  const auto d = random({6, 4}, 3), t = random({4, 4}, 4);
  const std::vector<int64_t> owner{0, 0, 3, 5};
  core::GradScope<double> scope;
  auto out = imnn::forward_with_tangents(*net, imnn::parameters_leaf(*net), core::constant(d), core::constant(t), owner);
  auto ref = net->forward(core::constant(d));
  for (int64_t i = 0; i < ref.numel(); ++i) EXPECT_NEAR(out.x.data()[i], ref.data()[i], 1e-13);
  const double h = 1e-6;
  for (size_t r = 0; r < owner.size(); ++r) {
    Tensor<double> plus(Shape{1, 4}), minus(Shape{1, 4});
    for (int64_t j = 0; j < 4; ++j) {
      plus.data()[j] = d.at({owner[r], j}) + h * t.at({static_cast<int64_t>(r), j});
      minus.data()[j] = d.at({owner[r], j}) - h * t.at({static_cast<int64_t>(r), j});
    }
    auto fp = net->forward(core::constant(plus)), fm = net->forward(core::constant(minus));
    for (int64_t k = 0; k < 3; ++k)
      EXPECT_NEAR(out.dx.data()[static_cast<int64_t>(r) * 3 + k], (fp.data()[k] - fm.data()[k]) / (2 * h), 1e-7) << "row " << r;
  }
}

// relu and leaky_relu are checked away from their kinks (random data hits none at this size).
INSTANTIATE_TEST_SUITE_P(Activations, TangentForward, ::testing::Values("tanh", "elu", "sigmoid", "softplus", "relu", "leaky_relu"));

TEST(TangentForward, LossGradientWithRespectToWeightsPassesTheChecker) {
  for (const char* act : {"tanh", "elu"}) {
    auto net = nn::make_mlp<double>({10, 6, 2}, {.activation = act});
    net->finalize(7);
    const int64_t ns = 40, nd = 20, p = 2;
    const auto data = random({ns, 10}, 8), dd = random({nd * p, 10}, 9, 0.5);  // tangent rows (i, α)
    Tensor<double> w(Shape{net->num_parameters()}, net->parameters());
    auto f = [&](std::span<const Var<double>> in) { return tangent_loss(*net, in[0], data, dd, nd, p); };
    auto r = core::check_gradient(f, {w}, {.eps = 1e-6, .tol = 1e-6});
    EXPECT_TRUE(r.ok) << act << ": " << r.str();
  }
}

TEST(TangentForward, UnsupportedLayersAreNamed) {
  auto net = nn::make_mlp<double>({4, 3, 2}, {.dropout = 0.5});
  net->finalize(0);
  const auto e = tangent_refusal(*net);
  ASSERT_FALSE(e.empty());
  EXPECT_NE(e.find("Dropout"), std::string::npos) << e;
}

// The jvp fallback (any network) and the layer-by-layer path give the same numbers on an MLP.
TEST(TangentForward, JvpPathAgreesWithTheLayerwisePath) {
  for (const char* act : {"tanh", "elu", "relu", "softplus"}) {
    auto net = nn::make_mlp<double>({4, 7, 5, 3}, {.activation = act});
    net->finalize(2);
    ASSERT_TRUE(imnn::layerwise_tangents(*net));
    const auto d = random({6, 4}, 3), t = random({4, 4}, 4);
    const std::vector<int64_t> owner{0, 0, 3, 5};
    core::GradScope<double> scope;
    auto params = imnn::parameters_leaf(*net);
    auto a = imnn::forward_with_tangents(*net, params, core::constant(d), core::constant(t), owner);
    auto b = imnn::forward_with_tangents_jvp(*net, params, core::constant(d), core::constant(t), owner);
    ASSERT_EQ(a.dx.shape(), b.dx.shape());
    for (int64_t i = 0; i < a.x.numel(); ++i) EXPECT_NEAR(a.x.data()[i], b.x.data()[i], 1e-13) << act;
    for (int64_t i = 0; i < a.dx.numel(); ++i) EXPECT_NEAR(a.dx.data()[i], b.dx.data()[i], 1e-13) << act;
  }
  EXPECT_FALSE(imnn::layerwise_tangents(*small_cnn(8, 1)));
}

// Derivative mode 3: dd/dθ from the simulators' tape forms, chained with the network's input
// Jacobian; the IMNN loss passes the gradient checker with respect to the weights, for an MLP
// on the Gaussian (μ, Σ) problem and a CNN on an 8×8 Gaussian random field.
TEST(TangentForward, AutodiffModeLossPassesTheCheckerForAnMlpAndACnn) {
  sim::GaussianMeanVariance gauss(10);
  sim::GaussianField field(8);
  struct Case {
    const sim::Simulator* s;
    std::vector<double> theta;
    std::unique_ptr<nn::Sequential<double>> net;
  };
  std::vector<Case> cases;
  cases.push_back({&gauss, {0.0, 1.0}, nn::make_mlp<double>({10, 6, 2}, {.activation = "elu"})});
  cases.back().net->finalize(7);
  cases.push_back({&field, {1.0, 2.0}, small_cnn(8, 7)});
  for (auto& c : cases) {  // no structured bindings: the lambda below uses them (Clang 14 refuses that)
    const sim::Simulator* s = c.s;
    const std::vector<double>& theta = c.theta;
    nn::Sequential<double>* net = c.net.get();
    const int64_t ns = 30, nd = 15, p = 2;
    const auto set = imnn::simulate_gradient_set(*s, theta, 5, 0, ns, nd, 1, true);
    const Tensor<double> data = set.fiducial.contiguous().reshape(Shape{ns, s->data_size()}), dd = set.tangents();
    Tensor<double> w(Shape{net->num_parameters()}, net->parameters());
    auto f = [&](std::span<const Var<double>> in) { return tangent_loss(*net, in[0], data, dd, nd, p); };
    double loss = 0;
    {
      core::GradScope<double> scope;
      loss = f(std::vector<Var<double>>{core::constant(w)}).item();
    }
    // Central differences of a loss L with step ε lose ≈ 2⁻⁵² |L| / ε to rounding (1.6e-6 for
    // the untrained CNN's L ≈ 7,000, whose summaries carry little information): the tolerance
    // is 1e-6 or 4× that, whichever is larger.
    const double eps = 1e-6, tol = std::max(1e-6, 4 * 2.220446049250313e-16 * std::abs(loss) / eps);
    auto r = core::check_gradient(f, {w}, {.eps = eps, .tol = tol});
    EXPECT_TRUE(r.ok) << s->name() << ": " << r.str();
    std::printf("[ figures  ] mode 3, %s, %s: loss %.4g, gradient check max relative error %.2e\n", s->name().c_str(),
                net->describe().c_str(), loss, r.max_error);
  }
}

// A network with an op that has no tangent rule (softmax) is refused naming the op.
TEST(TangentForward, AnOpWithoutATangentRuleIsNamed) {
  auto net = nn::make_mlp<double>({4, 3, 2}, {.activation = "softmax"});
  net->finalize(0);
  EXPECT_FALSE(imnn::layerwise_tangents(*net));
  const auto e = tangent_refusal(*net);
  ASSERT_FALSE(e.empty());
  EXPECT_NE(e.find("softmax"), std::string::npos) << e;
}

// The jvp path on a tanh MLP runs through forward_at's fused mlp node and its tangent rule;
// the loss built from it passes the gradient checker with respect to the weights too.
TEST(TangentForward, JvpPathThroughTheFusedMlpPassesTheChecker) {
  auto net = nn::make_mlp<double>({10, 6, 2}, {.activation = "tanh"});
  net->finalize(7);
  const int64_t ns = 40, nd = 20, p = 2;
  const auto data = random({ns, 10}, 8), dd = random({nd * p, 10}, 9, 0.5);
  Tensor<double> w(Shape{net->num_parameters()}, net->parameters());
  auto f = [&](std::span<const Var<double>> in) { return tangent_loss(*net, in[0], data, dd, nd, p, true); };
  auto r = core::check_gradient(f, {w}, {.eps = 1e-6, .tol = 1e-6});
  EXPECT_TRUE(r.ok) << r.str();
}
