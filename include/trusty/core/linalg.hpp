// Differentiable dense linear algebra for the inference half (Gaussian likelihoods,
// Fisher matrices, HMC metrics). Square matrices are [n, n]; right-hand sides are [n] or
// [n, m]. SPD routines read A through ½(A + Aᵀ), so their gradients are symmetric and
// finite differences on single entries agree with them.
#pragma once
#include "trusty/core/tape.hpp"

namespace trusty::core {

// Lower-triangular L with LLᵀ = A. Throws NotPositiveDefinite when A is not SPD.
template <class T> Var<T> cholesky(const Var<T>& a);
// Solves op(L) X = B for triangular L (op = transpose when `transpose`).
template <class T> Var<T> solve_triangular(const Var<T>& l, const Var<T>& b, bool lower = true, bool transpose = false);
// Solves A X = B for SPD A (through its Cholesky factor).
template <class T> Var<T> solve_spd(const Var<T>& a, const Var<T>& b);
// A⁻¹ for SPD A.
template <class T> Var<T> inverse_spd(const Var<T>& a);
// ln det A for SPD A, as 2 Σ ln L_ii.
template <class T> Var<T> logdet_spd(const Var<T>& a);

class NotPositiveDefinite : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

}  // namespace trusty::core
