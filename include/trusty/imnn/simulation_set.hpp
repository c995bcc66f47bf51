// The simulations one IMNN step sees: n_s fiducial simulations and, for the first n_d of
// them, either seed-matched simulations at θ_fid ± δθ/2 (derivative mode 1, finite
// differences) or the derivatives dd/dθ of the data (mode 2, chained with the network's
// input Jacobian). Layouts (as the reference JAX package stores them):
//   fiducial     (n_s, *data_shape)
//   derivatives  (n_d, 2, n_params, *data_shape)   mode 1; index 0 = minus, 1 = plus
//   gradients    (n_d, *data_shape, n_params)      mode 2
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
  Tensor<double> derivatives;       // mode 1 (empty, rank 0, in mode 2)
  std::vector<double> delta_theta;  // mode 1
  Tensor<double> gradients;         // mode 2

  bool seed_matched() const { return derivatives.rank() > 0; }
  int64_t n_s() const { return fiducial.dim(0); }
  int64_t n_d() const { return seed_matched() ? derivatives.dim(0) : gradients.dim(0); }
  int64_t n_params() const { return seed_matched() ? static_cast<int64_t>(delta_theta.size()) : gradients.dim(-1); }
  Shape data_shape() const;
  int64_t data_size() const { return data_shape().numel(); }
  // Throws std::invalid_argument naming `what`, the expected and the found shapes.
  void validate(const std::string& what) const;
  // All simulations as one network batch [n_s + 2·n_d·n_params, data_size]: the fiducial
  // rows first, then the derivative rows in (i, side, param) order (mode 2: the fiducial rows).
  Tensor<double> batch() const;
  // Mode 2: the tangents [n_d·n_params, data_size], row (i, α) = dd_i/dθ_α.
  Tensor<double> tangents() const;
};

// Simulations seed, index first .. first+n_s−1 (derivatives seed-matched to the first n_d).
SimulationSet simulate_set(const sim::Simulator& s, std::span<const double> theta_fid, std::span<const double> delta_theta,
                           uint64_t seed, int64_t first, int64_t n_s, int64_t n_d, int threads = 1);

// Mode 2: n_s simulations and, for the first n_d, the simulator's dd/dθ (throws when the
// simulator has none). Mode 3 (autodiff): dd/dθ by forward mode through the simulator's tape
// form (sim::tape_gradient; throws when it has none).
SimulationSet simulate_gradient_set(const sim::Simulator& s, std::span<const double> theta_fid, uint64_t seed, int64_t first,
                                    int64_t n_s, int64_t n_d, int threads = 1, bool autodiff = false);

// Modes 2 and 3: dd/dθ of simulations first .. first+n−1 as [n, *data_shape, n_params] (n may be 0).
Tensor<double> simulate_gradients(const sim::Simulator& s, std::span<const double> theta_fid, uint64_t seed, int64_t first,
                                  int64_t n, int threads = 1, bool autodiff = false);

// Reads the two .npy files and checks their shapes against each other, n_params and
// (when not empty) data_shape; messages name the file and the expected and found shapes.
SimulationSet load_set(const std::string& fiducial_npy, const std::string& derivatives_npy,
                       std::span<const double> delta_theta, const std::vector<int64_t>& data_shape = {});
// Mode 2: fiducial (n_s, *data_shape) and gradients (n_d, *data_shape, n_params).
SimulationSet load_gradient_set(const std::string& fiducial_npy, const std::string& gradients_npy, int64_t n_params,
                                const std::vector<int64_t>& data_shape = {});

}  // namespace trusty::imnn
