// The neural bias model's log-likelihood, value and gradient, on a simulated 64³ catalogue
// with about 50,000 halos (float64): writes the catalogue for the PyTorch peer
// (bench/bench_bias.py) and prints JSON {halos, voxels, log_likelihood, gradient_norm,
// evals_per_second: {"1": …, "2": …} (the fused kernel with 1 and 2 threads),
// composite_evals_per_second (the tape-op reference, 1 thread)}.
//   build/bench/bias_bench CATALOGUE.npz [seconds]
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "timer.hpp"
#include "trusty/core/kernels/parallel.hpp"
#include "trusty/density/halo_simulator.hpp"

int main(int argc, char** argv) {
  using namespace trusty;
  if (argc < 2) {
    std::fprintf(stderr, "usage: bias_bench CATALOGUE.npz [seconds]\n");
    return 2;
  }
  const double seconds = argc > 2 ? std::atof(argv[2]) : 2.0;
  density::HaloSimulatorOptions o;
  // Voxel volume 0.063: about 0.2 halos per voxel with the built-in truth, ~50,000 in 64³.
  o.field = {.grid = 64, .box_size = 25.5, .spectral_index = -1.5, .smoothing = 1.5 * 25.5 / 64, .sigma = 0.6};
  const auto cat = density::simulate_catalogue(o, 7);
  density::save_catalogue(argv[1], cat);
  density::BiasModelOptions mo;
  mo.prior_sd = 0;  // the likelihood alone, as the peer computes it
  const density::NeuralBiasModel model(cat, mo);
  const auto theta = density::default_true_theta();
  std::vector<double> g(theta.size());
  const double lnl = model.log_density_and_gradient(theta, g);
  double gn = 0;
  for (double v : g) gn += v * v;
  double rate[2];
  for (int t = 1; t <= 2; ++t) {
    core::kernels::set_parallel_threads(t);
    rate[t - 1] = bench::rate([&] { model.log_density_and_gradient(theta, g); }, seconds);
  }
  core::kernels::set_parallel_threads(1);
  const double composite = bench::rate(
      [&] { core::value_and_grad<double>([&](core::Var<double> th) { return model.log_likelihood_reference(th); }, theta, g); },
      seconds);
  std::printf("{\"halos\": %ld, \"voxels\": %ld, \"log_likelihood\": %.12g, \"gradient_norm\": %.12g, "
              "\"evals_per_second\": {\"1\": %.6g, \"2\": %.6g}, \"composite_evals_per_second\": %.6g}\n",
              static_cast<long>(cat.size()), static_cast<long>(cat.field.numel()), lnl, std::sqrt(gn), rate[0], rate[1], composite);
  return 0;
}
