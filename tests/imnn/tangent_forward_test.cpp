// Derivative mode 2: the network's input Jacobian carried as tape ops. Its outputs agree with
// the network and with finite differences along the tangents, and the IMNN loss built from
// it passes the gradient checker with respect to the weights.
#include <gtest/gtest.h>

#include "trusty/core/grad_check.hpp"
#include "trusty/imnn/fisher.hpp"
#include "trusty/imnn/tangent_forward.hpp"

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
    std::vector<int64_t> owner;
    for (int64_t i = 0; i < nd; ++i)
      for (int64_t a = 0; a < p; ++a) owner.push_back(i);
    Tensor<double> w(Shape{net->num_parameters()}, net->parameters());
    auto f = [&](std::span<const Var<double>> in) {
      auto o = imnn::forward_with_tangents(*net, in[0], core::constant(data), core::constant(dd), owner);
      auto dx = core::reshape(o.dx, Shape{nd, p, 2});  // [n_d, n_params, n_summaries]
      return imnn::fisher_statistics(o.x, imnn::mean_derivative(core::permute(dx, std::vector<int>{0, 2, 1})), {}).loss;
    };
    auto r = core::check_gradient(f, {w}, {.eps = 1e-6, .tol = 1e-6});
    EXPECT_TRUE(r.ok) << act << ": " << r.str();
  }
}

TEST(TangentForward, UnsupportedLayersAreNamed) {
  auto net = nn::make_mlp<double>({4, 3, 2}, {.dropout = 0.5});
  net->finalize(0);
  core::GradScope<double> scope;
  const std::vector<int64_t> owner{0};
  try {
    imnn::forward_with_tangents(*net, imnn::parameters_leaf(*net), core::constant(random({2, 4}, 1)), core::constant(random({1, 4}, 2)), owner);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("Dropout"), std::string::npos) << e.what();
  }
}
