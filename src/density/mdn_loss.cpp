#include "trusty/density/mdn_loss.hpp"

#include <cmath>
#include <mutex>
#include <numbers>
#include <stdexcept>

#include "trusty/core/ops.hpp"

namespace trusty::density {

using core::Shape;
using core::Tensor;
using core::Var;

template <class T>
MdnLoss<T>::MdnLoss(MdnSpec spec, bool dims_given) : spec_(spec), dims_given_(dims_given) {
  spec_.validate();
}

template <class T>
std::unique_ptr<nn::Loss<T>> MdnLoss<T>::from_options(const nn::LossOptions& o) {
  nn::check_loss_options("mdn", o, {"components", "covariance", "sigma", "dims"});
  MdnSpec s;
  auto integer = [&](const char* key, int64_t def) {
    const auto it = o.find(key);
    if (it == o.end()) return def;
    try {
      size_t used = 0;
      const int64_t v = std::stoll(it->second, &used);
      if (used == it->second.size()) return v;
    } catch (const std::exception&) {
    }
    throw std::invalid_argument("loss 'mdn': option " + std::string(key) + " = '" + it->second + "'; expected an integer");
  };
  s.components = integer("components", 2);
  s.dims = integer("dims", 1);
  if (o.count("covariance")) s.covariance = parse_covariance(o.at("covariance"));
  if (o.count("sigma")) {
    const auto& v = o.at("sigma");
    if (v != "exp" && v != "softplus") throw std::invalid_argument("loss 'mdn': option sigma = '" + v + "'; expected exp or softplus");
    s.softplus_sigma = v == "softplus";
  }
  return std::make_unique<MdnLoss<T>>(s, o.count("dims") > 0);
}

template <class T>
int64_t MdnLoss<T>::output_width(int64_t target_width) const {
  if (dims_given_ && target_width != spec_.dims)
    throw std::invalid_argument("loss 'mdn': dims = " + std::to_string(spec_.dims) + " but the targets have " +
                                std::to_string(target_width) + " columns");
  MdnSpec s = spec_;
  s.dims = target_width;
  return s.output_size();
}

template <class T>
Var<T> MdnLoss<T>::value(const Var<T>& out, const Tensor<T>* targets, std::span<const int64_t>) const {
  if (!targets) throw std::invalid_argument("loss 'mdn' needs target values");
  MdnSpec s = spec_;
  s.dims = targets->rank() == 2 ? targets->dim(1) : 1;
  return mdn_nll(out, core::constant_ref(*targets), s);
}

template <class T>
Tensor<T> MdnLoss<T>::point_prediction(const Tensor<T>& out) const {
  MdnSpec s = spec_;
  // The width tells dims: K(1 + D + D) (diagonal) or K(1 + D + D(D+1)/2) (full).
  for (int64_t d = 1; d <= 64; ++d) {
    s.dims = d;
    if (s.output_size() == out.dim(-1)) break;
  }
  const int64_t n = out.dim(0), d = s.dims, w = out.dim(-1);
  const Tensor<T> o = out.contiguous();
  Tensor<T> pred(Shape{n, d});
  std::vector<double> row(static_cast<size_t>(w));
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t j = 0; j < w; ++j) row[static_cast<size_t>(j)] = static_cast<double>(o.data()[r * w + j]);
    const MdnMixture m = mdn_mixture(row, s);
    for (int64_t j = 0; j < d; ++j) {
      double v = 0;
      for (size_t k = 0; k < m.weights.size(); ++k) v += m.weights[k] * m.means[k][static_cast<size_t>(j)];
      pred.data()[r * d + j] = static_cast<T>(v);
    }
  }
  return pred;
}

void register_losses() {
  static std::once_flag once;
  std::call_once(once, [] {
    nn::register_loss<float>("mdn", &MdnLoss<float>::from_options);
    nn::register_loss<double>("mdn", &MdnLoss<double>::from_options);
  });
}

namespace {
double normal_pdf(double y, double m, double s) {
  const double z = (y - m) / s;
  return std::exp(-0.5 * z * z) / (s * std::sqrt(2 * std::numbers::pi));
}
struct Truth {
  double pi, m1, s1, m2, s2;
};
Truth truth_at(double x) {
  return {1 / (1 + std::exp(-2 * x)), 1.5 * x + 0.5, 0.15 + 0.1 * (x + 1), 0.5 - x * x, 0.3};
}
}  // namespace

double conditional_mixture_log_density(double x, double y) {
  const Truth t = truth_at(x);
  return std::log(t.pi * normal_pdf(y, t.m1, t.s1) + (1 - t.pi) * normal_pdf(y, t.m2, t.s2));
}

void conditional_mixture_sample(int64_t n, uint64_t stream, Tensor<double>& x, Tensor<double>& y) {
  core::Rng rng(20241007, stream);
  x = Tensor<double>(Shape{n, 1});
  y = Tensor<double>(Shape{n, 1});
  for (int64_t i = 0; i < n; ++i) {
    const double xi = rng.uniform(-1, 1);
    const Truth t = truth_at(xi);
    const bool first = rng.uniform() < t.pi;
    x.data()[i] = xi;
    y.data()[i] = first ? t.m1 + t.s1 * rng.normal() : t.m2 + t.s2 * rng.normal();
  }
}

template class MdnLoss<float>;
template class MdnLoss<double>;

}  // namespace trusty::density
