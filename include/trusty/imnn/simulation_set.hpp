// The simulations one IMNN step sees: n_s fiducial simulations and, for the first n_d of
// them, seed-matched simulations at θ_fid ± δθ/2 for finite-difference derivatives.
// Layouts (as the reference JAX package stores them, and as users save them with numpy):
//   fiducial     (n_s, *data_shape)
//   derivatives  (n_d, 2, n_params, *data_shape)   index 0 = minus, 1 = plus
#pragma once
#include <string>
#include <vector>

#include "trusty/core/tensor.hpp"
#include "trusty/sim/simulator.hpp"

namespace trusty::imnn {

using core::Shape;
using core::Tensor;

struct SimulationSet {
  Tensor<double> fiducial;
  Tensor<double> derivatives;
  std::vector<double> delta_theta;

  int64_t n_s() const { return fiducial.dim(0); }
  int64_t n_d() const { return derivatives.dim(0); }
  int64_t n_params() const { return static_cast<int64_t>(delta_theta.size()); }
  Shape data_shape() const;
  int64_t data_size() const { return data_shape().numel(); }
  // Throws std::invalid_argument naming `what`, the expected and the found shapes.
  void validate(const std::string& what) const;
  // All simulations as one network batch [n_s + 2·n_d·n_params, data_size]: the fiducial
  // rows first, then the derivative rows in (i, side, param) order.
  Tensor<double> batch() const;
};

// Simulations seed, index first .. first+n_s−1 (derivatives seed-matched to the first n_d).
SimulationSet simulate_set(const sim::Simulator& s, std::span<const double> theta_fid, std::span<const double> delta_theta,
                           uint64_t seed, int64_t first, int64_t n_s, int64_t n_d);

// Reads the two .npy files and checks their shapes against each other, n_params and
// (when not empty) data_shape; messages name the file and the expected and found shapes.
SimulationSet load_set(const std::string& fiducial_npy, const std::string& derivatives_npy,
                       std::span<const double> delta_theta, const std::vector<int64_t>& data_shape = {});

}  // namespace trusty::imnn
