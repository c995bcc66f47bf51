// Issue-2 benchmarks, trusty side. Prints one JSON object:
//  logpost_per_s   value+gradient of a 1-20-20-1 tanh BNN log-posterior on 100 points (float64)
//  mlp_gflops      forward+backward of 784-512-256-10 on a batch of 128 (float32), GEMM GFLOP/s
//  sgemm_gflops    the same GEMMs called directly through OpenBLAS
// Usage: autodiff_bench [threads] [seconds]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "timer.hpp"
#include "trusty/core.hpp"
#include "trusty/core/kernels/blas.hpp"

#include <cblas.h>

using namespace trusty::core;

namespace {

std::vector<double> normal(size_t n, uint64_t seed, double s = 1.0) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> d(0, s);
  std::vector<double> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

double bench_logpost(double seconds) {
  const int64_t N = 100, H = 20;
  auto xs = normal(N, 1), ys = normal(N, 2);
  Tensor<double> x(Shape{N, 1}, xs), y(Shape{N, 1}, ys);
  const int64_t P = H + H + H * H + H + H + 1;  // 481
  auto theta = normal(static_cast<size_t>(P), 3, 0.3);
  std::vector<double> grad(theta.size());
  const double inv_var = 1.0 / (0.1 * 0.1);
  const int64_t widths[] = {1, H, H, 1};
  // The network as one node (mlp), or (TRUSTY_BENCH_LAYERS=1) as a linear() node per layer.
  const bool layers = std::getenv("TRUSTY_BENCH_LAYERS") != nullptr;
  auto logpost = [&](Var<double> th) {
    auto f = layers ? mlp_reference(constant_ref(x), th, widths, LinearAct::tanh) : mlp(constant_ref(x), th, widths, LinearAct::tanh);
    auto loglik = sum(square(f - constant_ref(y))) * (-0.5 * inv_var);
    auto logprior = dot(th, th) * -0.5;
    return loglik + logprior;
  };
  return trusty::bench::rate([&] { value_and_grad<double>(logpost, theta, grad); }, seconds);
}

struct MlpShapes {
  int64_t B = 128;
  std::vector<int64_t> w = {784, 512, 256, 10};
  double gemm_flops() const {
    double f = 0;
    for (size_t l = 0; l + 1 < w.size(); ++l) {
      double mnk = static_cast<double>(B * w[l] * w[l + 1]);
      f += 2 * mnk;           // forward
      f += 2 * mnk;           // weight gradient
      if (l > 0) f += 2 * mnk;  // input gradient (not needed for the first layer)
    }
    return f;
  }
};

double bench_mlp(double seconds) {
  MlpShapes s;
  std::vector<float> theta;
  std::vector<std::pair<int64_t, int64_t>> offs;
  for (size_t l = 0; l + 1 < s.w.size(); ++l) {
    auto w = normal(static_cast<size_t>(s.w[l] * s.w[l + 1]), 10 + l, 0.05);
    offs.push_back({static_cast<int64_t>(theta.size()), s.w[l] * s.w[l + 1]});
    theta.insert(theta.end(), w.begin(), w.end());
    offs.push_back({static_cast<int64_t>(theta.size()), s.w[l + 1]});
    theta.insert(theta.end(), static_cast<size_t>(s.w[l + 1]), 0.0f);
  }
  std::vector<float> grad(theta.size());
  auto xv = normal(static_cast<size_t>(s.B * s.w[0]), 5);
  Tensor<float> x(Shape{s.B, s.w[0]});
  for (size_t i = 0; i < xv.size(); ++i) x.span()[i] = static_cast<float>(xv[i]);
  std::vector<int64_t> labels(static_cast<size_t>(s.B));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int64_t>(i % 10);
  Tensor<float> onehot(Shape{s.B, 10});
  for (int64_t i = 0; i < s.B; ++i) onehot.at({i, labels[static_cast<size_t>(i)]}) = 1.0f;
  auto loss = [&](Var<float> th) {
    Var<float> h = constant(x);
    for (size_t l = 0; l + 1 < s.w.size(); ++l) {
      auto [ow, nw] = offs[2 * l];
      auto [ob, nb] = offs[2 * l + 1];
      auto W = reshape(slice(th, 0, ow, ow + nw), Shape{s.w[l], s.w[l + 1]});
      auto b = slice(th, 0, ob, ob + nb);
      h = linear(h, W, b);
      if (l + 2 < s.w.size()) h = relu(h);
    }
    return -sum(log_softmax(h, -1) * constant(onehot)) * (1.0f / static_cast<float>(s.B));
  };
  double r = trusty::bench::rate([&] { value_and_grad<float>(loss, theta, grad); }, seconds);
  return r * s.gemm_flops() / 1e9;
}

// The baseline: OpenBLAS with its own `threads` threads on the same eight GEMMs.
double bench_sgemm(double seconds, int threads) {
  openblas_set_num_threads(threads);
  MlpShapes s;
  std::vector<std::vector<float>> bufs;
  auto buf = [&](int64_t n) { bufs.emplace_back(static_cast<size_t>(n), 0.01f); return bufs.back().data(); };
  struct G { bool ta, tb; int64_t m, n, k; float *a, *b, *c; };
  std::vector<G> gemms;
  for (size_t l = 0; l + 1 < s.w.size(); ++l) {
    int64_t in = s.w[l], out = s.w[l + 1];
    gemms.push_back({false, false, s.B, out, in, buf(s.B * in), buf(in * out), buf(s.B * out)});   // X W
    gemms.push_back({true, false, in, out, s.B, buf(s.B * in), buf(s.B * out), buf(in * out)});    // Xᵀ G
    if (l > 0) gemms.push_back({false, true, s.B, in, out, buf(s.B * out), buf(in * out), buf(s.B * in)});  // G Wᵀ
  }
  double r = trusty::bench::rate([&] {
    for (auto& g : gemms) {
      const int64_t lda = g.ta ? g.m : g.k, ldb = g.tb ? g.k : g.n;
      kernels::gemm_blas<float>(g.ta, g.tb, g.m, g.n, g.k, 1.0f, g.a, lda, g.b, ldb, 0.0f, g.c, g.n);
    }
  }, seconds);
  openblas_set_num_threads(1);  // trusty keeps OpenBLAS single-threaded (kernels/blas.cpp)
  return r * s.gemm_flops() / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  const double seconds = argc > 2 ? std::atof(argv[2]) : 1.0;
  kernels::set_blas_threads(threads);
  const std::string only = argc > 3 ? argv[3] : "all";
  const double lp = only == "all" || only == "logpost" ? bench_logpost(seconds) : 0;
  // trusty and sgemm alternate in short slices so that both see the same clock and load.
  std::vector<double> mlps, sgs;
  if (only == "all" || only == "mlp")
    for (int i = 0; i < 7; ++i) {
      mlps.push_back(bench_mlp(seconds / 7));
      sgs.push_back(bench_sgemm(seconds / 7, threads));
    }
  auto median = [](std::vector<double> v) {
    if (v.empty()) return 0.0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double mlp = median(mlps), sg = median(sgs);
  std::printf("{\"threads\": %d, \"logpost_per_s\": %.1f, \"mlp_gflops\": %.2f, \"sgemm_gflops\": %.2f}\n", threads,
              lp, mlp, sg);
  return 0;
}
