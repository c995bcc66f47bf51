// The mixture density network's negative log-likelihood as an nn::Loss, so an MDN trains
// with the Trainer, `trusty train` ([train] loss = "mdn", options in [loss]) and Python like
// any other loss. Options (all optional):
//   components = 2, covariance = "diagonal" | "full", sigma = "exp" | "softplus" (diagonal),
//   dims = the target width (checked against the data).
// Also the built-in "mdn_mixture" data: a known 2-component conditional density to test it on.
#pragma once
#include <cstdint>

#include "trusty/core/rng.hpp"
#include "trusty/density/mdn.hpp"
#include "trusty/nn/loss.hpp"

namespace trusty::density {

template <class T>
class MdnLoss final : public nn::Loss<T> {
 public:
  explicit MdnLoss(MdnSpec spec, bool dims_given = true);
  static std::unique_ptr<nn::Loss<T>> from_options(const nn::LossOptions& options);
  std::string name() const override { return "mdn"; }
  int64_t output_width(int64_t target_width) const override;
  core::Var<T> value(const core::Var<T>& out, const core::Tensor<T>* targets, std::span<const int64_t>) const override;
  // The mixture mean Σ_k π_k μ_k per row: [b, dims].
  core::Tensor<T> point_prediction(const core::Tensor<T>& out) const override;
  const MdnSpec& spec() const { return spec_; }

 private:
  MdnSpec spec_;
  bool dims_given_;
};

// Registers "mdn" for float and double (once; later calls do nothing).
void register_losses();

// The built-in test density: x ~ U(−1, 1),
//   y | x ~ π(x) N(1.5x + 0.5, (0.15 + 0.1(x + 1))²) + (1 − π(x)) N(0.5 − x², 0.3²),  π(x) = σ(2x).
double conditional_mixture_log_density(double x, double y);
// n pairs from stream `stream` of seed 20241007: x [n, 1], y [n, 1].
void conditional_mixture_sample(int64_t n, uint64_t stream, core::Tensor<double>& x, core::Tensor<double>& y);

}  // namespace trusty::density
