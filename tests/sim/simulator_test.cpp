// Simulators: a simulation is a pure function of (θ, seed, index), seed-matched simulations
// share their noise exactly, bad values are reported, and every built-in analytic Fisher
// matrix agrees with the Monte Carlo covariance of the score.
#include <gtest/gtest.h>

#include <cmath>
#include <memory>

#include "trusty/core/ops.hpp"
#include "trusty/sim/gaussian.hpp"
#include "trusty/sim/gaussian_field.hpp"

using namespace trusty;
using sim::Simulator;

namespace {
std::vector<double> one(const Simulator& s, std::vector<double> theta, uint64_t seed, int64_t index) {
  std::vector<double> out(static_cast<size_t>(s.data_size()));
  s.simulate(theta, seed, index, out);
  return out;
}
}  // namespace

TEST(Simulator, SameSeedAndIndexGiveIdenticalSimulations) {
  sim::GaussianMeanVariance g(10);
  EXPECT_EQ(one(g, {0, 1}, 7, 3), one(g, {0, 1}, 7, 3));
  EXPECT_NE(one(g, {0, 1}, 7, 3), one(g, {0, 1}, 7, 4));
  EXPECT_NE(one(g, {0, 1}, 7, 3), one(g, {0, 1}, 8, 3));
  // A batch is the same simulations whatever range it is asked for in (thread/rank independence).
  auto batch = sim::simulate_batch(g, std::vector<double>{0, 1}, 7, 2, 4);
  auto third = one(g, {0, 1}, 7, 3);
  for (int64_t j = 0; j < 10; ++j) EXPECT_EQ(batch.at({1, j}), third[static_cast<size_t>(j)]);
}

TEST(Simulator, SeedMatchedDerivativesShareTheNoiseExactly) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.5, 2.0}, delta{0.2, 0.4};
  auto d = sim::simulate_derivatives(g, theta, delta, 11, 5, 3);
  ASSERT_EQ(d.shape(), (core::Shape{3, 2, 2, 10}));
  for (int64_t i = 0; i < 3; ++i) {
    // (i, 1, 1) is θ + δθ_1/2 e_1, (i, 0, 1) is θ − δθ_1/2 e_1; the same z for both:
    // (d − μ)/√Σ must agree to rounding.
    auto plus = one(g, {0.5, 2.2}, 11, 5 + i), minus = one(g, {0.5, 1.8}, 11, 5 + i), fid = one(g, theta, 11, 5 + i);
    for (int64_t j = 0; j < 10; ++j) {
      EXPECT_EQ(d.at({i, 1, 1, j}), plus[static_cast<size_t>(j)]);
      EXPECT_EQ(d.at({i, 0, 1, j}), minus[static_cast<size_t>(j)]);
      EXPECT_NEAR((plus[static_cast<size_t>(j)] - 0.5) / std::sqrt(2.2), (fid[static_cast<size_t>(j)] - 0.5) / std::sqrt(2.0), 1e-14);
      EXPECT_NEAR(d.at({i, 1, 0, j}) - d.at({i, 0, 0, j}), 0.2, 1e-14);  // the mean shifts, the noise does not
    }
  }
}

TEST(Simulator, FieldsAreSeedMatchedToo) {
  sim::GaussianField f(16);
  sim::LognormalField l(16);
  auto a = one(f, {1.0, 2.0}, 3, 9), b = one(f, {1.0, 2.0}, 3, 9), c = one(f, {4.0, 2.0}, 3, 9), e = one(l, {1.0, 2.0}, 3, 9);
  EXPECT_EQ(a, b);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_NEAR(c[i], 2 * a[i], 1e-12);  // √A scales the field: same noise
    EXPECT_NEAR(std::log(e[i]), a[i], 1e-12);
  }
}

TEST(Simulator, NonFiniteOutputIsReportedWithTheIndex) {
  sim::FunctionSimulator bad("bad", 1, core::Shape{3}, [](std::span<const double> th, uint64_t, int64_t i, std::span<double> out) {
    for (auto& v : out) v = i == 4 ? std::nan("") : th[0];
  });
  EXPECT_NO_THROW(sim::simulate_batch(bad, std::vector<double>{1.0}, 0, 0, 4));
  try {
    sim::simulate_batch(bad, std::vector<double>{1.0}, 0, 0, 5);
    FAIL() << "expected std::invalid_argument";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("simulation index 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'bad'"), std::string::npos) << e.what();
  }
  sim::GaussianVariance g(10);
  EXPECT_THROW(sim::simulate_batch(g, std::vector<double>{-1.0}, 0, 0, 1), std::invalid_argument);   // variance < 0
  EXPECT_THROW(sim::simulate_batch(g, std::vector<double>{1.0, 2.0}, 0, 0, 1), std::invalid_argument);  // wrong θ size
}

// Analytic F against the Monte Carlo covariance of the score, E[s sᵀ] (and E[s] = 0). The
// tolerance is 4 Monte Carlo standard errors, each estimated from the same draws as
// sd(s_a s_b)/√N (or sd(s_a)/√N for the mean).
void expect_fisher_matches_score(const Simulator& s, const std::vector<double>& theta, int64_t n) {
  const auto f = *s.fisher(theta);
  const size_t p = theta.size();
  std::vector<double> m1(p, 0), m2(p * p, 0), m4(p * p, 0), m2s(p, 0);
  std::vector<double> d(static_cast<size_t>(s.data_size()));
  for (int64_t i = 0; i < n; ++i) {
    s.simulate(theta, 2024, i, d);
    auto sc = *s.score(theta, d);
    for (size_t a = 0; a < p; ++a) {
      m1[a] += sc[a];
      m2s[a] += sc[a] * sc[a];
      for (size_t b = 0; b < p; ++b) {
        m2[a * p + b] += sc[a] * sc[b];
        m4[a * p + b] += sc[a] * sc[a] * sc[b] * sc[b];
      }
    }
  }
  const double N = static_cast<double>(n);
  for (size_t a = 0; a < p; ++a) {
    const double se_mean = std::sqrt(m2s[a] / N / N);
    EXPECT_NEAR(m1[a] / N, 0.0, 4 * se_mean) << s.name() << ": score mean, parameter " << a;
    for (size_t b = 0; b < p; ++b) {
      const double mean = m2[a * p + b] / N, var = m4[a * p + b] / N - mean * mean;
      const double se = std::sqrt(var / N);
      EXPECT_NEAR(mean, f.data()[a * p + b], 4 * se) << s.name() << ": F[" << a << "][" << b << "], MC standard error " << se;
    }
  }
}

TEST(Simulator, GaussianVarianceFisherMatchesScoreCovariance) {
  sim::GaussianVariance g(10);
  EXPECT_DOUBLE_EQ(g.fisher(std::vector<double>{1.0})->item(), 5.0);  // n/(2θ²)
  expect_fisher_matches_score(g, {1.0}, 200000);
  expect_fisher_matches_score(g, {2.5}, 200000);
}

TEST(Simulator, GaussianMeanVarianceFisherMatchesScoreCovariance) {
  sim::GaussianMeanVariance g(10);
  auto f = *g.fisher(std::vector<double>{0.0, 1.0});
  EXPECT_DOUBLE_EQ(f.at({0, 0}) * f.at({1, 1}) - f.at({0, 1}) * f.at({1, 0}), 50.0);
  expect_fisher_matches_score(g, {0.0, 1.0}, 200000);
  expect_fisher_matches_score(g, {1.0, 0.5}, 200000);
}

TEST(Simulator, GaussianFieldFisherMatchesScoreCovariance) {
  sim::GaussianField f(16);
  expect_fisher_matches_score(f, {1.0, 2.0}, 20000);
  sim::GaussianField g(9);  // odd N: no Nyquist modes
  expect_fisher_matches_score(g, {0.5, 1.0}, 20000);
}

TEST(Simulator, LognormalFieldFisherMatchesScoreCovariance) {
  sim::LognormalField f(16);
  expect_fisher_matches_score(f, {0.2, 1.5}, 20000);
}

TEST(Simulator, GaussianFieldFisherIsHalfTheSumOverModes) {
  // Independent check on a 4×4 grid by hand: 15 non-zero modes; k² ∈ {1 (×4), 2 (×4), 4 (×3), 5 (×4)... }
  sim::GaussianField f(4);
  double faa = 0, fab = 0, fbb = 0;
  for (int i = -2; i < 2; ++i)
    for (int j = -2; j < 2; ++j) {
      if (!i && !j) continue;
      const double lk = 0.5 * std::log(i * i + j * j);
      faa += 1.0 / 4;  // (1/A)² with A = 2
      fab += -lk / 2;
      fbb += lk * lk;
    }
  auto F = *f.fisher(std::vector<double>{2.0, 1.0});
  EXPECT_NEAR(F.at({0, 0}), 0.5 * faa, 1e-12);
  EXPECT_NEAR(F.at({0, 1}), 0.5 * fab, 1e-12);
  EXPECT_NEAR(F.at({1, 1}), 0.5 * fbb, 1e-12);
}

// Derivative mode 2's dd/dθ against central differences of seed-matched simulations (exact
// here up to rounding: d is linear in μ and in √Σ, and the difference quotient of √Σ is
// O(δ²) from its derivative).
TEST(Simulator, GaussianGradientsMatchSeedMatchedDifferences) {
  sim::GaussianMeanVariance g(10);
  const std::vector<double> theta{0.3, 1.7};
  std::vector<double> grad(20);
  ASSERT_TRUE(g.simulate_gradient(theta, 4, 6, grad));
  const double h = 1e-5;
  for (size_t a = 0; a < 2; ++a) {
    auto tp = theta, tm = theta;
    tp[a] += h, tm[a] -= h;
    auto dp = one(g, tp, 4, 6), dm = one(g, tm, 4, 6);
    for (size_t i = 0; i < 10; ++i) EXPECT_NEAR(grad[i * 2 + a], (dp[i] - dm[i]) / (2 * h), 1e-8) << "data " << i << ", parameter " << a;
  }
  sim::GaussianVariance v(10);
  std::vector<double> gv(10);
  ASSERT_TRUE(v.simulate_gradient(std::vector<double>{2.0}, 4, 6, gv));
  auto dp = one(v, {2.0 + h}, 4, 6), dm = one(v, {2.0 - h}, 4, 6);
  for (size_t i = 0; i < 10; ++i) EXPECT_NEAR(gv[i], (dp[i] - dm[i]) / (2 * h), 1e-8);
  // No dd/dθ and no tape form: mode 2 must be refused, not silently zero.
  sim::FunctionSimulator f("plain", 2, core::Shape{4}, [](std::span<const double>, uint64_t, int64_t, std::span<double> out) {
    for (auto& x : out) x = 1;
  });
  std::vector<double> gf(8);
  EXPECT_FALSE(f.simulate_gradient(std::vector<double>{1.0, 2.0}, 0, 0, gf));
}

// Simulations split over threads are the same bit for bit, and an error names the lowest
// failing index whichever thread met it.
TEST(Simulator, ResultsDoNotDependOnThreadCount) {
  sim::GaussianField f(16);
  const std::vector<double> theta{1.0, 2.0}, delta{0.1, 0.1};
  auto a = sim::simulate_batch(f, theta, 5, 100, 37, 1), b = sim::simulate_batch(f, theta, 5, 100, 37, 4);
  EXPECT_EQ(a.to_vector(), b.to_vector());
  auto c = sim::simulate_derivatives(f, theta, delta, 5, 100, 9, 1), d = sim::simulate_derivatives(f, theta, delta, 5, 100, 9, 3);
  EXPECT_EQ(c.to_vector(), d.to_vector());
  sim::FunctionSimulator bad("bad", 1, core::Shape{2}, [](std::span<const double>, uint64_t, int64_t i, std::span<double> out) {
    for (auto& v : out) v = (i == 7 || i == 30) ? std::nan("") : 1.0;
  });
  try {
    sim::simulate_batch(bad, std::vector<double>{1.0}, 0, 0, 40, 4);
    FAIL();
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("simulation index 7 "), std::string::npos) << e.what();
  }
}

// Derivative mode 3: the tape forms (simulations written with trusty's ops) give simulate()'s
// values, and their forward-mode dd/dθ matches seed-matched central differences.
namespace {
struct TapeCase {
  std::shared_ptr<Simulator> sim;
  std::vector<double> theta;
};
std::vector<TapeCase> tape_cases() {
  return {{std::make_shared<sim::GaussianVariance>(10), {1.7}},
          {std::make_shared<sim::GaussianMeanVariance>(10), {0.3, 1.7}},
          {std::make_shared<sim::GaussianField>(8), {1.0, 2.0}},
          {std::make_shared<sim::LognormalField>(8), {0.5, 1.5}}};
}
}  // namespace

TEST(TapeSimulator, ValuesEqualSimulate) {
  for (const auto& [s, theta] : tape_cases()) {
    ASSERT_TRUE(s->has_tape()) << s->name();
    for (int64_t index : {0, 5, 123456}) {
      auto ref = one(*s, theta, 9, index);
      core::GradScope<double> scope;
      auto th = core::constant(core::Tensor<double>(core::Shape{static_cast<int64_t>(theta.size())}, theta));
      auto d = s->simulate_tape(th, 9, index);
      ASSERT_EQ(d.shape(), s->data_shape()) << s->name();
      double err = 0;
      for (size_t i = 0; i < ref.size(); ++i) err = std::max(err, std::abs(d.data()[i] - ref[i]) / std::max(1.0, std::abs(ref[i])));
      EXPECT_LT(err, 1e-12) << s->name() << ", index " << index;  // FFTW's r2c/c2r against c2c: rounding only
    }
  }
  core::GradScope<double> scope;
  sim::GaussianField f(8);
  EXPECT_THROW(f.simulate_tape(core::constant(core::Tensor<double>(core::Shape{3})), 0, 0), std::invalid_argument);
  EXPECT_THROW(f.simulate_tape(core::constant(core::Tensor<double>(core::Shape{2}, {-1.0, 2.0})), 0, 0), std::invalid_argument);
  sim::FunctionSimulator plain("plain", 1, core::Shape{2}, [](std::span<const double>, uint64_t, int64_t, std::span<double>) {});
  EXPECT_FALSE(plain.has_tape());
  std::vector<double> g(2);
  EXPECT_THROW(sim::tape_gradient(plain, std::vector<double>{1.0}, 0, 0, g), std::invalid_argument);
}

// Central differences with step h along θ_a have truncation error (h²/6)|∂³d/∂θ_a³| (plus
// rounding ~ ε|d|/h ≈ 1e-11 here). Bounds of the third derivatives, per datum:
//   Gaussian: d = μ + √Σ z is linear in μ; ∂³_Σ d = (3/8) Σ^−3 (d − μ).
//   Field: δ = Σ_k c_k e^{ik·x}/M with c_k ∝ √A e^{−B ln k/2}; each derivative multiplies c_k
//   by at most c = max(1/(2A), ln k_max / 2) (∂³_A brings (3/8) A^−3 = 3 (1/2A)³), and
//   Σ_k |c_k|/M ≤ ‖δ‖₂ (Cauchy–Schwarz and Parseval), so |∂^j δ| ≤ 3 c^j ‖δ‖₂ for j ≤ 3.
//   Log-normal: y = e^δ, ∂³y = y (∂³δ + 3 ∂δ ∂²δ + (∂δ)³), so |∂³y| ≤ y c³ (3N + 27N² + 27N³)
//   with N = ‖δ‖₂.
// The tolerance is twice that bound plus 1e-9 for rounding; the derivatives are O(1).
TEST(TapeSimulator, GradientsMatchSeedMatchedDifferences) {
  for (const auto& [s, theta] : tape_cases()) {
    const int64_t p = s->n_params(), n = s->data_size();
    std::vector<double> grad(static_cast<size_t>(n * p)), via_default(grad.size());
    sim::tape_gradient(*s, theta, 4, 6, grad);
    ASSERT_TRUE(s->simulate_gradient(theta, 4, 6, via_default));  // analytic (Gaussians) or the tape (fields)
    for (size_t i = 0; i < grad.size(); ++i) EXPECT_NEAR(grad[i], via_default[i], 1e-12) << s->name();
    const auto d = one(*s, theta, 4, 6);
    const bool field = s->name() == "gaussian_field" || s->name() == "lognormal_field", lognormal = s->name() == "lognormal_field";
    double norm = 0;  // ‖δ‖₂ of the Gaussian field
    for (double v : d) norm += lognormal ? std::log(v) * std::log(v) : v * v;
    norm = std::sqrt(norm);
    const double c = std::max(0.5 / theta[0], 0.5 * std::log(std::sqrt(32.0)));  // k_max = |(4, 4)| on the 8×8 grid
    const double h = 1e-4, var = theta.back(), mu = p == 2 ? theta[0] : 0.0;
    double worst = 0;
    for (int64_t a = 0; a < p; ++a) {
      auto tp = theta, tm = theta;
      tp[static_cast<size_t>(a)] += h, tm[static_cast<size_t>(a)] -= h;
      auto dp = one(*s, tp, 4, 6), dm = one(*s, tm, 4, 6);
      for (int64_t i = 0; i < n; ++i) {
        const auto k = static_cast<size_t>(i);
        double third = 0;
        if (lognormal) third = d[k] * c * c * c * (3 * norm + 27 * norm * norm + 27 * norm * norm * norm);
        else if (field) third = 3 * c * c * c * norm;
        else if (a == p - 1) third = 0.375 * std::pow(var, -3) * std::abs(d[k] - mu);
        const double fd = (dp[k] - dm[k]) / (2 * h), tol = 2 * h * h / 6 * third + 1e-9;
        const double g = grad[k * static_cast<size_t>(p) + static_cast<size_t>(a)];
        EXPECT_NEAR(g, fd, tol) << s->name() << ", datum " << i << ", θ_" << a;
        worst = std::max(worst, std::abs(g - fd));
      }
    }
    std::printf("[ figures  ] %s: max |jvp dd/dθ − central difference| = %.2e (h = %.0e)\n", s->name().c_str(), worst, h);
  }
}

// A batch (the built-ins' batched ops, and the default that stacks per-index tape forms)
// gives each simulation's dd/dθ exactly as one at a time.
TEST(TapeSimulator, BatchedGradientsEqualOneAtATime) {
  struct PerIndex final : Simulator {  // only simulate_tape: the default simulate_tape_batch stacks it
    sim::GaussianMeanVariance g{10};
    std::string name() const override { return "per_index"; }
    int64_t n_params() const override { return 2; }
    core::Shape data_shape() const override { return core::Shape{10}; }
    void simulate(std::span<const double> th, uint64_t seed, int64_t i, std::span<double> out) const override { g.simulate(th, seed, i, out); }
    bool has_tape() const override { return true; }
    core::Var<double> simulate_tape(const core::Var<double>& th, uint64_t seed, int64_t i) const override { return g.simulate_tape(th, seed, i); }
  };
  auto cases = tape_cases();
  cases.push_back({std::make_shared<PerIndex>(), {0.3, 1.7}});
  for (const auto& [s, theta] : cases) {
    const int64_t per = s->data_size() * s->n_params();
    std::vector<double> batch(static_cast<size_t>(3 * per)), one_at(static_cast<size_t>(per));
    sim::tape_gradients(*s, theta, 4, 5, 3, batch);
    for (int64_t i = 0; i < 3; ++i) {
      sim::tape_gradient(*s, theta, 4, 5 + i, one_at);
      for (int64_t k = 0; k < per; ++k) EXPECT_NEAR(batch[static_cast<size_t>(i * per + k)], one_at[static_cast<size_t>(k)], 1e-13) << s->name();
    }
  }
}
