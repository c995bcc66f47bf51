// Multipole kernels (neural physical engines): convolution kernels whose entries are tied by
// rotational symmetry, so that a kernel has few free weights (REFERENCE.md §5).
//
// For a kernel of side k in 2 or 3 dimensions, entry positions are taken relative to the
// centre, (x, y) = (i0 - c, i1 - c) in 2-D and (x, y, z) = (i0 - c, i1 - c, i2 - c) in 3-D,
// c = (k - 1) / 2. Two entries share a weight when their keys are equal:
//   2-D: r cos(ℓφ),            φ = atan2(y, x)
//   3-D: r Y_ℓm(θ, φ),         the real spherical harmonic, θ = acos(z / r), φ = atan2(y, x)
// (0 at the centre). ℓ = 0 ties entries at equal distance: a 3×3×3 kernel has 4 free
// weights (centre, faces, edges, corners).
#pragma once
#include <cstdint>
#include <vector>

namespace trusty::nn {

struct MultipoleTable {
  std::vector<int64_t> group;  // group index of every kernel entry, row-major over k^dims
  int64_t groups = 0;          // number of free weights
};

// Groups are numbered in order of first appearance in row-major order.
MultipoleTable multipole_table(int dims, int64_t k, int ell, int m = 0);

// Real spherical harmonic Y_ℓm at (θ, φ) (orthonormal, Condon–Shortley phase).
double real_spherical_harmonic(int ell, int m, double theta, double phi);

}  // namespace trusty::nn
