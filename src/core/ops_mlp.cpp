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
#include <string>
#include <type_traits>

#include "kernels/simd.hpp"
#include "linear_act.hpp"
#include "trusty/core/kernels/vmath.hpp"
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
// M(i, p) = m[i + p·sp] (broadcast; consecutive i, so one base register and constant
// offsets address them), B[p] = b + p·ld, C[i] = c + i·ld.
template <class T, int JT, int NV, class Fin>
inline void tile(int64_t np, const T* m, int64_t sp, const T* init, const T* b, T* c, int64_t ld, Fin fin) {
  using X = Vec<T>;
  typename X::V acc[JT][NV];
#pragma GCC unroll 12
  for (int j = 0; j < JT; ++j) {
    const auto v0 = init ? X::set1(init[j]) : X::zero();
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) acc[j][v] = v0;
  }
  for (int64_t p = 0; p < np; ++p) {
    typename X::V bv[NV];
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) bv[v] = X::loadu(b + p * ld + v * X::W);
#pragma GCC unroll 12
    for (int j = 0; j < JT; ++j) {
      const auto w = X::set1(m[p * sp + j]);
#pragma GCC unroll 2
      for (int v = 0; v < NV; ++v) acc[j][v] = X::fma(w, bv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 12
  for (int j = 0; j < JT; ++j)
#pragma GCC unroll 2
    for (int v = 0; v < NV; ++v) X::storeu(c + j * ld + v * X::W, fin(acc[j][v], j * ld + v * X::W));
}

// All nout outputs over all P rows: tiles of 12, 8, 4, 2, 1 outputs; two vectors of rows at
// a time (24 accumulators: per step 2 loads and 12 broadcasts feed 24 FMAs).
template <class T, int NV, class Fin>
void product_cols(int64_t nout, int64_t np, const T* m, int64_t sp, const T* init, const T* b, T* c, int64_t ld, Fin fin) {
  int64_t i = 0;
  auto at = [&](int64_t i0) {
    return [&fin, i0, ld](auto v, int64_t off) { return fin(v, i0 * ld + off); };
  };
  auto ini = [&](int64_t i0) { return init ? init + i0 : nullptr; };
  for (; i + 12 <= nout; i += 12) tile<T, 12, NV>(np, m + i, sp, ini(i), b, c + i * ld, ld, at(i));
  if (i + 8 <= nout) { tile<T, 8, NV>(np, m + i, sp, ini(i), b, c + i * ld, ld, at(i)); i += 8; }
  if (i + 4 <= nout) { tile<T, 4, NV>(np, m + i, sp, ini(i), b, c + i * ld, ld, at(i)); i += 4; }
  if (i + 2 <= nout) { tile<T, 2, NV>(np, m + i, sp, ini(i), b, c + i * ld, ld, at(i)); i += 2; }
  if (i < nout) tile<T, 1, NV>(np, m + i, sp, ini(i), b, c + i * ld, ld, at(i));
}

template <class T, class Fin>
void product(int64_t nout, int64_t np, const T* m, int64_t sp, const T* init, const T* b, T* c, int64_t P, Fin fin) {
  constexpr int64_t W = Vec<T>::W;
  int64_t r = 0;
  for (; r + 2 * W <= P; r += 2 * W) {
    auto f = [&fin, r](auto v, int64_t off) { return fin(v, off + r); };
    product_cols<T, 2>(nout, np, m, sp, init, b + r, c + r, P, f);
  }
  if (r < P) {
    auto f = [&fin, r](auto v, int64_t off) { return fin(v, off + r); };
    product_cols<T, 1>(nout, np, m, sp, init, b + r, c + r, P, f);
  }
}

// dW[k, j] (+)= Σ_rows A[k] ⊙ D[j] for TK rows k and JW ≤ W columns j: vector accumulators
// over the rows, then one row's JW lane sums as one vector (lane_sums), added into dW with a
// masked store. With DB, db[j] (+)= Σ_rows D[j] as one more row (A = 1).
template <class T, int TK, int JW, bool DB>
void wtile(int64_t nvec, const T* a, const T* d, int64_t ld, T* dw, int64_t dout, bool acc_into, T* db) {
  using X = Vec<T>;
  using V = typename X::V;
  constexpr int NK = TK + (DB ? 1 : 0);
  V acc[NK][JW];
#pragma GCC unroll 4
  for (int k = 0; k < NK; ++k)
#pragma GCC unroll 16
    for (int j = 0; j < JW; ++j) acc[k][j] = X::zero();
  for (int64_t r = 0; r < nvec; ++r) {
    V dv[JW];
#pragma GCC unroll 16
    for (int j = 0; j < JW; ++j) dv[j] = X::loadu(d + j * ld + r * X::W);
#pragma GCC unroll 4
    for (int k = 0; k < TK; ++k) {
      const V av = X::loadu(a + k * ld + r * X::W);
#pragma GCC unroll 16
      for (int j = 0; j < JW; ++j) acc[k][j] = X::fma(av, dv[j], acc[k][j]);
    }
    if constexpr (DB)
#pragma GCC unroll 16
      for (int j = 0; j < JW; ++j) acc[TK][j] = X::add(acc[TK][j], dv[j]);
  }
  const auto msk = X::mask(JW);
#pragma GCC unroll 4
  for (int k = 0; k < NK; ++k) {
    V t[X::W];
#pragma GCC unroll 16
    for (int j = 0; j < static_cast<int>(X::W); ++j) t[j] = j < JW ? acc[k][j] : X::zero();
    const V s = kernels::simd::lane_sums<T>(t);
    T* out = k < TK ? dw + k * dout : db;
    X::store(msk, out, acc_into ? X::add(s, X::load(msk, out)) : s);
  }
}

// Rows of dW three at a time (one when the vector is wide: at most 24 accumulators); the
// first row block also takes db, one row fewer.
template <class T, int JW>
void wcols(int64_t din, int64_t nvec, const T* a, const T* d, int64_t ld, T* dw, int64_t dout, bool acc_into, T* db) {
  constexpr int TK = JW * 3 <= 24 ? 3 : 1;
  int64_t k = 0;
  auto run = [&](auto tk, auto with_db) {
    wtile<T, decltype(tk)::value, JW, decltype(with_db)::value>(nvec, a + k * ld, d, ld, dw + k * dout, dout, acc_into, db);
    k += decltype(tk)::value;
  };
  using B1 = std::true_type;
  using B0 = std::false_type;
  using K1 = std::integral_constant<int, 1>;
  using KT = std::integral_constant<int, TK>;
  using KD = std::integral_constant<int, TK == 3 ? 2 : 1>;  // with db's row: still 24 accumulators
  if (db) {
    if (din >= KD::value) run(KD{}, B1{});
    else run(K1{}, B1{});
  }
  for (; k + TK <= din;) run(KT{}, B0{});
  while (k < din) run(K1{}, B0{});
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

template <class T>
struct MlpNode final : Node<T> {
  int64_t rows = 0, P = 0, L = 0;
  const int64_t* widths = nullptr;  // L + 1, in the arena
  const int64_t* offs = nullptr;    // offs[l - 1]: where layer l's W_l starts in the parameters
  T** acts = nullptr;               // A_0 .. A_{L-1}, each d_l × P, in the arena
  LinearAct act = LinearAct::none;

  // dZ_{l-1} = act'(A_{l-1}) ⊙ (W_l dZ_l), or without the derivative for the input; wt is
  // W_lᵀ (dout × din), so that a tile's weights are consecutive.
  template <class D>
  void input_grad(int64_t l, const T* wt, const T* dz, T* out, D deriv) const {
    const int64_t din = widths[l - 1], dout = widths[l];
    product(din, dout, wt, din, static_cast<const T*>(nullptr), dz, out, P, deriv);
  }

  void backward() override {
    using X = Vec<T>;
    using V = typename X::V;
    Node<T>*x = this->in[0], *p = this->in[1];
    int64_t maxw = 0;
    for (int64_t l = 0; l <= L; ++l) maxw = std::max(maxw, widths[l]);
    T* buf = Tape<T>::current().scratch(2 * maxw * P + maxw * maxw);
    T *dz = buf, *next = buf + maxw * P, *wt = buf + 2 * maxw * P;
    const int64_t dl = widths[L];
    std::fill(dz, dz + dl * P, T(0));
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t j = 0; j < dl; ++j) dz[j * P + r] = this->grad[r * dl + j];
    const bool pacc = p->grad ? accumulate_into(p) : false;
    const V one = X::set1(T(1));
    for (int64_t l = L; l >= 1; --l) {
      const int64_t din = widths[l - 1], dout = widths[l];
      const T* w = p->val + offs[l - 1];
      if (p->grad) {
        T* gw = p->grad + offs[l - 1];
        T* gb = gw + din * dout;
        weight_grad(din, dout, P, acts[l - 1], dz, gw, pacc, gb);
      }
      if (l > 1 || x->grad)
        for (int64_t k = 0; k < din; ++k)
          for (int64_t j = 0; j < dout; ++j) wt[j * din + k] = w[k * dout + j];
      if (l > 1) {
        const T* a = acts[l - 1];
        switch (act) {
          case LinearAct::none: input_grad(l, wt, dz, next, [](V v, int64_t) { return v; }); break;
          case LinearAct::tanh:
            input_grad(l, wt, dz, next, [a, one](V v, int64_t o) { const V y = X::loadu(a + o); return X::mul(v, X::fnma(y, y, one)); });
            break;
          case LinearAct::sigmoid:
            input_grad(l, wt, dz, next, [a, one](V v, int64_t o) { const V y = X::loadu(a + o); return X::mul(X::mul(v, y), X::fnma(y, one, one)); });
            break;
          case LinearAct::relu: input_grad(l, wt, dz, next, [a](V v, int64_t o) { return X::gt_select(X::loadu(a + o), v); }); break;
        }
        std::swap(dz, next);
      } else if (x->grad) {
        input_grad(l, wt, dz, next, [](V v, int64_t) { return v; });
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
    product(dout, din, w, dout, b, a, z, P, [](auto v, int64_t) { return v; });
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
