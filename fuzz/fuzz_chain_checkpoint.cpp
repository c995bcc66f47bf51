// MCMC chain checkpoints: mcmc::sample with resume = true reads "<checkpoint_path>.chain1"
// (position, step size, metric, adaptation and RNG state, draws so far) and, when it is
// valid, continues a 2-d standard normal chain for a few iterations; each input is read as a
// NUTS and as an HMCLET checkpoint (the file names its algorithm: one of the two is refused
// at once, the other read in full).
#include <string>

#include "fuzz_util.hpp"
#include "trusty/mcmc/sampler.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto file = trusty::fuzz::temp_file(data, size, ".ckpt.chain1");
  static const trusty::mcmc::FunctionDensity normal(2, [](std::span<const double> q, std::span<double> g) {
    g[0] = -q[0], g[1] = -q[1];
    return -0.5 * (q[0] * q[0] + q[1] * q[1]);
  });
  trusty::mcmc::SamplerOptions o;
  o.num_warmup = 10, o.num_samples = 10, o.chains = 1, o.seed = 1;
  o.checkpoint_path = file.substr(0, file.size() - std::string(".chain1").size());
  o.resume = true;
  for (const char* algorithm : {"nuts", "hmclet"}) {
    o.algorithm = algorithm;
    trusty::fuzz::expect_clean([&] { (void)trusty::mcmc::sample(normal, o); });
  }
  return 0;
}
