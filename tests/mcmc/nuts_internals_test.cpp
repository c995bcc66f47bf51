// NUTS internals on tiny cases: one transition computed by hand, the U-turn of a harmonic
// oscillator, tree sizes, divergences from non-finite gradients, and the step-size adaptation
// reaching its target acceptance.
#include <gtest/gtest.h>

#include <cmath>
#include <numbers>

#include "mcmc/targets.hpp"
#include "mcmc/test_util.hpp"
#include "mcmc/nuts_reference.hpp"
#include "trusty/mcmc/nuts.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::mcmc {
namespace {

// ln π = −q²/2 in one dimension.
FunctionDensity oscillator() {
  return FunctionDensity(1, [](std::span<const double> q, std::span<double> g) {
    g[0] = -q[0];
    return -0.5 * q[0] * q[0];
  });
}

// With max_depth = 1 a transition is one leapfrog step in a random direction and a
// multinomial choice between the two points; everything is computed here by hand from the
// same random numbers (momentum, direction, then a uniform only when H1 > H0).
TEST(NutsInternals, OneStepTransitionByHand) {
  const FunctionDensity f = oscillator();
  int took_new = 0, kept_old = 0;
  for (uint64_t seed = 0; seed < 40; ++seed) {
    Metric metric(MetricKind::unit_e, 1);
    Hamiltonian h(f, metric);
    Nuts nuts(h, 1);
    PhasePoint z(1);
    z.q[0] = 1.0;
    h.update(z);
    core::Rng rng(seed), mirror(seed);
    const double eps = 0.9;
    const Transition t = nuts.transition(z, eps, rng);

    const double q0 = 1.0, p0 = mirror.normal();
    const double e = mirror.uniform() > 0.5 ? eps : -eps;
    const double ph = p0 - 0.5 * e * q0, q1 = q0 + e * ph, p1 = ph - 0.5 * e * q1;
    const double H0 = 0.5 * (q0 * q0 + p0 * p0), H1 = 0.5 * (q1 * q1 + p1 * p1);
    const bool take = H0 - H1 > 0 || mirror.uniform() < std::exp(H0 - H1);
    EXPECT_EQ(t.treedepth, 1);
    EXPECT_EQ(t.n_leapfrog, 1);
    EXPECT_FALSE(t.divergent);
    EXPECT_NEAR(t.accept_stat, std::min(1.0, std::exp(H0 - H1)), 1e-14);
    EXPECT_NEAR(z.q[0], take ? q1 : q0, 1e-14) << "seed " << seed;
    EXPECT_NEAR(t.energy, take ? H1 : 0.5 * (q0 * q0 + p0 * p0), 1e-14);
    (take ? took_new : kept_old) += 1;
  }
  EXPECT_GT(took_new, 0);  // both branches of the multinomial choice were exercised
  EXPECT_GT(kept_old, 0);
}

// On q'' = −q (period 2π) with a small step: in one dimension ρ = Σp ≈ Δq/ε, so the criterion
// (p♯ at both ends agreeing in sign with Δq) holds at most from one turning point to the
// other, half a period. The doubling stops at the first tree that spans more; the tree
// before it spanned at most π. Also 2^depth − 1 ≤ n_leapfrog ≤ 2^(depth+1) − 1.
TEST(NutsInternals, HarmonicOscillatorUTurnsWithinAPeriod) {
  const FunctionDensity f = oscillator();
  Metric metric(MetricKind::unit_e, 1);
  Hamiltonian h(f, metric);
  Nuts nuts(h, 10);
  PhasePoint z(1);
  z.q[0] = 0.5;
  h.update(z);
  core::Rng rng(3);
  const double eps = 0.05;
  int64_t min_depth = 99, max_depth = 0;
  std::vector<int> hist(11, 0);
  for (int i = 0; i < 300; ++i) {
    const Transition t = nuts.transition(z, eps, rng);
    ++hist[static_cast<size_t>(t.treedepth)];
    min_depth = std::min<int64_t>(min_depth, t.treedepth);
    max_depth = std::max<int64_t>(max_depth, t.treedepth);
    EXPECT_GE(t.n_leapfrog, (1 << t.treedepth) - 1);
    EXPECT_LE(t.n_leapfrog, (1 << (t.treedepth + 1)) - 1);
    // The last trajectory that passed the criterion (2^(depth−1) − 1 steps) spans at most
    // half a period, from one turning point to the other.
    EXPECT_LT(((1 << (t.treedepth - 1)) - 1) * eps, std::numbers::pi) << "depth " << t.treedepth;
    EXPECT_GT(t.accept_stat, 0.99);  // H is nearly conserved at this step size
  }
  // Half a period is π/ε ≈ 63 steps: depth 6 (63 steps) or 7 (127) when the U-turn is found.
  // Depth 5 (31 steps ≈ 1.55, between a quarter and half a period) is the usual tree; a
  // start near a turning point stops earlier.
  EXPECT_EQ(std::max_element(hist.begin(), hist.end()) - hist.begin(), 5);
  EXPECT_LE(max_depth, 6);
  EXPECT_GE(min_depth, 1);
}

// A gradient that is NaN for q > 1.5 (the density itself finite): every such step is a
// divergence, never a draw.
TEST(NutsInternals, NanGradientIsADivergence) {
  FunctionDensity f(1, [](std::span<const double> q, std::span<double> g) {
    g[0] = q[0] > 1.5 ? std::nan("") : -q[0];
    return -0.5 * q[0] * q[0];
  });
  const auto chains = sample(f, {.num_warmup = 300, .num_samples = 500, .chains = 2, .seed = 4});
  EXPECT_GT(test::count_divergent(chains), 0);
  for (const auto& c : chains) EXPECT_LE(c.params.maxCoeff(), 1.5);
}

// Dual averaging drives the mean acceptance statistic to δ during adaptation (here over a
// 200-iteration terminal buffer, 400 values: MC error ~0.01); the final ε = exp(x̄) (a
// smoothed, slightly smaller step) gives a mean at or a little above δ, as in Stan.
// 10-D standard normal.
TEST(NutsInternals, StepSizeAdaptationReachesDelta) {
  const auto density = test::diag_gaussian(Eigen::VectorXd::Zero(10), Eigen::VectorXd::Ones(10));
  for (double delta : {0.6, 0.8, 0.95}) {
    const auto chains = sample(*density, {.num_warmup = 1000, .num_samples = 1000, .chains = 2, .seed = 5,
                                          .delta = delta, .term_buffer = 200, .save_warmup = true});
    double term = 0, samp = 0;
    int64_t nt = 0, ns = 0;
    for (const auto& c : chains) {
      for (int64_t i = 800; i < 1000; ++i, ++nt) term += c.accept_stat[static_cast<size_t>(i)];
      for (int64_t i = 1000; i < 2000; ++i, ++ns) samp += c.accept_stat[static_cast<size_t>(i)];
    }
    term /= static_cast<double>(nt), samp /= static_cast<double>(ns);
    EXPECT_NEAR(term, delta, 0.03) << "delta " << delta;  // runs gave |term − δ| ≤ 0.014
    EXPECT_GE(samp, delta - 0.03) << "delta " << delta;   // runs gave samp − δ in [−0.005, 0.083]
    EXPECT_LE(samp, delta + 0.1) << "delta " << delta;
  }
}

}  // namespace
}  // namespace trusty::mcmc

namespace trusty::mcmc {
namespace {

// The optimised Nuts against the naive reference (nuts_reference.hpp), transition by
// transition from the same random numbers: same tree depth, step count, divergence flag and
// draw. Targets with several frequencies (where trajectories end by the checks across
// subtrees as well as around them) under unit, diagonal and dense metrics.
TEST(NutsInternals, MatchesNaiveReference) {
  Eigen::MatrixXd cov(4, 4);
  cov << 4, 1.5, 0, 0.2, 1.5, 1, 0.3, 0, 0, 0.3, 0.25, 0.1, 0.2, 0, 0.1, 9;
  const auto density = test::gaussian(Eigen::Vector4d(1, 0, -1, 2), cov);
  for (MetricKind kind : {MetricKind::unit_e, MetricKind::diag_e, MetricKind::dense_e}) {
    Metric metric(kind, 4);
    if (kind == MetricKind::diag_e) metric.set_inv_diag(Eigen::Vector4d(2, 1, 0.5, 3));
    if (kind == MetricKind::dense_e) metric.set_inv_dense(cov * 0.7 + Eigen::MatrixXd::Identity(4, 4) * 0.1);
    Hamiltonian h(*density, metric);
    Nuts fast(h, 10);
    test::NutsReference slow(h, 10);
    PhasePoint a(4), b(4);
    a.q << 3, -2, 0.5, 4;
    h.update(a);
    b = a;
    core::Rng ra(7), rb(7);
    for (int i = 0; i < 400; ++i) {
      const double eps = 0.05 + 0.6 * (i % 7) / 7.0;
      const Transition x = fast.transition(a, eps, ra), y = slow.transition(b, eps, rb);
      ASSERT_EQ(x.treedepth, y.treedepth) << "transition " << i;
      ASSERT_EQ(x.n_leapfrog, y.n_leapfrog) << "transition " << i;
      ASSERT_EQ(x.divergent, y.divergent);
      ASSERT_EQ(x.accept_stat, y.accept_stat);
      ASSERT_TRUE(a.q == b.q) << "transition " << i;
      ASSERT_EQ(x.energy, y.energy);
    }
    EXPECT_GT(slow.ended_across_merge, 0) << "the checks across merges were not exercised";
  }
}

}  // namespace
}  // namespace trusty::mcmc
