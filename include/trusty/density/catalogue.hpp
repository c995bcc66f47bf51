// A halo catalogue on a periodic grid: the density contrast δ on an n³ grid over a cube of
// side box_size, and halos (positions, masses above a threshold) in that box. Read and
// written as .npz that numpy opens:
//   field [n, n, n] f8        δ on the grid; voxel (i, j, k) covers [i, i+1)·L/n × ...
//   positions [H, 3] f8       in the box's length unit, each coordinate in [0, box_size)
//   masses [H] f8             each ≥ mass_threshold
//   box_size [] f8, mass_threshold [] f8
// Loading validates everything and throws std::invalid_argument naming the file, the array
// and the first bad index: masses below the threshold, halos outside the box, a field that
// is not a cube, non-finite values, missing arrays, mismatched lengths.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "trusty/core/tensor.hpp"

namespace trusty::density {

struct Catalogue {
  core::Tensor<double> field;      // [n, n, n]
  core::Tensor<double> positions;  // [H, 3]
  core::Tensor<double> masses;     // [H]
  double box_size = 1;
  double mass_threshold = 1;

  int64_t grid() const { return field.rank() == 3 ? field.dim(0) : 0; }
  int64_t size() const { return masses.numel(); }
  double voxel_volume() const;
  // The flat voxel index (i·n + j)·n + k of every halo.
  std::vector<int64_t> halo_voxels() const;
  // Throws std::invalid_argument naming `what` (the file), the array and the index.
  void validate(const std::string& what = "catalogue") const;
};

void save_catalogue(const std::string& path, const Catalogue& c);  // atomic
Catalogue load_catalogue(const std::string& path);                // validated

}  // namespace trusty::density
