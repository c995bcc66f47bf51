// FFT ops: values against a naive O(N²) DFT written here (the reference), gradients with the
// finite-difference checker for 1-D/2-D/3-D, even and odd sizes, with batches.
#include <gtest/gtest.h>

#include <cmath>
#include <complex>
#include <numbers>
#include <thread>

#include "test_util.hpp"
#include "trusty/core.hpp"

using namespace trusty::core;
using trusty::test::random_tensor;
using V = Var<double>;
using Vs = std::span<const V>;
using cd = std::complex<double>;

namespace {

// The transformed sizes and the batch of a case; `dims` are real-space sizes.
struct Case {
  std::vector<int64_t> batch, dims;
  int ndim() const { return static_cast<int>(dims.size()); }
  Shape shape(std::vector<int64_t> tail_dims, bool complex_axis) const {
    std::vector<int64_t> s = batch;
    s.insert(s.end(), tail_dims.begin(), tail_dims.end());
    if (complex_axis) s.push_back(2);
    return Shape(std::span<const int64_t>(s));
  }
  std::vector<int64_t> half() const {
    auto h = dims;
    h.back() = h.back() / 2 + 1;
    return h;
  }
};

const std::vector<Case> kCases = {
    {{}, {8}}, {{3}, {7}}, {{}, {1}}, {{2}, {4, 6}}, {{}, {3, 5}}, {{2}, {3, 2, 4}}, {{}, {3, 3, 3}}, {{2, 2}, {5}},
    // sizes beyond FFTW's hard-coded kernels (composite and prime): other algorithms
    {{}, {64}}, {{}, {17}}, {{2}, {12, 10}}, {{}, {4, 6, 9}},
};

// Σ_{n ∈ in_dims} x[n] w(k) exp(sign 2πi Σ_j k_j n_j / dims_j) for every k of out_dims,
// per batch: the naive DFT. in_dims / out_dims cut the last axis (half spectra); w weights
// the input entries by their last index (the Hermitian weights of irfft).
std::vector<cd> naive_dft(const std::vector<cd>& x, int64_t batch, const std::vector<int64_t>& dims,
                          const std::vector<int64_t>& in_dims, const std::vector<int64_t>& out_dims, double sign,
                          const std::function<double(int64_t)>& w = [](int64_t) { return 1.0; }) {
  auto numel = [](const std::vector<int64_t>& d) {
    int64_t n = 1;
    for (auto v : d) n *= v;
    return n;
  };
  auto unravel = [](int64_t i, const std::vector<int64_t>& d) {
    std::vector<int64_t> idx(d.size());
    for (size_t j = d.size(); j-- > 0;) {
      idx[j] = i % d[j];
      i /= d[j];
    }
    return idx;
  };
  const int64_t nin = numel(in_dims), nout = numel(out_dims);
  std::vector<cd> y(static_cast<size_t>(batch * nout));
  for (int64_t b = 0; b < batch; ++b)
    for (int64_t k = 0; k < nout; ++k) {
      auto kk = unravel(k, out_dims);
      cd acc = 0;
      for (int64_t n = 0; n < nin; ++n) {
        auto nn = unravel(n, in_dims);
        double phase = 0;
        for (size_t j = 0; j < dims.size(); ++j) phase += static_cast<double>(kk[j] * nn[j]) / static_cast<double>(dims[j]);
        acc += w(nn.back()) * x[static_cast<size_t>(b * nin + n)] * std::polar(1.0, sign * 2 * std::numbers::pi * phase);
      }
      y[static_cast<size_t>(b * nout + k)] = acc;
    }
  return y;
}

std::vector<cd> to_complex(const Tensor<double>& t) {
  auto v = t.to_vector();
  std::vector<cd> c(v.size() / 2);
  for (size_t i = 0; i < c.size(); ++i) c[i] = {v[2 * i], v[2 * i + 1]};
  return c;
}

double max_diff(const std::vector<cd>& a, const Tensor<double>& b) {
  auto c = to_complex(b);
  EXPECT_EQ(a.size(), c.size());
  double m = 0;
  for (size_t i = 0; i < a.size() && i < c.size(); ++i) m = std::max(m, std::abs(a[i] - c[i]));
  return m;
}

int64_t prod(const std::vector<int64_t>& d) {
  int64_t n = 1;
  for (auto v : d) n *= v;
  return n;
}

}  // namespace

TEST(Fft, FftnAndIfftnMatchTheNaiveDft) {
  for (const auto& c : kCases) {
    GradScope<double> scope;
    auto x = random_tensor(c.shape(c.dims, true), 1);
    const double n = static_cast<double>(prod(c.dims));
    auto X = fftn(constant(x), c.ndim());
    auto ref = naive_dft(to_complex(x), prod(c.batch), c.dims, c.dims, c.dims, -1);
    EXPECT_LT(max_diff(ref, X.value()), 1e-12 * n) << c.shape(c.dims, true).str();
    auto xi = ifftn(constant(x), c.ndim());
    auto refi = naive_dft(to_complex(x), prod(c.batch), c.dims, c.dims, c.dims, +1);
    for (auto& v : refi) v /= n;
    EXPECT_LT(max_diff(refi, xi.value()), 1e-12) << c.shape(c.dims, true).str();
    EXPECT_LT(max_abs_diff(ifftn(X, c.ndim()).value(), x), 1e-12);
  }
}

TEST(Fft, RfftnMatchesTheNaiveDft) {
  for (const auto& c : kCases) {
    GradScope<double> scope;
    auto x = random_tensor(c.shape(c.dims, false), 2);
    auto X = rfftn(constant(x), c.ndim());
    EXPECT_EQ(X.shape(), c.shape(c.half(), true));
    auto xv = x.to_vector();
    std::vector<cd> xc(xv.begin(), xv.end());
    auto ref = naive_dft(xc, prod(c.batch), c.dims, c.dims, c.half(), -1);
    EXPECT_LT(max_diff(ref, X.value()), 1e-12 * static_cast<double>(prod(c.dims))) << c.shape(c.dims, false).str();
    // The round trip gives x back.
    EXPECT_LT(max_abs_diff(irfftn(X, c.ndim(), c.dims.back()).value(), x), 1e-12);
  }
}

// irfftn of any half spectrum (not the rfft of a real signal): NumPy's reading,
// x[n] = (1/N) Re Σ_{stored k} c_k X_k exp(+2πi k·n/N), c = 2 for entries whose mirror is not stored.
TEST(Fft, IrfftnOfAnyHalfSpectrumIsNumpys) {
  for (const auto& c : kCases) {
    GradScope<double> scope;
    auto X = random_tensor(c.shape(c.half(), true), 3);
    auto x = irfftn(constant(X), c.ndim(), c.dims.back());
    EXPECT_EQ(x.shape(), c.shape(c.dims, false));
    const int64_t last = c.dims.back();
    auto weight = [last](int64_t k) { return (k == 0 || 2 * k == last) ? 1.0 : 2.0; };
    auto ref = naive_dft(to_complex(X), prod(c.batch), c.dims, c.half(), c.dims, +1, weight);
    auto got = x.value().to_vector();
    double m = 0;
    for (size_t i = 0; i < got.size(); ++i)
      m = std::max(m, std::abs(ref[i].real() / static_cast<double>(prod(c.dims)) - got[i]));
    EXPECT_LT(m, 1e-12) << c.shape(c.half(), true).str();
  }
}

TEST(Fft, GradientsMatchFiniteDifferences) {
  for (const auto& c : kCases) {
    const int nd = c.ndim();
    const int64_t last = c.dims.back();
    auto xc = random_tensor(c.shape(c.dims, true), 4);
    auto xr = random_tensor(c.shape(c.dims, false), 5);
    auto xh = random_tensor(c.shape(c.half(), true), 6);
    const std::string name = c.shape(c.dims, false).str();
    auto r1 = check_gradient([nd](Vs v) { return fftn(v[0], nd); }, {xc});
    EXPECT_TRUE(r1.ok) << "fftn " << name << ": " << r1.str();
    auto r2 = check_gradient([nd](Vs v) { return ifftn(v[0], nd); }, {xc});
    EXPECT_TRUE(r2.ok) << "ifftn " << name << ": " << r2.str();
    auto r3 = check_gradient([nd](Vs v) { return rfftn(v[0], nd); }, {xr});
    EXPECT_TRUE(r3.ok) << "rfftn " << name << ": " << r3.str();
    auto r4 = check_gradient([nd, last](Vs v) { return irfftn(v[0], nd, last); }, {xh});
    EXPECT_TRUE(r4.ok) << "irfftn " << name << ": " << r4.str();
  }
}

// A power spectrum and back, as a simulator uses them: the chain's gradient, and a second
// use of one input (accumulation into a gradient that already holds values).
TEST(Fft, ChainedGradientAccumulates) {
  auto x = random_tensor({2, 6, 5}, 7);
  auto k = random_tensor({2, 6, 3, 2}, 8, 0.5, 1.5);
  auto r = check_gradient(
      [](Vs v) {
        auto X = rfftn(v[0], 2);
        auto y = irfftn(mul(X, v[1]), 2, 5);
        return add(square(y), mul(v[0], y));
      },
      {x, k});
  EXPECT_TRUE(r.ok) << r.str();
}

TEST(Fft, FloatAgreesWithDouble) {
  GradScope<double> sd;
  GradScope<float> sf;
  auto x = random_tensor({3, 4, 5}, 9);
  auto xf = random_tensor<float>({3, 4, 5}, 9);
  auto Xd = rfftn(constant(x), 2).value().to_vector();
  auto Xf = rfftn(constant(xf), 2).value().to_vector();
  ASSERT_EQ(Xd.size(), Xf.size());
  for (size_t i = 0; i < Xd.size(); ++i) EXPECT_NEAR(Xd[i], Xf[i], 1e-5);
  auto v = variable(xf);
  auto y = sum(square(irfftn(rfftn(v, 2), 2, 5)));  // = Σ x², gradient 2x
  sf.backward(y);
  auto g = v.grad();
  for (size_t i = 0; i < g.size(); ++i) EXPECT_NEAR(g[i], 2 * xf.span()[i], 1e-5);
}

TEST(Fft, BadShapesAreRefused) {
  GradScope<double> s;
  auto c = constant(Tensor<double>(Shape{4, 3}));
  EXPECT_THROW(fftn(c, 1), std::invalid_argument);   // complex axis of 3
  EXPECT_THROW(fftn(constant(Tensor<double>(Shape{4, 2})), 2), std::invalid_argument);  // rank too small
  EXPECT_THROW(fftn(constant(Tensor<double>(Shape{4, 2})), 4), std::invalid_argument);  // ndim
  EXPECT_THROW(irfftn(constant(Tensor<double>(Shape{4, 2})), 1, 8), std::invalid_argument);  // needs 5 entries
  EXPECT_NO_THROW(irfftn(constant(Tensor<double>(Shape{4, 2})), 1, 7));
  try {
    fftn(c, 1);
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("[4, 3]"), std::string::npos) << e.what();
  }
}

// Plans are made under a lock: threads asking for new shapes at once get correct results.
TEST(Fft, ThreadsPlanConcurrently) {
  std::vector<std::thread> th;
  std::vector<double> err(4, 1.0);
  for (int t = 0; t < 4; ++t)
    th.emplace_back([t, &err] {
      GradScope<double> s;
      auto x = random_tensor({2, 9 + t, 2}, static_cast<uint64_t>(t));
      auto y = ifftn(fftn(constant(x), 1), 1);
      err[static_cast<size_t>(t)] = max_abs_diff(y.value(), x);
    });
  for (auto& t : th) t.join();
  for (double e : err) EXPECT_LT(e, 1e-12);
}
