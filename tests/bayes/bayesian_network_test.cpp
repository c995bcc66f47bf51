// BayesianNetwork: values against the formulas written out by hand, gradients by finite
// differences (core::check_gradient) for every likelihood × prior combination, names and
// constraints, option validation, thread safety, and the cost of one gradient.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <new>
#include <cmath>
#include <numbers>
#include <thread>

#include "density_check.hpp"
#include "trusty/bayes/bayesian_network.hpp"
#include "trusty/nn/conv_layers.hpp"
#include "trusty/nn/layers.hpp"

// Counts this thread's heap allocations (a global replacement of operator new for this test
// binary; everything else passes straight through to malloc).
namespace {
thread_local int64_t g_allocations = 0;
}  // namespace
// GCC pairs free() here with the built-in new it cannot see is replaced: a false positive.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop

namespace trusty::test {
namespace {

using bayes::BayesianNetwork;
using bayes::BayesianNetworkOptions;
using bayes::Likelihood;
using core::Shape;
using core::Tensor;

constexpr double kHalfLog2Pi = 0.91893853320467274178;

double log_normal(double x, double mu, double s) { return -0.5 * std::pow((x - mu) / s, 2) - std::log(s) - kHalfLog2Pi; }
double log_half_normal(double x, double h) { return std::numbers::ln2 + log_normal(x, 0, h); }

// Targets of the right kind for a likelihood: n examples, k outputs.
Tensor<double> targets(Likelihood l, int64_t n, int64_t k, uint64_t seed) {
  Tensor<double> u = uniform_tensor(Shape{n, k}, seed, 0, 1);
  if (l == Likelihood::gaussian) return u;
  Tensor<double> y(l == Likelihood::categorical ? Shape{n} : Shape{n, k});
  for (int64_t i = 0; i < y.numel(); ++i) y.data()[i] = l == Likelihood::categorical ? static_cast<double>(i % k) : (u.data()[i] > 0.5);
  return y;
}

std::unique_ptr<BayesianNetwork> small_bnn(Likelihood l, BayesianNetworkOptions opt, int64_t k = 3) {
  auto net = nn::make_mlp<double>({2, 5, k}, {.activation = "tanh"});
  net->finalize(3);
  opt.likelihood = l;
  return std::make_unique<BayesianNetwork>(std::move(net), uniform_tensor(Shape{12, 2}, 4), targets(l, 12, k, 5), opt);
}

std::vector<double> random_theta(const BayesianNetwork& m, uint64_t seed) {
  return uniform_tensor(Shape{m.dim()}, seed, -1, 1).to_vector();
}

TEST(BayesianNetwork, GaussianValueIsTheHandWrittenLogPosterior) {
  auto net = std::make_unique<nn::Sequential<double>>();
  net->emplace<nn::Dense<double>>(2, 1);
  net->finalize(1);
  const Tensor<double> x = uniform_tensor(Shape{7, 2}, 2), y = uniform_tensor(Shape{7}, 3);
  BayesianNetwork m(std::move(net), x, y,
                    {.sample_sigma = true, .sigma_prior_scale = 0.7, .prior = {.scale = 2}, .layer_priors = {{"0.bias", {.scale = 0.5, .sampled = true}}}});
  ASSERT_EQ(m.dim(), 5);  // w1 w2 b, ln σ, ln s_bias
  const std::vector<double> th = {0.3, -1.2, 0.4, std::log(0.25), std::log(0.8)};
  double expect = 0;
  for (int64_t i = 0; i < 7; ++i) expect += log_normal(y.data()[i], x.data()[2 * i] * th[0] + x.data()[2 * i + 1] * th[1] + th[2], 0.25);
  expect += log_normal(th[0], 0, 2) + log_normal(th[1], 0, 2) + log_normal(th[2], 0, 0.8);
  expect += log_half_normal(0.25, 0.7) + th[3] + log_half_normal(0.8, 0.5) + th[4];  // priors on σ, s with Jacobians
  std::vector<double> g(5);
  EXPECT_NEAR(m.log_density_and_gradient(th, g), expect, 1e-12);
  std::vector<double> c(5);
  m.constrain(th, c);
  EXPECT_NEAR(c[3], 0.25, 1e-15);
  EXPECT_NEAR(m.noise_sd(c), 0.25, 1e-15);
  EXPECT_EQ(m.param_names(), (std::vector<std::string>{"0.weight.1.1", "0.weight.2.1", "0.bias.1", "sigma", "prior_sd.0.bias"}));
  // Without the fixed Gaussian prior (the weights'; the bias's scale is sampled):
  std::vector<double> sd(5);
  m.prior_sd(sd);
  EXPECT_EQ(sd, (std::vector<double>{2, 2, 0, 0, 0}));
  EXPECT_NEAR(m.log_density_minus_prior(th, g), expect - log_normal(th[0], 0, 2) - log_normal(th[1], 0, 2), 1e-12);
}

TEST(BayesianNetwork, GammaPrecisionHyperpriorIsNeals) {
  auto net = std::make_unique<nn::Sequential<double>>();
  net->emplace<nn::Dense<double>>(1, 1, nn::Dense<double>::Options{.bias = false});
  net->finalize(1);
  BayesianNetwork m(std::move(net), Tensor<double>(Shape{3, 1}, 1.0), Tensor<double>(Shape{3, 1}, 0.5),
                    {.sigma = 0.4, .prior = {.sampled = true, .hyperprior = bayes::Hyperprior::gamma_precision, .shape = 3, .rate = 2}});
  const double w = 0.6, s = 0.9, tau = 1 / (s * s);
  // Gamma(τ | 3, 2) density times |dτ/d ln s| = 2τ.
  const double log_gamma = 3 * std::log(2.0) - std::lgamma(3.0) + 2 * std::log(tau) - 2 * tau + std::log(2 * tau);
  const double expect = 3 * log_normal(0.5, w, 0.4) + log_normal(w, 0, s) + log_gamma;
  std::vector<double> g(2);
  EXPECT_NEAR(m.log_density_and_gradient(std::vector<double>{w, std::log(s)}, g), expect, 1e-12);
}

TEST(BayesianNetwork, ClassificationValuesAreTheHandWrittenLikelihoods) {
  for (Likelihood l : {Likelihood::bernoulli, Likelihood::categorical}) {
    auto m = small_bnn(l, {.prior = {.scale = 1.5}});
    const auto th = random_theta(*m, 6);
    const Tensor<double> x = uniform_tensor(Shape{12, 2}, 4), y = targets(l, 12, 3, 5);
    const Tensor<double> f = m->predict(std::span<const double>(th).first(static_cast<size_t>(m->num_weights())), x);
    double expect = 0;
    for (int64_t i = 0; i < 12; ++i) {
      if (l == Likelihood::bernoulli) {
        for (int64_t j = 0; j < 3; ++j) {
          const double p = 1 / (1 + std::exp(-f.data()[3 * i + j]));
          expect += y.data()[3 * i + j] ? std::log(p) : std::log(1 - p);
        }
      } else {
        double z = 0;
        for (int64_t j = 0; j < 3; ++j) z += std::exp(f.data()[3 * i + j]);
        expect += f.data()[3 * i + static_cast<int64_t>(y.data()[i])] - std::log(z);
      }
    }
    for (double w : th) expect += log_normal(w, 0, 1.5);
    std::vector<double> g(th.size());
    EXPECT_NEAR(m->log_density_and_gradient(th, g), expect, 1e-11) << bayes::likelihood_name(l);
  }
}

TEST(BayesianNetwork, GradientsMatchFiniteDifferencesForEveryLikelihoodAndPrior) {
  const std::vector<std::pair<const char*, BayesianNetworkOptions>> priors = {
      {"fixed", {.prior = {.scale = 0.8}}},
      {"sampled", {.prior = {.scale = 1.3, .sampled = true}}},
      {"per layer", {.prior = {.scale = 2}, .layer_priors = {{"0", {.scale = 0.5, .sampled = true}}, {"2.bias", {.scale = 0.3}}}}},
      {"gamma precision", {.prior = {.scale = 0.7, .sampled = true, .hyperprior = bayes::Hyperprior::gamma_precision, .shape = 2, .rate = 0.5}}},
  };
  int checked = 0;
  for (Likelihood l : {Likelihood::gaussian, Likelihood::bernoulli, Likelihood::categorical}) {
    for (bool sample_sigma : {false, true}) {
      if (sample_sigma && l != Likelihood::gaussian) continue;
      for (auto [name, opt] : priors) {
        opt.sample_sigma = sample_sigma;
        opt.sigma = 0.3;
        auto m = small_bnn(l, opt);
        const auto th = random_theta(*m, 7);
        auto r = check_density(*m, th, 1e-6);
        EXPECT_TRUE(r.ok) << bayes::likelihood_name(l) << (sample_sigma ? " sampled sigma, " : ", ") << name << " prior: " << r.str();
        mcmc::FunctionDensity rest(m->dim(), [&](std::span<const double> t, std::span<double> g) { return m->log_density_minus_prior(t, g); });
        r = check_density(rest, th, 1e-6);
        EXPECT_TRUE(r.ok) << "minus prior: " << bayes::likelihood_name(l) << ", " << name << ": " << r.str();
        ++checked;
      }
    }
  }
  EXPECT_EQ(checked, 16);
}

TEST(BayesianNetwork, ConvolutionalClassifierGradientsMatchFiniteDifferences) {
  auto net = std::make_unique<nn::Sequential<double>>();
  net->emplace<nn::Reshape<double>>(std::vector<int64_t>{1, 5, 5})
      .emplace<nn::Conv<double>>(1, 2, 3, nn::ConvOptions{.dims = 2})
      .emplace<nn::Activation<double>>(nn::Act::tanh)
      .emplace<nn::Flatten<double>>()
      .emplace<nn::Dense<double>>(18, 3);
  net->finalize(2);
  BayesianNetwork m(std::move(net), uniform_tensor(Shape{8, 25}, 3), targets(Likelihood::categorical, 8, 3, 4),
                    {.likelihood = Likelihood::categorical, .layer_priors = {{"1", {.scale = 0.5, .sampled = true}}}});
  EXPECT_EQ(m.param_names()[0], "1.weight.1.1.1.1");
  const auto r = check_density(m, random_theta(m, 5), 1e-6);
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(BayesianNetwork, OptionsAreValidatedWithMessagesNamingThem) {
  auto expect_error = [](BayesianNetworkOptions opt, Likelihood l, const std::string& needle) {
    try {
      small_bnn(l, opt);
      ADD_FAILURE() << "no exception for " << needle;
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_error({.sigma = 0}, Likelihood::gaussian, "option sigma");
  expect_error({.sample_sigma = true, .sigma_prior_scale = -1}, Likelihood::gaussian, "sigma_prior_scale");
  expect_error({.sample_sigma = true}, Likelihood::bernoulli, "sample_sigma applies to the gaussian likelihood only");
  expect_error({.prior = {.scale = 0}}, Likelihood::gaussian, "prior scale of 0.weight");
  expect_error({.layer_priors = {{"5", {}}}}, Likelihood::gaussian, "layer_priors names '5'");
  expect_error({.prior = {.sampled = true, .hyperprior = bayes::Hyperprior::gamma_precision, .shape = 0}}, Likelihood::gaussian,
               "the gamma hyperprior's shape for 0.weight");
  auto net = nn::make_mlp<double>({2, 3});
  try {
    BayesianNetwork(std::move(net), uniform_tensor(Shape{4, 2}, 1), Tensor<double>(Shape{4}, 5.0), {.likelihood = Likelihood::categorical});
    ADD_FAILURE() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("class index in 0..2"), std::string::npos) << e.what();
  }
  EXPECT_THROW(bayes::parse_likelihood("poisson"), std::invalid_argument);
}

TEST(BayesianNetwork, ConcurrentEvaluationsFromTwoThreads) {
  auto m = small_bnn(Likelihood::gaussian, {.sample_sigma = true, .prior = {.sampled = true}}, 1);
  const std::vector<std::vector<double>> th = {random_theta(*m, 8), random_theta(*m, 9)};
  std::vector<double> ref[2], g(static_cast<size_t>(m->dim()));
  double lp[2];
  for (int k = 0; k < 2; ++k) {
    ref[k].resize(g.size());
    lp[k] = m->log_density_and_gradient(th[static_cast<size_t>(k)], ref[k]);
  }
  int bad[2] = {0, 0};
  auto work = [&](int k) {
    std::vector<double> gg(g.size());
    for (int i = 0; i < 3000; ++i)
      if (m->log_density_and_gradient(th[static_cast<size_t>(k)], gg) != lp[k] || gg != ref[k]) ++bad[k];
  };
  std::thread a(work, 0), b(work, 1);
  a.join();
  b.join();
  EXPECT_EQ(bad[0] + bad[1], 0);
}

TEST(BayesianNetwork, AGradientAllocatesNothingOnTheHeapOnceTheTapeIsWarm) {
  for (Likelihood l : {Likelihood::gaussian, Likelihood::bernoulli, Likelihood::categorical}) {
    auto m = small_bnn(l, {.sample_sigma = l == Likelihood::gaussian, .prior = {.sampled = true}});
    const auto th = random_theta(*m, 3);
    std::vector<double> g(th.size());
    m->log_density_and_gradient(th, g);  // first call: the tape's arena and scratch grow
    const int64_t before = g_allocations;
    for (int i = 0; i < 100; ++i) m->log_density_and_gradient(th, g);
    EXPECT_EQ(g_allocations - before, 0) << bayes::likelihood_name(l);
  }
}

// The benchmark's network: 1-20-20-1 tanh on 100 points, σ = 0.1, N(0, 1) priors. A timing
// printout, not an assertion; compared with core::mlp + normal_lpdf alone.
TEST(BayesianNetwork, GradientCostOnTheBenchmarkNetwork) {
  auto net = nn::make_mlp<double>({1, 20, 20, 1}, {.activation = "tanh"});
  net->finalize(1);
  const Tensor<double> x = uniform_tensor(Shape{100, 1}, 2), y = uniform_tensor(Shape{100, 1}, 3);
  BayesianNetwork m(std::move(net), x, y, {.sigma = 0.1, .prior = {.scale = 1}});
  std::vector<double> th = m.initial_theta(), g(th.size());
  const std::vector<int64_t> widths = {1, 20, 20, 1};
  // Both sides alternate in short slices (this host's speed changes within seconds); the
  // fastest slice of each is reported.
  double sink = 0, us_bnn = 1e9, us_bare = 1e9;
  auto slice = [](auto&& f) {
    const int n = 300;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < n; ++i) f();
    return std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() / n;
  };
  auto bnn = [&] { sink += m.log_density_and_gradient(th, g); };
  auto bare = [&] {
    sink += core::value_and_grad<double>(
        [&](core::Var<double> t) {
          auto f = core::mlp(core::constant_ref(x), t, widths, core::LinearAct::tanh);
          return core::normal_lpdf(core::constant_ref(y), f, 0.1) + core::normal_lpdf(t, 0.0, 1.0);
        },
        th, g);
  };
  for (int round = 0; round < 40; ++round) {
    us_bnn = std::min(us_bnn, slice(bnn));
    us_bare = std::min(us_bare, slice(bare));
  }
  std::printf("[ timing ] 1-20-20-1 tanh, 100 points: BayesianNetwork %.2f us per value+gradient (%.0f/s); "
              "mlp + normal_lpdf alone %.2f us  (sink %g)\n", us_bnn, 1e6 / us_bnn, us_bare, sink);
  EXPECT_TRUE(std::isfinite(sink));
}

}  // namespace
}  // namespace trusty::test
