#include "trusty/density/neural_bias_model.hpp"

#include <cmath>
#include <numbers>
#include <stdexcept>

#include "trusty/core/conv.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/nn/multipole.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;
using core::Var;

void BiasModelOptions::validate() const {
  if (components < 1 || components > 16)
    throw std::invalid_argument("BiasModelOptions: components = " + std::to_string(components) + "; expected 1 to 16");
  if (!(prior_sd >= 0) || !std::isfinite(prior_sd))
    throw std::invalid_argument("BiasModelOptions: prior_sd = " + std::to_string(prior_sd) + "; expected >= 0 (0: no prior)");
}

int64_t bias_model_dim(int64_t components) { return kEngineParams + intensity_mdn_size(1, components); }

std::vector<std::string> bias_model_names(int64_t components) {
  std::vector<std::string> n = {"kernel.corner", "kernel.edge", "kernel.face", "kernel.centre", "kernel.bias"};
  for (auto& s : intensity_mdn_names(1, components)) n.push_back(s);
  return n;
}

namespace {

// The ℓ = 0 table's gather index over the 27 kernel entries, its groups checked to be
// corner, edge, face, centre (squared distances 3, 2, 1, 0) in that order.
const std::vector<int64_t>& engine_index() {
  static const std::vector<int64_t> idx = [] {
    const auto t = nn::multipole_table(3, 3, 0);
    if (t.groups != 4) throw std::logic_error("neural_physical_engine: the l = 0 3x3x3 table has " + std::to_string(t.groups) + " groups");
    for (int64_t e = 0; e < 27; ++e) {
      const int64_t i = e / 9 - 1, j = (e / 3) % 3 - 1, k = e % 3 - 1;
      if (t.group[static_cast<size_t>(e)] != 3 - (i * i + j * j + k * k))
        throw std::logic_error("neural_physical_engine: unexpected l = 0 group order");
    }
    return t.group;
  }();
  return idx;
}

}  // namespace

Var<double> neural_physical_engine(const Var<double>& field, const Var<double>& engine_theta) {
  if (field.rank() != 5 || field.dim(0) != 1 || field.dim(1) != 1)
    throw std::invalid_argument("neural_physical_engine: field " + field.shape().str() + "; expected [1, 1, n, n, n]");
  if (engine_theta.numel() != kEngineParams)
    throw std::invalid_argument("neural_physical_engine: " + std::to_string(engine_theta.numel()) + " values; expected 5");
  const Var<double> th = core::reshape(engine_theta, Shape{kEngineParams});
  const Var<double> kernel = core::reshape(core::gather(th, 0, std::span<const int64_t>(engine_index())), Shape{1, 1, 3, 3, 3});
  const Var<double> bias = core::slice(th, 0, 4, 5);
  core::ConvSpec spec;
  spec.dims = 3;
  spec.padding = core::Padding::periodic;
  const Var<double> y = core::softplus(core::conv(field, kernel, bias, spec));
  return core::reshape(y, Shape{y.numel(), 1});
}

IntensityParams<double> bias_model_intensity(const Var<double>& field, const Var<double>& theta, const BiasModelOptions& opt) {
  const int64_t d = bias_model_dim(opt.components);
  if (theta.numel() != d)
    throw std::invalid_argument("neural bias model: theta has " + std::to_string(theta.numel()) + " values; expected " +
                                std::to_string(d));
  const Var<double> th = core::reshape(theta, Shape{d});
  const Var<double> psi = neural_physical_engine(field, core::slice(th, 0, 0, kEngineParams));
  return intensity_mdn(psi, core::slice(th, 0, kEngineParams, d), opt.components, opt.offsets);
}

NeuralBiasModel::NeuralBiasModel(Catalogue catalogue, BiasModelOptions opt) : cat_(std::move(catalogue)), opt_(opt) {
  opt_.validate();
  cat_.validate();
  const int64_t n = cat_.grid();
  poisson_ = {.voxel_volume = cat_.voxel_volume(), .log_threshold = std::log(cat_.mass_threshold)};
  field_ = cat_.field.contiguous().reshape(Shape{1, 1, n, n, n});
  halo_voxel_ = cat_.halo_voxels();
  log_mass_ = Tensor<double>(Shape{cat_.size()});
  for (int64_t j = 0; j < cat_.size(); ++j) log_mass_.data()[j] = std::log(cat_.masses.data()[j]);
  fused_ = std::make_shared<const BiasLikelihood>(std::span<const double>(field_.data(), static_cast<size_t>(field_.numel())), n,
                                                  halo_voxel_, std::span<const double>(log_mass_.data(), static_cast<size_t>(log_mass_.numel())),
                                                  opt_.components, opt_.offsets, poisson_);
}

namespace {
// ln L as one tape node: the fused kernel computes ∂ln L/∂θ with the value; backward scales it.
struct FusedLikelihoodNode final : core::Node<double> {
  const double* dtheta = nullptr;
  void backward() override {
    core::Node<double>* t = this->in[0];
    for (int64_t i = 0; i < t->n; ++i) t->grad[i] += this->grad[0] * dtheta[i];
  }
};
}  // namespace

Var<double> NeuralBiasModel::log_likelihood(const Var<double>& theta) const {
  const int64_t d = dim();
  if (theta.numel() != d)
    throw std::invalid_argument("neural bias model: theta has " + std::to_string(theta.numel()) + " values; expected " +
                                std::to_string(d));
  const Var<double> th = core::reshape(theta, Shape{d});
  auto& tape = core::Tape<double>::current();
  auto* node = tape.make<FusedLikelihoodNode>(Shape{}, th.requires_grad(), "bias_log_likelihood");
  node->in = {th.node()};
  double* dt = tape.alloc(d);
  node->val[0] = (*fused_)(std::span<const double>(th.data(), static_cast<size_t>(d)), std::span<double>(dt, static_cast<size_t>(d)));
  node->dtheta = dt;
  return tape.record(node);
}

Var<double> NeuralBiasModel::log_likelihood_reference(const Var<double>& theta) const {
  const auto p = bias_model_intensity(core::constant_ref(field_), theta, opt_);
  return poisson_log_likelihood(p, halo_voxel_, core::constant_ref(log_mass_), poisson_);
}

double NeuralBiasModel::log_density_and_gradient(std::span<const double> theta, std::span<double> grad) const {
  double lp = (*fused_)(theta, grad);
  if (opt_.prior_sd > 0) {  // Σ ln N(θ_i; 0, sd²), as core::normal_lpdf
    const double sd = opt_.prior_sd, c = std::log(sd) + 0.5 * std::log(2 * std::numbers::pi);
    for (size_t i = 0; i < theta.size(); ++i) {
      const double z = theta[i] / sd;
      lp -= 0.5 * z * z + c;
      if (!grad.empty()) grad[i] -= z / sd;
    }
  }
  return lp;
}

std::vector<double> NeuralBiasModel::expected_counts(std::span<const double> theta) const {
  core::GradScope<double> scope;
  Tensor<double> t(Shape{static_cast<int64_t>(theta.size())}, theta);
  const auto p = bias_model_intensity(core::constant_ref(field_), core::constant(t), opt_);
  return density::expected_counts(p, poisson_).value().to_vector();
}

double NeuralBiasModel::expected_count(std::span<const double> theta) const {
  double s = 0;
  for (double v : expected_counts(theta)) s += v;
  return s;
}

}  // namespace trusty::density
