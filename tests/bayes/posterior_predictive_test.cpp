// The posterior predictive from draws: against the exact predictive of Bayesian linear
// regression (Gaussian: mean φᵀm, variance φᵀΛ⁻¹φ + σ²), chains with warmup rows, the
// delta-function case, classification probabilities, and the Gaussian mixture quantile.
#include <gtest/gtest.h>

#include <cmath>

#include "linear_regression.hpp"
#include "trusty/bayes/posterior_predictive.hpp"

namespace trusty::test {
namespace {

using bayes::posterior_predictive;
using core::Shape;
using core::Tensor;

TEST(PosteriorPredictive, MatchesTheExactPredictiveOfLinearRegression) {
  const LinearRegression lr(40, 2, 1);
  const int64_t S = 4000;
  const Eigen::MatrixXd draws = lr.exact_draws(S, 2);
  const Tensor<double> xt = uniform_tensor(Shape{6, 2}, 3, -3, 3);  // in and beyond the data
  const auto p = posterior_predictive(*lr.model, draws, xt, {.quantiles = {0.05, 0.5, 0.95}});
  ASSERT_EQ(p.mean.rows(), 6);
  ASSERT_EQ(p.quantiles.size(), 3u);
  const double z95 = 1.6448536269514722;
  for (int64_t i = 0; i < 6; ++i) {
    const Eigen::Vector3d phi(xt.data()[2 * i], xt.data()[2 * i + 1], 1);
    const double mu = phi.dot(lr.mean), var_f = phi.dot(lr.cov * phi), var_y = var_f + lr.sigma * lr.sigma;
    // Monte Carlo errors over S independent draws: sd(mean) = sqrt(var_f/S); sd of the
    // estimated var_f ≈ var_f·sqrt(2/S). Tolerances are 4 of those.
    const double tol_mean = 4 * std::sqrt(var_f / S), tol_var = 4 * var_f * std::sqrt(2.0 / S);
    EXPECT_NEAR(p.mean(i, 0), mu, tol_mean);
    EXPECT_NEAR(p.sd_network(i, 0) * p.sd_network(i, 0), var_f, tol_var);
    EXPECT_NEAR(p.sd(i, 0) * p.sd(i, 0), var_y, tol_var);
    // The predictive is Gaussian here: quantiles mu ± 1.645 sd_y (error: mean's + z·sd's).
    const double tol_q = tol_mean + z95 * tol_var / (2 * std::sqrt(var_y));
    EXPECT_NEAR(p.quantiles[0](i, 0), mu - z95 * std::sqrt(var_y), tol_q);
    EXPECT_NEAR(p.quantiles[1](i, 0), mu, tol_q);
    EXPECT_NEAR(p.quantiles[2](i, 0), mu + z95 * std::sqrt(var_y), tol_q);
  }
  // Without the observation noise: sd = sd_network, quantiles of f.
  const auto pf = posterior_predictive(*lr.model, draws, xt, {.quantiles = {0.05}, .observation_noise = false});
  EXPECT_EQ(pf.sd, p.sd_network);
  for (int64_t i = 0; i < 6; ++i) {
    const Eigen::Vector3d phi(xt.data()[2 * i], xt.data()[2 * i + 1], 1);
    const double sd_f = std::sqrt(phi.dot(lr.cov * phi));
    EXPECT_NEAR(pf.quantiles[0](i, 0), phi.dot(lr.mean) - z95 * sd_f, 4 * std::sqrt(sd_f * sd_f / S) + z95 * 4 * sd_f / std::sqrt(2.0 * S));
  }
}

TEST(PosteriorPredictive, ChainsContributeTheirPostWarmupDraws) {
  const LinearRegression lr(20, 2, 4);
  const Eigen::MatrixXd draws = lr.exact_draws(300, 5);
  std::vector<mcmc::ChainDraws> chains(2);
  for (int c = 0; c < 2; ++c) {
    chains[static_cast<size_t>(c)].n_warmup_saved = 7;
    chains[static_cast<size_t>(c)].params = Eigen::MatrixXd::Constant(157, 3, 1e3);  // warmup rows: far off
    chains[static_cast<size_t>(c)].params.bottomRows(150) = draws.middleRows(150 * c, 150);
  }
  const Tensor<double> xt = uniform_tensor(Shape{4, 2}, 6);
  const auto a = posterior_predictive(*lr.model, draws, xt), b = posterior_predictive(*lr.model, chains, xt);
  EXPECT_EQ(b.n_draws, 300);
  EXPECT_LT((a.mean - b.mean).norm(), 1e-12);
  EXPECT_LT((a.sd - b.sd).norm(), 1e-12);
  chains[1].param_names = {"a", "b", "c"};  // another model's chain
  EXPECT_THROW(posterior_predictive(*lr.model, chains, xt), std::invalid_argument);
}

TEST(PosteriorPredictive, OnePointIsADeltaFunction) {
  const LinearRegression lr(20, 2, 7);
  const Eigen::MatrixXd map = lr.mean.transpose();
  const auto p = posterior_predictive(*lr.model, map, uniform_tensor(Shape{5, 2}, 8));
  EXPECT_EQ(p.sd_network.norm(), 0.0);
  for (int64_t i = 0; i < 5; ++i) EXPECT_DOUBLE_EQ(p.sd(i, 0), lr.sigma);  // the noise only
}

TEST(PosteriorPredictive, ClassificationGivesMeanProbabilities) {
  for (auto l : {bayes::Likelihood::bernoulli, bayes::Likelihood::categorical}) {
    auto net = nn::make_mlp<double>({2, 4, 3}, {.activation = "tanh"});
    net->finalize(1);
    const Tensor<double> x = uniform_tensor(Shape{6, 2}, 2);
    Tensor<double> y(l == bayes::Likelihood::bernoulli ? Shape{6, 3} : Shape{6});
    bayes::BayesianNetwork m(std::move(net), x, y, {.likelihood = l});
    const Eigen::MatrixXd draws = Eigen::MatrixXd::NullaryExpr(50, m.dim(), [](Eigen::Index i, Eigen::Index j) {
      return std::sin(1.7 * static_cast<double>(i) + 0.3 * static_cast<double>(j * j));
    });
    const auto p = posterior_predictive(m, draws, x);
    Eigen::MatrixXd expect = Eigen::MatrixXd::Zero(6, 3);
    for (int64_t s = 0; s < 50; ++s) {
      const Eigen::RowVectorXd row = draws.row(s);
      const Tensor<double> f = m.predict(std::span<const double>(row.data(), static_cast<size_t>(m.num_weights())), x);
      for (int64_t i = 0; i < 6; ++i) {
        double z = 0;
        for (int64_t j = 0; j < 3; ++j) z += std::exp(f.data()[3 * i + j]);
        for (int64_t j = 0; j < 3; ++j)
          expect(i, j) += (l == bayes::Likelihood::bernoulli ? 1 / (1 + std::exp(-f.data()[3 * i + j])) : std::exp(f.data()[3 * i + j]) / z) / 50;
      }
    }
    EXPECT_LT((p.mean - expect).cwiseAbs().maxCoeff(), 1e-12) << bayes::likelihood_name(l);
    EXPECT_TRUE(p.quantiles.empty());
    EXPECT_GT(p.sd.minCoeff(), 0);
  }
}

TEST(PosteriorPredictive, MixtureQuantileAndValidation) {
  // Two equal components far apart: the 25 % quantile is the first component's median; two
  // overlapping ones: the median is their midpoint; one: the Gaussian quantile.
  const std::vector<double> mu = {-10, 10}, near = {-1, 2}, sd = {1, 1};
  EXPECT_NEAR(bayes::mixture_quantile(mu, sd, 0.25), -10, 1e-8);
  EXPECT_NEAR(bayes::mixture_quantile(near, sd, 0.5), 0.5, 1e-8);
  EXPECT_NEAR(bayes::mixture_quantile(std::vector<double>{3}, std::vector<double>{2}, 0.95), 3 + 2 * 1.6448536269514722, 1e-8);
  const LinearRegression lr(10, 2, 9);
  EXPECT_THROW(posterior_predictive(*lr.model, Eigen::MatrixXd(0, 3), lr.x), std::invalid_argument);
  EXPECT_THROW(posterior_predictive(*lr.model, Eigen::MatrixXd::Zero(2, 4), lr.x), std::invalid_argument);
  try {
    posterior_predictive(*lr.model, Eigen::MatrixXd::Zero(2, 3), lr.x, {.quantiles = {1.5}});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("option quantiles"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace trusty::test
