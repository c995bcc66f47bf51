#include "trusty/density/mdn.hpp"

#include <array>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "trusty/core/ops.hpp"

namespace trusty::density {

using core::Shape;

Covariance parse_covariance(const std::string& s) {
  if (s == "diagonal") return Covariance::diagonal;
  if (s == "full") return Covariance::full;
  throw std::invalid_argument("mdn: covariance '" + s + "' is not one of diagonal, full");
}

void MdnSpec::validate() const {
  if (components < 1) throw std::invalid_argument("MdnSpec: components = " + std::to_string(components) + "; expected >= 1");
  if (dims < 1) throw std::invalid_argument("MdnSpec: dims = " + std::to_string(dims) + "; expected >= 1");
  if (softplus_sigma && covariance == Covariance::full)
    throw std::invalid_argument("MdnSpec: softplus_sigma applies to the diagonal covariance only");
}

int64_t MdnSpec::output_size() const {
  const int64_t per = covariance == Covariance::diagonal ? dims : dims * (dims + 1) / 2;
  return components * (1 + dims + per);
}

template <class T>
Var<T> mixture_log_prob(const Var<T>& log_weights, const Var<T>& component_log_prob) {
  return core::logsumexp(core::add(log_weights, component_log_prob), -1);
}

namespace {

// Index of U's entry (i, j), i <= j, within one component's D(D+1)/2 raw values.
int64_t tri_index(int64_t i, int64_t j, int64_t d) { return i * d - i * (i - 1) / 2 + (j - i); }

// Full covariance: the components' ln N [N, K] from means [N, K, D] and raw [N, K, D(D+1)/2].
template <class T>
Var<T> full_component_log_prob(const Var<T>& diff, const Var<T>& raw, int64_t n, int64_t k, int64_t d) {
  const int64_t t = d * (d + 1) / 2;
  std::vector<int64_t> diag_idx, off_idx;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = i; j < d; ++j) (i == j ? diag_idx : off_idx).push_back(tri_index(i, j, d));
  const Var<T> log_diag = core::gather(raw, 2, std::span<const int64_t>(diag_idx));  // [N, K, D]
  std::vector<Var<T>> parts = {core::exp(log_diag)};
  if (!off_idx.empty()) parts.push_back(core::gather(raw, 2, std::span<const int64_t>(off_idx)));
  parts.push_back(core::constant(Tensor<T>(Shape{n, k, 1})));  // the zeros below the diagonal
  const Var<T> packed = core::concat(std::span<const Var<T>>(parts), 2);  // [N, K, D + off + 1]
  // Dense U [N, K, D, D]: (i, j) reads the diagonal, the off-diagonal part or the zero.
  std::vector<int64_t> dense(static_cast<size_t>(d * d));
  int64_t off = 0;
  for (int64_t i = 0; i < d; ++i)
    for (int64_t j = 0; j < d; ++j) dense[static_cast<size_t>(i * d + j)] = j < i ? d + (t - d) : i == j ? i : d + off++;
  const Var<T> u = core::reshape(core::gather(packed, 2, std::span<const int64_t>(dense)), Shape{n, k, d, d});
  const std::array<int, 1> ax3{3}, ax2{2};
  const Var<T> ud = core::sum(core::mul(u, core::reshape(diff, Shape{n, k, 1, d})), ax3);  // U (y − μ)
  const Var<T> quad = core::sum(core::square(ud), ax2);
  return core::add_scalar(core::sub(core::sum(log_diag, ax2), core::scale(quad, T(0.5))),
                          static_cast<T>(-0.5 * static_cast<double>(d) * std::log(2 * std::numbers::pi)));
}

}  // namespace

template <class T>
Var<T> mdn_log_prob(const Var<T>& out, const Var<T>& y, const MdnSpec& spec) {
  spec.validate();
  const int64_t k = spec.components, d = spec.dims;
  if (out.rank() != 2 || out.dim(1) != spec.output_size())
    throw std::invalid_argument("mdn_log_prob: network output " + out.shape().str() + "; expected [N, " +
                                std::to_string(spec.output_size()) + "] for " + std::to_string(k) + " components in " +
                                std::to_string(d) + " dimensions");
  const int64_t n = out.dim(0);
  if (y.numel() != n * d)
    throw std::invalid_argument("mdn_log_prob: targets " + y.shape().str() + "; expected [" + std::to_string(n) + ", " +
                                std::to_string(d) + "]");
  const Var<T> log_pi = core::log_softmax(core::slice(out, 1, 0, k), -1);
  const Var<T> mu = core::reshape(core::slice(out, 1, k, k + k * d), Shape{n, k, d});
  const Var<T> diff = core::sub(core::reshape(y, Shape{n, 1, d}), mu);
  const Var<T> raw = core::slice(out, 1, k + k * d, spec.output_size());
  Var<T> comp;
  if (spec.covariance == Covariance::diagonal) {
    const Var<T> r = core::reshape(raw, Shape{n, k, d});
    const Var<T> sigma = spec.softplus_sigma ? core::softplus(r) : core::exp(r);
    const std::array<int, 1> ax2{2};
    comp = core::sum(core::normal_log_prob(diff, core::constant(T(0)), sigma), ax2);
  } else {
    comp = full_component_log_prob(diff, core::reshape(raw, Shape{n, k, d * (d + 1) / 2}), n, k, d);
  }
  return mixture_log_prob(log_pi, comp);
}

template <class T>
Var<T> mdn_nll(const Var<T>& out, const Var<T>& y, const MdnSpec& spec) {
  return core::neg(core::mean(mdn_log_prob(out, y, spec)));
}

MdnMixture mdn_mixture(std::span<const double> row, const MdnSpec& spec) {
  spec.validate();
  const int64_t k = spec.components, d = spec.dims;
  if (static_cast<int64_t>(row.size()) != spec.output_size())
    throw std::invalid_argument("mdn_mixture: row of " + std::to_string(row.size()) + " values; expected " +
                                std::to_string(spec.output_size()));
  MdnMixture m;
  double top = row[0];
  for (int64_t c = 1; c < k; ++c) top = std::max(top, row[static_cast<size_t>(c)]);
  double z = 0;
  for (int64_t c = 0; c < k; ++c) z += std::exp(row[static_cast<size_t>(c)] - top);
  const bool diag = spec.covariance == Covariance::diagonal;
  const int64_t per = diag ? d : d * (d + 1) / 2;
  for (int64_t c = 0; c < k; ++c) {
    m.weights.push_back(std::exp(row[static_cast<size_t>(c)] - top) / z);
    const double* mu = row.data() + k + c * d;
    m.means.emplace_back(mu, mu + d);
    const double* r = row.data() + k + k * d + c * per;
    std::vector<double> s;
    if (diag) {
      for (int64_t i = 0; i < d; ++i) s.push_back(spec.softplus_sigma ? std::log1p(std::exp(r[i])) : std::exp(r[i]));
    } else {
      s.assign(static_cast<size_t>(d * d), 0.0);
      for (int64_t i = 0; i < d; ++i)
        for (int64_t j = i; j < d; ++j) {
          const double v = r[tri_index(i, j, d)];
          s[static_cast<size_t>(i * d + j)] = i == j ? std::exp(v) : v;
        }
    }
    m.scale.push_back(std::move(s));
  }
  return m;
}

Tensor<double> mdn_sample(const Tensor<double>& out, const MdnSpec& spec, core::Rng& rng) {
  if (out.rank() != 2 || out.dim(1) != spec.output_size())
    throw std::invalid_argument("mdn_sample: network output " + out.shape().str() + "; expected [N, " +
                                std::to_string(spec.output_size()) + "]");
  const int64_t n = out.dim(0), d = spec.dims;
  const Tensor<double> o = out.contiguous();
  Tensor<double> y(Shape{n, d});
  std::vector<double> z(static_cast<size_t>(d));
  for (int64_t r = 0; r < n; ++r) {
    const MdnMixture m = mdn_mixture(std::span<const double>(o.data() + r * o.dim(1), static_cast<size_t>(o.dim(1))), spec);
    double u = rng.uniform(), acc = 0;
    size_t c = 0;
    for (; c + 1 < m.weights.size(); ++c)
      if ((acc += m.weights[c]) > u) break;
    for (auto& v : z) v = rng.normal();
    double* yr = y.data() + r * d;
    const auto& s = m.scale[c];
    if (spec.covariance == Covariance::diagonal) {
      for (int64_t i = 0; i < d; ++i) yr[i] = m.means[c][static_cast<size_t>(i)] + s[static_cast<size_t>(i)] * z[static_cast<size_t>(i)];
      continue;
    }
    for (int64_t i = d - 1; i >= 0; --i) {  // U x = z, U upper triangular
      double v = z[static_cast<size_t>(i)];
      for (int64_t j = i + 1; j < d; ++j) v -= s[static_cast<size_t>(i * d + j)] * yr[j];
      yr[i] = v / s[static_cast<size_t>(i * d + i)];
    }
    for (int64_t i = 0; i < d; ++i) yr[i] += m.means[c][static_cast<size_t>(i)];
  }
  return y;
}

#define TRUSTY_MDN(T)                                                               \
  template Var<T> mixture_log_prob<T>(const Var<T>&, const Var<T>&);               \
  template Var<T> mdn_log_prob<T>(const Var<T>&, const Var<T>&, const MdnSpec&);  \
  template Var<T> mdn_nll<T>(const Var<T>&, const Var<T>&, const MdnSpec&);
TRUSTY_MDN(float)
TRUSTY_MDN(double)
#undef TRUSTY_MDN

}  // namespace trusty::density
