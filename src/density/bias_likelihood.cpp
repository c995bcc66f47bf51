#include "trusty/density/bias_likelihood.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <stdexcept>
#include <string>

#include "trusty/core/kernels/parallel.hpp"
#include "trusty/core/kernels/reduce.hpp"
#include "trusty/core/kernels/vmath.hpp"

namespace trusty::density {

namespace {

using core::kernels::VFun;
using core::kernels::vmath;
// Sums with 16 partial sums (vectorised, the same order on every run).
double dot(int64_t n, const double* a, const double* b) { return core::kernels::dot(a, b, n); }
double total(int64_t n, const double* a) { return core::kernels::sum(a, n); }

constexpr int64_t kBlock = 128;  // points per block: the block's arrays stay in L1/L2
constexpr int64_t kMaxComponents = 16;

// softplus(x) = max(x, 0) + log1p(e^{−|x|}) and its slope, the logistic function
// 1/(1 + e^{−x}), from the one exponential e^{−|x|}.
void softplus_and_slope(int64_t n, const double* x, double* sp, double* slope) {
  for (int64_t i = 0; i < n; ++i) slope[i] = -std::abs(x[i]);
  vmath(VFun::exp, n, slope, slope);
  vmath(VFun::log1p, n, slope, sp);
  for (int64_t i = 0; i < n; ++i) {
    const double e = slope[i], r = 1 / (1 + e);
    sp[i] += std::max(x[i], 0.0);
    slope[i] = x[i] >= 0 ? r : e * r;
  }
}

// The parameters of one evaluation, unpacked from θ (offsets added to the biases).
struct Params {
  double w[4], bias;
  double hw[kMaxComponents][3], hb[kMaxComponents][3];  // head h = 0 α, 1 μ, 2 σ
};

// Shared array slots of a block, then per component c the slots at comp(c, j).
enum : int64_t { kZ, kPsi, kPsiSlope, kT1, kT2, kT3, kT4, kShared };
enum : int64_t { kAlpha, kAlphaSlope, kSigma, kSigmaSlope, kPre, kMu, kGAlpha, kGMu, kGSigma, kTmp, kPerComponent };

struct Scratch {
  explicit Scratch(int64_t k) : mem(static_cast<size_t>(kBlock * (kShared + kPerComponent * k))) {}
  double* at(int64_t j) { return mem.data() + j * kBlock; }
  double* comp(int64_t c, int64_t j) { return at(kShared + kPerComponent * c + j); }
  std::vector<double> mem;
};

}  // namespace

struct BiasLikelihood::Half {
  double value = 0;
  std::vector<double> grad;
};

BiasLikelihood::BiasLikelihood(std::span<const double> field, int64_t grid, std::span<const int64_t> halo_voxel,
                               std::span<const double> log_mass, int64_t components, const IntensityOffsets& offsets,
                               const PoissonOptions& poisson)
    : k_(components), offsets_(offsets), poisson_(poisson) {
  poisson_.validate();
  if (components < 1 || components > kMaxComponents)
    throw std::invalid_argument("BiasLikelihood: components = " + std::to_string(components) + "; expected 1 to 16");
  if (grid < 1 || static_cast<int64_t>(field.size()) != grid * grid * grid)
    throw std::invalid_argument("BiasLikelihood: " + std::to_string(field.size()) + " field values for grid " +
                                std::to_string(grid) + "; expected grid³");
  if (halo_voxel.size() != log_mass.size())
    throw std::invalid_argument("BiasLikelihood: " + std::to_string(log_mass.size()) + " masses for " +
                                std::to_string(halo_voxel.size()) + " halo voxels");
  const int64_t n = grid;
  voxels_ = n * n * n;
  halos_ = static_cast<int64_t>(halo_voxel.size());
  group_.assign(static_cast<size_t>(4 * voxels_), 0.0);
  for (int64_t x = 0; x < n; ++x)
    for (int64_t y = 0; y < n; ++y)
      for (int64_t z = 0; z < n; ++z) {
        const int64_t v = (x * n + y) * n + z;
        for (int64_t dx = -1; dx <= 1; ++dx)
          for (int64_t dy = -1; dy <= 1; ++dy)
            for (int64_t dz = -1; dz <= 1; ++dz) {
              const int64_t g = 3 - (dx * dx + dy * dy + dz * dz);  // corner 0, edge 1, face 2, centre 3
              const int64_t src = (((x + dx + n) % n) * n + (y + dy + n) % n) * n + (z + dz + n) % n;
              group_[static_cast<size_t>(g * voxels_ + v)] += field[static_cast<size_t>(src)];
            }
      }
  halo_group_.resize(static_cast<size_t>(4 * halos_));
  for (int64_t j = 0; j < halos_; ++j) {
    const int64_t v = halo_voxel[static_cast<size_t>(j)];
    if (v < 0 || v >= voxels_)
      throw std::invalid_argument("BiasLikelihood: halo " + std::to_string(j) + " is in voxel " + std::to_string(v) +
                                  ", outside [0, " + std::to_string(voxels_) + ")");
    for (int64_t g = 0; g < 4; ++g)
      halo_group_[static_cast<size_t>(g * halos_ + j)] = group_[static_cast<size_t>(g * voxels_ + v)];
  }
  log_mass_.assign(log_mass.begin(), log_mass.end());
}

int64_t BiasLikelihood::dim() const { return 5 + 6 * k_; }

void BiasLikelihood::run_half(const double* theta, int64_t v0, int64_t v1, int64_t h0, int64_t h1, Half& out) const {
  const int64_t k = k_, d = dim();
  Params p{};
  for (int g = 0; g < 4; ++g) p.w[g] = theta[g];
  p.bias = theta[4];
  for (int64_t c = 0; c < k; ++c)
    for (int h = 0; h < 3; ++h) {
      p.hw[c][h] = theta[5 + 6 * c + 2 * h];
      const double off = h == 0 ? offsets_.alpha : h == 2 ? offsets_.sigma : c == 0 ? offsets_.mu : 0.0;
      p.hb[c][h] = theta[5 + 6 * c + 2 * h + 1] + off;
    }
  out.value = 0;
  out.grad.assign(static_cast<size_t>(d), 0.0);
  double* gr = out.grad.data();
  Scratch s(k);
  const double lth = poisson_.log_threshold, h = 0.5 * poisson_.voxel_volume;
  const double rt2 = std::numbers::sqrt2, two_over_rtpi = 2 / std::sqrt(std::numbers::pi),
               rt2_over_pi = std::sqrt(2 / std::numbers::pi), c_norm = 0.5 * std::log(2 * std::numbers::pi);

  // The intensity's parameters for the block's points from their S_g; then, given ∂/∂α,
  // ∂/∂μ, ∂/∂σ per point in kGAlpha/kGMu/kGSigma, the chain rule into gr.
  auto forward = [&](int64_t n, const double* const sg[4]) {
    double *z = s.at(kZ), *psi = s.at(kPsi);
    for (int64_t i = 0; i < n; ++i) z[i] = p.bias + p.w[0] * sg[0][i] + p.w[1] * sg[1][i] + p.w[2] * sg[2][i] + p.w[3] * sg[3][i];
    softplus_and_slope(n, z, psi, s.at(kPsiSlope));
    for (int64_t c = 0; c < k; ++c) {
      double* pre = s.comp(c, kTmp);
      for (int64_t i = 0; i < n; ++i) pre[i] = psi[i] * p.hw[c][0] + p.hb[c][0];
      softplus_and_slope(n, pre, s.comp(c, kAlpha), s.comp(c, kAlphaSlope));
      for (int64_t i = 0; i < n; ++i) pre[i] = psi[i] * p.hw[c][2] + p.hb[c][2];
      softplus_and_slope(n, pre, s.comp(c, kSigma), s.comp(c, kSigmaSlope));
      double *pm = s.comp(c, kPre), *mu = s.comp(c, kMu);
      for (int64_t i = 0; i < n; ++i) pm[i] = psi[i] * p.hw[c][1] + p.hb[c][1];
      if (c == 0)
        std::copy(pm, pm + n, mu);
      else {
        const double* prev = s.comp(c - 1, kMu);
        for (int64_t i = 0; i < n; ++i) mu[i] = prev[i] + std::max(pm[i], 0.0);
      }
    }
  };
  auto backward = [&](int64_t n, const double* const sg[4]) {
    const double* psi = s.at(kPsi);
    double *gpsi = s.at(kT1), *carry = s.at(kT2), *gpre = s.at(kT3);
    std::fill(gpsi, gpsi + n, 0.0);
    std::fill(carry, carry + n, 0.0);
    for (int64_t c = k - 1; c >= 0; --c) {
      // μ_c = μ_{c−1} + ReLU(pre): ∂/∂pre_c is the sum of ∂/∂μ_j over j ≥ c, gated by the ReLU.
      const double *gmu = s.comp(c, kGMu), *pm = s.comp(c, kPre);
      for (int64_t i = 0; i < n; ++i) carry[i] += gmu[i];
      for (int64_t i = 0; i < n; ++i) gpre[i] = c == 0 || pm[i] > 0 ? carry[i] : 0.0;
      const int64_t base = 5 + 6 * c;
      auto head = [&](int hd, const double* g) {
        gr[base + 2 * hd] += dot(n, g, psi);
        gr[base + 2 * hd + 1] += total(n, g);
        const double w = p.hw[c][hd];
        for (int64_t i = 0; i < n; ++i) gpsi[i] += g[i] * w;
      };
      head(1, gpre);
      double *ga = s.comp(c, kGAlpha), *gs = s.comp(c, kGSigma);
      const double *sa = s.comp(c, kAlphaSlope), *ss = s.comp(c, kSigmaSlope);
      for (int64_t i = 0; i < n; ++i) {
        ga[i] *= sa[i];
        gs[i] *= ss[i];
      }
      head(0, ga);
      head(2, gs);
    }
    const double* slope = s.at(kPsiSlope);
    for (int64_t i = 0; i < n; ++i) gpsi[i] *= slope[i];
    for (int g = 0; g < 4; ++g) gr[g] += dot(n, gpsi, sg[g]);
    gr[4] += total(n, gpsi);
  };

  // Voxels: ln L −= Σ λ.
  for (int64_t b = v0; b < v1; b += kBlock) {
    const int64_t n = std::min(kBlock, v1 - b);
    const double* sg[4];
    for (int g = 0; g < 4; ++g) sg[g] = group_.data() + g * voxels_ + b;
    forward(n, sg);
    double *t1 = s.at(kT1), *t2 = s.at(kT2), *t3 = s.at(kT3), *lam = s.at(kT4);
    for (int64_t c = 0; c < k; ++c) {
      const double *al = s.comp(c, kAlpha), *mu = s.comp(c, kMu), *sd = s.comp(c, kSigma);
      double* a = s.comp(c, kTmp);
      for (int64_t i = 0; i < n; ++i) {
        const double s2 = sd[i] * sd[i];
        a[i] = (lth - mu[i] - s2) / (rt2 * sd[i]);
        t1[i] = 0.5 * s2;
        t2[i] = t1[i] - a[i] * a[i];
      }
      vmath(VFun::exp, n, t1, t1);  // e^{σ²/2}
      vmath(VFun::exp, n, t2, t2);  // e^{σ²/2 − a²}
      vmath(VFun::erfc, n, a, t3);  // erfc(a)
      double *ga = s.comp(c, kGAlpha), *gm = s.comp(c, kGMu), *gs = s.comp(c, kGSigma);
      for (int64_t i = 0; i < n; ++i) {
        const double ec = h * t1[i] * t3[i];  // ∂λ/∂α
        lam[i] = al[i] * ec;
        ga[i] = -ec;
        gm[i] = -h * al[i] * rt2_over_pi * t2[i] / sd[i];
        gs[i] = -h * al[i] * (sd[i] * t1[i] * t3[i] + two_over_rtpi * t2[i] * ((lth - mu[i]) / (rt2 * sd[i] * sd[i]) + 1 / rt2));
      }
      out.value -= total(n, lam);
    }
    backward(n, sg);
  }

  // Halos: ln L += Σ_j logsumexp_i t_ij.
  for (int64_t b = h0; b < h1; b += kBlock) {
    const int64_t n = std::min(kBlock, h1 - b);
    const double* sg[4];
    for (int g = 0; g < 4; ++g) sg[g] = halo_group_.data() + g * halos_ + b;
    const double* u = log_mass_.data() + b;
    forward(n, sg);
    double *top = s.at(kT1), *acc = s.at(kT2), *ls = s.at(kT3);
    std::fill(top, top + n, -std::numeric_limits<double>::infinity());
    for (int64_t c = 0; c < k; ++c) {
      const double *mu = s.comp(c, kMu), *sd = s.comp(c, kSigma);
      double* t = s.comp(c, kTmp);
      vmath(VFun::log, n, s.comp(c, kAlpha), t);
      vmath(VFun::log, n, sd, ls);
      for (int64_t i = 0; i < n; ++i) {
        const double dd = (u[i] - mu[i]) / sd[i];
        t[i] += -mu[i] - ls[i] - c_norm - 0.5 * dd * dd;
        top[i] = std::max(top[i], t[i]);
      }
    }
    for (int64_t c = 0; c < k; ++c) {
      double* t = s.comp(c, kTmp);
      for (int64_t i = 0; i < n; ++i) t[i] -= top[i];
      vmath(VFun::exp, n, t, t);
    }
    std::fill(acc, acc + n, 0.0);
    for (int64_t c = 0; c < k; ++c) {
      const double* e = s.comp(c, kTmp);
      for (int64_t i = 0; i < n; ++i) acc[i] += e[i];
    }
    vmath(VFun::log, n, acc, ls);
    for (int64_t i = 0; i < n; ++i) ls[i] += top[i];
    out.value += total(n, ls);
    for (int64_t i = 0; i < n; ++i) acc[i] = 1 / acc[i];
    for (int64_t c = 0; c < k; ++c) {
      const double *e = s.comp(c, kTmp), *al = s.comp(c, kAlpha), *mu = s.comp(c, kMu), *sd = s.comp(c, kSigma);
      double *ga = s.comp(c, kGAlpha), *gm = s.comp(c, kGMu), *gs = s.comp(c, kGSigma);
      for (int64_t i = 0; i < n; ++i) {
        const double r = e[i] * acc[i], inv = 1 / sd[i], dd = (u[i] - mu[i]) * inv;
        ga[i] = r / al[i];
        gm[i] = r * (dd * inv - 1);
        gs[i] = r * (dd * dd - 1) * inv;
      }
    }
    backward(n, sg);
  }
}

double BiasLikelihood::operator()(std::span<const double> theta, std::span<double> grad) const {
  const int64_t d = dim();
  if (static_cast<int64_t>(theta.size()) != d)
    throw std::invalid_argument("BiasLikelihood: theta has " + std::to_string(theta.size()) + " values; expected " +
                                std::to_string(d));
  if (!grad.empty() && static_cast<int64_t>(grad.size()) != d)
    throw std::invalid_argument("BiasLikelihood: gradient has " + std::to_string(grad.size()) + " values; expected " +
                                std::to_string(d));
  // Two fixed halves, split at block boundaries.
  const int64_t vm = (voxels_ / 2 + kBlock - 1) / kBlock * kBlock, hm = (halos_ / 2 + kBlock - 1) / kBlock * kBlock;
  const int64_t vmid = std::min(vm, voxels_), hmid = std::min(hm, halos_);
  Half a, b;
  auto first = [&] { run_half(theta.data(), 0, vmid, 0, hmid, a); };
  auto second = [&] { run_half(theta.data(), vmid, voxels_, hmid, halos_, b); };
  if (core::kernels::parallel_threads() > 1 && voxels_ + halos_ >= 4096)
    core::kernels::fork_join(first, second);
  else {
    first();
    second();
  }
  if (!grad.empty())
    for (int64_t i = 0; i < d; ++i) grad[static_cast<size_t>(i)] = a.grad[static_cast<size_t>(i)] + b.grad[static_cast<size_t>(i)];
  return a.value + b.value;
}

}  // namespace trusty::density
