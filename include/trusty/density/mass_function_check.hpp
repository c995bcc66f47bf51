// Binned checks of a fitted neural bias model against its catalogue: halo counts in bins of
// (environment density δ, ln M), observed and expected, for posterior predictive checks of
// the halo mass function per density bin.
//   expected count in bin (d, [a, b)) = Σ_{voxels j in d} (λ_j(a) − λ_j(b)),
// λ_j(t) the expected number above mass t (poisson_likelihood.hpp), λ_j(∞) = 0.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

#include "trusty/density/neural_bias_model.hpp"

namespace trusty::density {

struct MassFunctionBins {
  std::vector<double> density_edges;   // nd + 1 quantile edges of δ over voxels
  std::vector<double> log_mass_edges;  // nm + 1 edges in ln M: ln M_th ... , last = +∞
  std::vector<int64_t> voxel_bin;      // the density bin of every voxel
  int64_t density_bins() const { return static_cast<int64_t>(density_edges.size()) - 1; }
  int64_t mass_bins() const { return static_cast<int64_t>(log_mass_edges.size()) - 1; }
};

// nd equally populated density bins; nm mass bins equally spaced in ln M from ln M_th to
// the largest halo's (the last bin open above).
MassFunctionBins make_mass_function_bins(const Catalogue& c, int64_t density_bins, int64_t mass_bins);
// Halos per bin, row-major [nd, nm].
std::vector<double> observed_counts(const Catalogue& c, const MassFunctionBins& b);
// Expected halos per bin at θ, [nd, nm].
std::vector<double> expected_binned_counts(const NeuralBiasModel& m, std::span<const double> theta, const MassFunctionBins& b);

// P(χ²_k > x): the regularised upper incomplete gamma function Q(k/2, x/2).
double chi2_survival(double x, double dof);

}  // namespace trusty::density
