// The samplers' inner loops allocate nothing: malloc is interposed in this test binary
// (glibc's __libc_malloc underneath) and counted while transitions run. Eigen allocates with
// malloc, operator new does too.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>

#include "mcmc/targets.hpp"
#include "sanitizers.hpp"
#include "trusty/mcmc/hmclet.hpp"
#include "trusty/mcmc/nuts.hpp"
#include "trusty/mcmc/static_hmc.hpp"
#include "trusty/mcmc/transforms.hpp"

// AddressSanitizer replaces malloc itself (and initialises before globals, where the counter
// below is not yet usable), so under ASan nothing is interposed and the tests skip.
namespace {
std::atomic<long> g_mallocs{0};
}

#if !TRUSTY_UNDER_ASAN
extern "C" {
void* __libc_malloc(size_t);
void* __libc_calloc(size_t, size_t);
void* __libc_realloc(void*, size_t);
}

extern "C" void* malloc(size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_malloc(n);
}
extern "C" void* calloc(size_t a, size_t b) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_calloc(a, b);
}
extern "C" void* realloc(void* p, size_t n) {
  g_mallocs.fetch_add(1, std::memory_order_relaxed);
  return __libc_realloc(p, n);
}
#endif

namespace trusty::mcmc {
namespace {

// A Gaussian written to allocate nothing itself.
class Gaussian : public LogDensity {
 public:
  int64_t dim() const override { return 6; }
  double log_density_and_gradient(std::span<const double> q, std::span<double> g) const override {
    double lp = 0;
    for (size_t i = 0; i < q.size(); ++i) {
      const double s = 0.5 + static_cast<double>(i);
      g[i] = -q[i] / (s * s);
      lp += 0.5 * q[i] * g[i];
    }
    return lp;
  }
};

TEST(Allocation, TransitionsAllocateNothing) {
  if (TRUSTY_UNDER_ASAN) GTEST_SKIP() << "malloc is not interposed under AddressSanitizer";
  const long probe = g_mallocs.load();
  void* volatile p = std::malloc(64);
  std::free(p);
  ASSERT_GT(g_mallocs.load() - probe, 0) << "malloc is not interposed: this test cannot see allocations";
  const Gaussian f;
  for (MetricKind kind : {MetricKind::unit_e, MetricKind::diag_e, MetricKind::dense_e}) {
    Metric metric(kind, 6);
    Hamiltonian h(f, metric);
    Nuts nuts(h, 10);
    StaticHmc hmc(h, 0, 3.0);
    Hmclet hmclet(h, {.eps_max = 0.4, .L_max = 8});
    PhasePoint z(6);
    z.q.setConstant(0.3);
    h.update(z);
    core::Rng rng(51);
    nuts.transition(z, 0.4, rng);  // first use
    const long before = g_mallocs.load();
    int64_t steps = 0;
    for (int i = 0; i < 50; ++i) steps += nuts.transition(z, 0.4, rng).n_leapfrog;
    for (int i = 0; i < 50; ++i) steps += hmc.transition(z, 0.4, rng).n_leapfrog;
    double eps;
    for (int i = 0; i < 50; ++i) steps += hmclet.transition(z, false, rng, eps).n_leapfrog;  // sampling
    EXPECT_EQ(g_mallocs.load() - before, 0) << metric_name(kind) << " over " << steps << " leapfrog steps";
  }
}

// The transforms' value and gradient (after a thread's first call sized its scratch).
TEST(Allocation, TransformedDensityAllocatesNothing) {
  if (TRUSTY_UNDER_ASAN) GTEST_SKIP() << "malloc is not interposed under AddressSanitizer";
  TransformedDensity d(ParamSpec({{.name = "s", .kind = TransformKind::positive},
                                  {.name = "w", .size = 4, .kind = TransformKind::simplex},
                                  {.name = "r", .size = 2, .kind = TransformKind::interval, .lower = 0, .upper = 3}}),
                       [](std::span<const double> x, std::span<double> g) {
                         double lp = 0;
                         for (size_t i = 0; i < x.size(); ++i) lp -= x[i] * x[i], g[i] = -2 * x[i];
                         return lp;
                       });
  std::vector<double> y(6, 0.1), g(6);
  d.log_density_and_gradient(y, g);
  const long before = g_mallocs.load();
  for (int i = 0; i < 100; ++i) d.log_density_and_gradient(y, g);
  EXPECT_EQ(g_mallocs.load() - before, 0);
}

}  // namespace
}  // namespace trusty::mcmc
