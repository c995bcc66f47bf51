// mlp(x, params, widths, act): a whole multilayer perceptron as one tape node, for the
// small networks that HMC evaluates millions of times (GUIDE §2: a hand-fused backward
// where a benchmark shows the need; the BNN log-posterior benchmark of issue 2 does).
//
// Rows run along the vector lanes. The node keeps every layer's activations transposed,
// A_l = d_l × P (P: the N rows rounded up to whole vectors, the padding zero), so that one
// feature of W rows is one vector, and a layer is a sum of such vectors scaled by broadcast
// weights: every lane useful whatever the widths (row-major, a width of 20 fills 2.5 of 3
// vectors), all of a small network's activations in L1, no node per layer.
//   forward   Z_l[j] = b_l[j] + Σ_k W_l[k, j] A_{l-1}[k],  A_l = act(Z_l)  (none after the last)
//   backward  dZ_L = gᵀ;  db_l[j] = Σ_rows dZ_l[j];  dW_l[k, j] = Σ_rows A_{l-1}[k] dZ_l[j];
//             dZ_{l-1}[k] = act'(A_{l-1}[k]) Σ_j W_l[k, j] dZ_l[j]
// Padded rows of dZ are zero, so they add nothing to dW and db. The reference is the chain
// of linear() nodes it replaces, which is also what builds without AVX-512 and networks
// wider than kMaxWidth get.
#include <algorithm>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "kernels/simd.hpp"
#include "linear_act.hpp"
#include "trusty/core/kernels/vmath.hpp"
#include "tangent_util.hpp"
#include "trusty/core/jvp.hpp"
#include "trusty/core/ops.hpp"

namespace trusty::core {
namespace {

// Widest layer the fused node takes: beyond it a network is GEMM-bound and OpenBLAS wins.
constexpr int64_t kMaxWidth = 128;

template <class T>
Var<T> mlp_chain(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act) {
  Var<T> h = x;
  int64_t o = 0;
  const size_t L = widths.size() - 1;
  for (size_t l = 1; l <= L; ++l) {
    const int64_t din = widths[l - 1], dout = widths[l];
    auto w = reshape(slice(params, 0, o, o + din * dout), Shape{din, dout});
    o += din * dout;
    auto b = slice(params, 0, o, o + dout);
    o += dout;
    h = linear(h, w, b, l < L ? act : LinearAct::none);
  }
  return h;
}

#if defined(__AVX512F__)
using kernels::simd::Vec;

// C[i] = fin(init_i + Σ_p M(i, p) B[p], i) for a tile of JT outputs over NV vectors of rows:
// M(i, p) = m[i·si + p·sp] (broadcast), B[p] = b + p·ld, C[i] = c + i·ld. The forward reads
// W (si = 1, sp = dout), the input gradient reads the same W as Wᵀ (si = dout, sp = 1): no
// transposed copy. With fewer than eight accumulators (a narrow last layer) the sum over p
// is split into U interleaved partial sums, so that FMA latency does not serialise it.
// Inlined into its caller: as a call, the lambdas and pointers went through the stack on
// every tile (a store-forwarding stall per call in the profile).
template <class T, int JT, int NV, class Fin>
[[gnu::always_inline]] inline void tile(int64_t np, const T* m, int64_t si, int64_t sp, const T* init, const T* b, T* c,
                                        int64_t ld, Fin fin) {
  using X = Vec<T>;
  constexpr int U = JT * NV >= 8 ? 1 : 8 / (JT * NV);
  typename X::V acc[U][JT][NV];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u)
#pragma GCC unroll 12
    for (int j = 0; j < JT; ++j) {
      const auto v0 = init && u == 0 ? X::set1(init[j]) : X::zero();
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[u][j][v] = v0;
    }
  auto step = [&](int u, int64_t p) __attribute__((always_inline)) {
    typename X::V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = X::loadu(b + p * ld + v * X::W);
#pragma GCC unroll 12
    for (int j = 0; j < JT; ++j) {
      const auto w = X::set1(m[j * si + p * sp]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[u][j][v] = X::fma(w, bv[v], acc[u][j][v]);
    }
  };
  int64_t p = 0;
  if constexpr (U > 1)
    for (; p + U <= np; p += U)
#pragma GCC unroll 8
      for (int u = 0; u < U; ++u) step(u, p + u);
  for (; p < np; ++p) step(0, p);
#pragma GCC unroll 8
  for (int u = 1; u < U; ++u)
#pragma GCC unroll 12
    for (int j = 0; j < JT; ++j)
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[0][j][v] = X::add(acc[0][j][v], acc[u][j][v]);
#pragma GCC unroll 12
  for (int j = 0; j < JT; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) X::storeu(c + j * ld + v * X::W, fin(acc[0][j][v], j * ld + v * X::W));
}

// All nout outputs over NV vectors of rows starting at row r0: tiles of 12, 8, 4, 2, 1
// outputs (with two vectors, 24 accumulators: per step 2 loads and 12 broadcasts feed 24
// FMAs). fin(v, offset) gets the offset of v in C, rows included.
template <class T, int NV, class Fin>
void product_cols(int64_t nout, int64_t np, const T* m, int64_t si, int64_t sp, const T* init, const T* b, T* c, int64_t ld,
                  int64_t r0, const Fin& fin_ref) {
  const Fin fin = fin_ref;  // a local copy: its captures stay in registers across C's stores
  int64_t i = 0;
  auto run = [&](auto jt) __attribute__((always_inline)) {
    constexpr int JT = decltype(jt)::value;
    const int64_t i0 = i;
    auto f = [fin, i0, ld, r0](auto v, int64_t off) { return fin(v, i0 * ld + r0 + off); };
    tile<T, JT, NV>(np, m + i * si, si, sp, init ? init + i : nullptr, b + r0, c + i * ld + r0, ld, f);
    i += JT;
  };
  using std::integral_constant;
  while (i + 12 <= nout) run(integral_constant<int, 12>{});
  if (i + 8 <= nout) run(integral_constant<int, 8>{});
  if (i + 4 <= nout) run(integral_constant<int, 4>{});
  if (i + 2 <= nout) run(integral_constant<int, 2>{});
  if (i < nout) run(integral_constant<int, 1>{});
}

template <class T, class Fin>
void product(int64_t nout, int64_t np, const T* m, int64_t si, int64_t sp, const T* init, const T* b, T* c, int64_t P,
             const Fin& fin) {
  constexpr int64_t W = Vec<T>::W;
  int64_t r = 0;
  for (; r + 2 * W <= P; r += 2 * W) product_cols<T, 2>(nout, np, m, si, sp, init, b, c, P, r, fin);
  if (r < P) product_cols<T, 1>(nout, np, m, si, sp, init, b, c, P, r, fin);
}

// dW[k, j] (+)= Σ_rows A[k] ⊙ D[j] for TK rows k and JW ≤ W columns j: vector accumulators
// over the rows, then their lane sums, W at a time (lane_sums): one row of dW when JW = W,
// W / JW rows when the tile is narrower (a narrow tile would otherwise reduce mostly zeros).
// With DB, db[j] (+)= Σ_rows D[j] as one more row (A = 1).
template <class T, int TK, int JW, bool DB>
void wtile(int64_t nvec, const T* a, const T* d, int64_t ld, T* dw, int64_t dout, bool acc_into, T* db) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int W = static_cast<int>(X::W);
  constexpr int NK = TK + (DB ? 1 : 0);
  constexpr int R = W / JW;  // rows per reduction
  V acc[NK][JW];
#pragma GCC unroll 8
  for (int k = 0; k < NK; ++k)
#pragma GCC unroll 16
    for (int j = 0; j < JW; ++j) acc[k][j] = X::zero();
  for (int64_t r = 0; r < nvec; ++r) {
    V dv[JW];
#pragma GCC unroll 16
    for (int j = 0; j < JW; ++j) dv[j] = X::loadu(d + j * ld + r * W);
#pragma GCC unroll 8
    for (int k = 0; k < TK; ++k) {
      const V av = X::loadu(a + k * ld + r * W);
#pragma GCC unroll 16
      for (int j = 0; j < JW; ++j) acc[k][j] = X::fma(av, dv[j], acc[k][j]);
    }
    if constexpr (DB)
#pragma GCC unroll 16
      for (int j = 0; j < JW; ++j) acc[TK][j] = X::add(acc[TK][j], dv[j]);
  }
  auto out = [&](int k) { return k < TK ? dw + k * dout : db; };
#pragma GCC unroll 8
  for (int k0 = 0; k0 < NK; k0 += R) {
    V t[W];
#pragma GCC unroll 16
    for (int q = 0; q < W; ++q) t[q] = k0 + q / JW < NK ? acc[k0 + q / JW][q % JW] : X::zero();
    const V s = kernels::simd::lane_sums<T>(t);
    if constexpr (R == 1) {
      const auto msk = X::mask(JW);
      X::store(msk, out(k0), acc_into ? X::add(s, X::load(msk, out(k0))) : s);
    } else {
      alignas(64) T sums[W];
      X::storeu(sums, s);
#pragma GCC unroll 16
      for (int q = 0; q < R * JW; ++q)
        if (k0 + q / JW < NK) {
          T& o = out(k0 + q / JW)[q % JW];
          o = acc_into ? o + sums[q] : sums[q];
        }
    }
  }
}

// Rows of dW TK at a time (TK·JW ≤ 24 accumulators, at most 8 rows), the first block one row
// fewer because it also takes db; the rows left over in blocks of 4, 2, 1.
template <class T, int JW>
void wcols(int64_t din, int64_t nvec, const T* a, const T* d, int64_t ld, T* dw, int64_t dout, bool acc_into, T* db) {
  constexpr int TK = std::clamp(24 / JW, 1, 8);
  int64_t k = 0;
  auto run = [&](auto tk, auto with_db) {
    constexpr int N = decltype(tk)::value;
    wtile<T, N, JW, decltype(with_db)::value>(nvec, a + k * ld, d, ld, dw + k * dout, dout, acc_into, db);
    k += N;
  };
  using B1 = std::true_type;
  using B0 = std::false_type;
  using std::integral_constant;
  constexpr int KD = TK > 1 ? TK - 1 : 1;
  if (db) {
    if (din >= KD) run(integral_constant<int, KD>{}, B1{});
    else run(integral_constant<int, 1>{}, B1{});
  }
  while (k + TK <= din) run(integral_constant<int, TK>{}, B0{});
  if constexpr (TK > 4)
    if (k + 4 <= din) run(integral_constant<int, 4>{}, B0{});
  if constexpr (TK > 2)
    if (k + 2 <= din) run(integral_constant<int, 2>{}, B0{});
  while (k < din) run(integral_constant<int, 1>{}, B0{});
}

template <class T>
void weight_grad(int64_t din, int64_t dout, int64_t P, const T* a, const T* d, T* dw, bool acc_into, T* db) {
  constexpr int64_t W = Vec<T>::W;
  const int64_t nvec = P / W;
  for (int64_t j = 0; j < dout;) {
    const int64_t left = dout - j;
    T* dbj = db ? db + j : nullptr;
    if (left >= W) { wcols<T, static_cast<int>(W)>(din, nvec, a, d + j * P, P, dw + j, dout, acc_into, dbj); j += W; }
    else if (left >= 8) { wcols<T, 8>(din, nvec, a, d + j * P, P, dw + j, dout, acc_into, dbj); j += 8; }
    else if (left >= 4) { wcols<T, 4>(din, nvec, a, d + j * P, P, dw + j, dout, acc_into, dbj); j += 4; }
    else if (left >= 2) { wcols<T, 2>(din, nvec, a, d + j * P, P, dw + j, dout, acc_into, dbj); j += 2; }
    else { wcols<T, 1>(din, nvec, a, d + j * P, P, dw + j, dout, acc_into, dbj); j += 1; }
  }
}

// v · act'(y), from the activation's output y (1 - y², y(1 - y), [y > 0]); f(deriv) with the
// one for `act`, so that each use is compiled for its activation.
template <class T, class F>
void with_deriv(LinearAct act, F&& f) {
  using X = Vec<T>;
  using V = typename X::V;
  switch (act) {
    case LinearAct::none: f([](V v, V) { return v; }); break;
    case LinearAct::tanh: f([](V v, V y) { return X::mul(v, X::fnma(y, y, X::set1(T(1)))); }); break;
    case LinearAct::sigmoid:
      f([](V v, V y) {
        const V one = X::set1(T(1));
        return X::mul(X::mul(v, y), X::fnma(y, one, one));
      });
      break;
    case LinearAct::relu: f([](V v, V y) { return X::gt_select(y, v); }); break;
  }
}

// A layer with one output (a regression head) in one pass over A = A_{l-1}:
// dW[k] (+)= Σ_rows A[k] δ, db (+)= Σ_rows δ (when dw, db are given) and
// dZ_{l-1}[k] = act'(A[k]) W[k] δ written over A[k]. The general kernels would spend a weight-gradient tile per eight rows
// and a one-term product per output on it; here each element of A is loaded once. The
// weight sums of W rows are reduced together (lane_sums), dW being contiguous.
template <class T, class D>
void one_output_layer(int64_t din, int64_t P, T* a, const T* d, const T* w, T* dw, T* db, bool acc_into, const D& deriv) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int W = static_cast<int>(X::W);
  const int64_t nvec = P / W;
  for (int64_t k0 = 0; k0 < din; k0 += W) {
    const int nk = static_cast<int>(std::min<int64_t>(W, din - k0));
    V acc[W];
    for (int q = 0; q < W; ++q) acc[q] = X::zero();
    for (int q = 0; q < nk; ++q) {
      T* ak = a + (k0 + q) * P;
      const V wk = X::set1(w[k0 + q]);
      V s0 = X::zero(), s1 = X::zero();
      auto one = [&](int64_t r, V& s) __attribute__((always_inline)) {
        const V y = X::loadu(ak + r * W), dv = X::loadu(d + r * W);
        s = X::fma(y, dv, s);
        X::storeu(ak + r * W, deriv(X::mul(wk, dv), y));
      };
      int64_t r = 0;
      for (; r + 2 <= nvec; r += 2) {
        one(r, s0);
        one(r + 1, s1);
      }
      if (r < nvec) one(r, s0);
      acc[q] = X::add(s0, s1);
    }
    if (dw) {
      const V s = kernels::simd::lane_sums<T>(acc);
      const auto msk = X::mask(nk);
      X::store(msk, dw + k0, acc_into ? X::add(s, X::load(msk, dw + k0)) : s);
    }
  }
  if (db) {
    V t = X::zero();
    for (int64_t r = 0; r < nvec; ++r) t = X::add(t, X::loadu(d + r * W));
    *db = (acc_into ? *db : T(0)) + X::sum(t);
  }
}

template <class T>
struct MlpNode final : Node<T> {
  int64_t rows = 0, P = 0, L = 0;
  const int64_t* widths = nullptr;  // L + 1, in the arena
  const int64_t* offs = nullptr;    // offs[l - 1]: where layer l's W_l starts in the parameters
  T** acts = nullptr;               // A_0 .. A_{L-1}, each d_l × P, in the arena
  LinearAct act = LinearAct::none;
  bool consumed = false;  // backward has run (and reused acts)
  // Forward mode: the tangent of the chain of linear() nodes it replaces (mlp_reference),
  // whose ops have tangent rules: a jvp along x' plus one along the parameters'.
  Node<T>* tangent(TangentMap<T>& t) override {
    Var<T> tx = detail::tangent_of(t, this->in[0]), tp = detail::tangent_of(t, this->in[1]);
    if (!tx && !tp) return nullptr;
    const std::span<const int64_t> w(widths, static_cast<size_t>(L + 1));
    const LinearAct a = act;
    Var<T> x(this->in[0]), p(this->in[1]), d;
    if (tx) d = jvp<T>([&](const Var<T>& v) { return mlp_chain(v, p, w, a); }, x, tx).second;
    if (tp) {
      auto e = jvp<T>([&](const Var<T>& q) { return mlp_chain(x, q, w, a); }, p, tp).second;
      d = d ? add(d, e) : e;
    }
    return d.node();
  }

  // dZ_{l-1} = act'(A_{l-1}) ⊙ (W_l dZ_l), or without the derivative for the input: the
  // product with W_l read as W_lᵀ (si = dout, sp = 1), act' applied as each tile is stored.
  template <class D>
  void input_grad(int64_t l, const T* w, const T* dz, T* out, const D& deriv) const {
    const int64_t din = widths[l - 1], dout = widths[l];
    product(din, dout, w, dout, int64_t(1), static_cast<const T*>(nullptr), dz, out, P, deriv);
  }

  // Backward overwrites the activations: dZ_{l-1} goes into A_{l-1}'s memory once layer l's
  // weight gradient has read it (the input gradient reads each element of A_{l-1} for act'
  // just before storing dZ_{l-1} there). The backward then touches two d × P buffers instead
  // of four, which keeps a 20-wide network's in L1 (the separate buffers measured 5 % slower
  // from cache misses). Like PyTorch's freed saved tensors, a second backward through the
  // same node is an error.
  void backward() override {
    using X = Vec<T>;
    using V = typename X::V;
    if (consumed)
      throw std::logic_error("mlp: backward through the same node twice (its activations hold the first pass's gradients)");
    consumed = true;
    Node<T>*x = this->in[0], *p = this->in[1];
    const int64_t dl = widths[L];
    T* dz = Tape<T>::current().scratch(dl * P);
    std::fill(dz, dz + dl * P, T(0));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < dl; ++j) dz[j * P + r] = this->grad[r * dl + j];
    const bool pacc = p->grad ? accumulate_into(p) : false;
    for (int64_t l = L; l >= 1; --l) {
      const int64_t din = widths[l - 1], dout = widths[l];
      const T* w = p->val + offs[l - 1];
      if (dout == 1 && l > 1) {  // one output (a regression head): one pass for both gradients
        T* gw = p->grad ? p->grad + offs[l - 1] : nullptr;
        with_deriv<T>(act, [&](auto deriv) {
          one_output_layer(din, P, acts[l - 1], dz, w, gw, gw ? gw + din : nullptr, pacc, deriv);
        });
        dz = acts[l - 1];
        continue;
      }
      if (p->grad) {
        T* gw = p->grad + offs[l - 1];
        T* gb = gw + din * dout;
        weight_grad(din, dout, P, acts[l - 1], dz, gw, pacc, gb);
      }
      T* next = acts[l - 1];  // dZ_{l-1} replaces A_{l-1}
      if (l > 1) {
        const T* a = acts[l - 1];
        with_deriv<T>(act, [&](auto deriv) {
          input_grad(l, w, dz, next, [a, deriv](V v, int64_t o) { return deriv(v, X::loadu(a + o)); });
        });
        dz = next;
      } else if (x->grad) {
        input_grad(l, w, dz, next, [](V v, int64_t) { return v; });
        const bool xacc = accumulate_into(x);
        for (int64_t r = 0; r < rows; ++r)
          for (int64_t k = 0; k < din; ++k) {
            T& out = x->grad[r * din + k];
            out = xacc ? out + next[k * P + r] : next[k * P + r];
          }
      }
    }
  }
};

template <class T>
Var<T> mlp_fused(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act) {
  constexpr int64_t W = Vec<T>::W;
  auto& tape = Tape<T>::current();
  const int64_t L = static_cast<int64_t>(widths.size()) - 1, d0 = widths[0], dl = widths[static_cast<size_t>(L)];
  const int64_t rows = x.numel() / d0, P = (rows + W - 1) / W * W;
  Shape out = x.shape();
  out[out.rank() - 1] = dl;
  auto* node = tape.template make<MlpNode<T>>(out, x.requires_grad() || params.requires_grad(), "mlp");
  node->in = {x.node(), params.node(), nullptr};
  node->first_write = true;
  node->rows = rows;
  node->P = P;
  node->L = L;
  node->act = act;
  int64_t* wd = tape.template alloc_array<int64_t>(L + 1);
  std::copy(widths.begin(), widths.end(), wd);
  node->widths = wd;
  int64_t* offs = tape.template alloc_array<int64_t>(L + 1);
  offs[0] = 0;
  for (int64_t l = 1; l <= L; ++l) offs[l] = offs[l - 1] + wd[l - 1] * wd[l] + wd[l];
  node->offs = offs;
  node->acts = tape.template alloc_array<T*>(L);
  // A_0 = xᵀ, padding zero.
  T* a = tape.alloc(d0 * P);
  const T* xv = x.data();
  for (int64_t k = 0; k < d0; ++k) {
    for (int64_t r = 0; r < rows; ++r) a[k * P + r] = xv[r * d0 + k];
    std::fill(a + k * P + rows, a + (k + 1) * P, T(0));
  }
  node->acts[0] = a;
  const T* pv = params.data();
  T* z = nullptr;
  for (int64_t l = 1; l <= L; ++l) {
    const int64_t din = widths[static_cast<size_t>(l - 1)], dout = widths[static_cast<size_t>(l)];
    const T *w = pv, *b = pv + din * dout;
    pv = b + dout;
    z = l < L ? tape.alloc(dout * P) : tape.scratch(dout * P);
    product(dout, din, w, int64_t(1), dout, b, a, z, P, [](auto v, int64_t) { return v; });
    if (l < L) {
      linear_detail::activation_forward(act, dout * P, z);
      node->acts[l] = z;
    }
    a = z;
  }
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < dl; ++j) node->val[r * dl + j] = z[j * P + r];
  return tape.record(node);
}
#endif

}  // namespace

template <class T>
Var<T> mlp(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act) {
  const Shape& sx = x.shape();
  int64_t np = 0;
  bool ok = widths.size() >= 2;
  for (size_t l = 1; ok && l < widths.size(); ++l) {
    ok = widths[l - 1] > 0 && widths[l] > 0;
    np += widths[l - 1] * widths[l] + widths[l];
  }
  auto ws = [&] {  // for the messages only: HMC calls this millions of times
    std::string s;
    for (size_t l = 0; l < widths.size(); ++l) {
      if (l) s += ", ";
      s += std::to_string(widths[l]);
    }
    return s;
  };
  if (!ok) throw std::invalid_argument("mlp: widths {" + ws() + "} must hold at least two positive entries (input, ..., output)");
  if (sx.rank() < 1 || sx[sx.rank() - 1] != widths[0])
    throw std::invalid_argument("mlp: input " + sx.str() + " does not end in the input width " + std::to_string(widths[0]));
  if (params.shape() != Shape{np})
    throw std::invalid_argument("mlp: parameters " + params.shape().str() + " for widths {" + ws() + "}: expected [" +
                                std::to_string(np) + "] (W_l then b_l, layer by layer)");
#if defined(__AVX512F__)
  if (*std::max_element(widths.begin(), widths.end()) <= kMaxWidth && x.numel() > 0) return mlp_fused(x, params, widths, act);
#endif
  return mlp_chain(x, params, widths, act);
}

template <class T>
Var<T> mlp_reference(const Var<T>& x, const Var<T>& params, std::span<const int64_t> widths, LinearAct act) {
  return mlp_chain(x, params, widths, act);
}

template Var<float> mlp<float>(const Var<float>&, const Var<float>&, std::span<const int64_t>, LinearAct);
template Var<double> mlp<double>(const Var<double>&, const Var<double>&, std::span<const int64_t>, LinearAct);
template Var<float> mlp_reference<float>(const Var<float>&, const Var<float>&, std::span<const int64_t>, LinearAct);
template Var<double> mlp_reference<double>(const Var<double>&, const Var<double>&, std::span<const int64_t>, LinearAct);

}  // namespace trusty::core
