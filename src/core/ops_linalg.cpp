// Linear-algebra primitives with hand-derived adjoints (Murray 2016 for Cholesky; Giles
// 2008 for solves, inverse and log-determinant), computed with Eigen.
#include <Eigen/Cholesky>
#include <Eigen/Dense>
#include <cmath>
#include <sstream>

#include "trusty/core/linalg.hpp"

namespace trusty::core {
namespace {

template <class T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
template <class T>
using MapM = Eigen::Map<Mat<T>>;
template <class T>
using CMapM = Eigen::Map<const Mat<T>>;

void require_square(const Shape& s, const char* op) {
  if (s.rank() != 2 || s[0] != s[1])
    throw std::invalid_argument(std::string(op) + ": expected a square matrix [n, n], got shape " + s.str());
}

// Columns of a right-hand side: [n] is one column.
int64_t rhs_cols(const Shape& b, int64_t n, const char* op, const Shape& a) {
  if ((b.rank() == 1 || b.rank() == 2) && b[0] == n) return b.rank() == 1 ? 1 : b[1];
  throw std::invalid_argument(std::string(op) + ": right-hand side of shape " + b.str() +
                              " does not match matrix " + a.str() + " (expected [n] or [n, m])");
}

template <class T>
Mat<T> sym(const T* a, int64_t n) {
  CMapM<T> A(a, n, n);
  return (A + A.transpose()) * T(0.5);
}

// Cholesky factor of ½(A + Aᵀ); throws with the condition number when A is not SPD.
template <class T>
Mat<T> factor(const T* a, int64_t n, const char* op) {
  Mat<T> S = sym(a, n);
  Eigen::LLT<Mat<T>> llt(S);
  if (llt.info() != Eigen::Success) {
    Eigen::SelfAdjointEigenSolver<Mat<T>> es(S, Eigen::EigenvaluesOnly);
    std::ostringstream os;
    os << op << ": matrix [" << n << ", " << n << "] is not positive definite (eigenvalues from "
       << es.eigenvalues().minCoeff() << " to " << es.eigenvalues().maxCoeff() << ")";
    throw NotPositiveDefinite(os.str());
  }
  return llt.matrixL();
}

// Adds ½(G + Gᵀ) into ga: the gradient of a function of ½(A + Aᵀ).
template <class T>
void add_sym(T* ga, const Mat<T>& G) {
  const int64_t n = G.rows();
  MapM<T> GA(ga, n, n);
  GA += (G + G.transpose()) * T(0.5);
}

template <class T>
struct CholeskyNode final : Node<T> {
  int64_t dim;
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    const int64_t n = dim;
    CMapM<T> L(this->val, n, n);
    Mat<T> Lbar = CMapM<T>(this->grad, n, n).template triangularView<Eigen::Lower>();
    // P = Φ(Lᵀ L̄): lower triangle with the diagonal halved.
    Mat<T> P = (L.transpose() * Lbar).template triangularView<Eigen::Lower>();
    P.diagonal() *= T(0.5);
    // S = L⁻ᵀ P L⁻¹
    Mat<T> S = L.transpose().template triangularView<Eigen::Upper>().solve(P);
    S = L.transpose().template triangularView<Eigen::Upper>().solve(S.transpose()).transpose();
    add_sym(ga, S);
  }
};

template <class T>
struct TriSolveNode final : Node<T> {
  int64_t dim, cols;
  bool lower, trans;
  void backward() override {
    Node<T>*l = this->in[0], *b = this->in[1];
    const int64_t n = dim;
    CMapM<T> L(l->val, n, n);
    CMapM<T> X(this->val, n, cols);
    CMapM<T> Xbar(this->grad, n, cols);
    // op(L) X = B  =>  B̄ = op(L)⁻ᵀ X̄,  op(L)̄ = -B̄ Xᵀ.
    // op(L)ᵀ is lower when (L lower and transposed) or (L upper and not transposed).
    Mat<T> Bbar = Xbar;
    const bool lower_t = lower == trans;
    if (lower_t) {
      if (lower) L.template triangularView<Eigen::Lower>().solveInPlace(Bbar);
      else L.transpose().template triangularView<Eigen::Lower>().solveInPlace(Bbar);
    } else {
      if (lower) L.transpose().template triangularView<Eigen::Upper>().solveInPlace(Bbar);
      else L.template triangularView<Eigen::Upper>().solveInPlace(Bbar);
    }
    if (b->grad) MapM<T>(b->grad, n, cols) += Bbar;
    if (l->grad) {
      Mat<T> G = trans ? Mat<T>(-(X * Bbar.transpose())) : Mat<T>(-(Bbar * X.transpose()));
      MapM<T> GL(l->grad, n, n);
      if (lower) GL += G.template triangularView<Eigen::Lower>().toDenseMatrix();
      else GL += G.template triangularView<Eigen::Upper>().toDenseMatrix();
    }
  }
};

template <class T>
struct SpdSolveNode final : Node<T> {
  int64_t dim, cols;
  const T* chol;  // L of ½(A+Aᵀ)
  void backward() override {
    Node<T>*a = this->in[0], *b = this->in[1];
    const int64_t n = dim;
    CMapM<T> L(chol, n, n);
    CMapM<T> X(this->val, n, cols);
    Mat<T> Bbar = CMapM<T>(this->grad, n, cols);
    L.template triangularView<Eigen::Lower>().solveInPlace(Bbar);
    L.transpose().template triangularView<Eigen::Upper>().solveInPlace(Bbar);
    if (b->grad) MapM<T>(b->grad, n, cols) += Bbar;
    if (a->grad) add_sym<T>(a->grad, -(Bbar * X.transpose()));
  }
};

template <class T>
struct SpdInverseNode final : Node<T> {
  int64_t dim;
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    CMapM<T> Y(this->val, dim, dim);
    add_sym<T>(ga, -(Y * CMapM<T>(this->grad, dim, dim) * Y));
  }
};

template <class T>
struct LogdetNode final : Node<T> {
  int64_t dim;
  const T* chol;
  void backward() override {
    T* ga = this->in[0]->grad;
    if (!ga) return;
    CMapM<T> L(chol, dim, dim);
    Mat<T> Linv = L.template triangularView<Eigen::Lower>().solve(Mat<T>::Identity(dim, dim));
    add_sym<T>(ga, (Linv.transpose() * Linv) * this->grad[0]);
  }
};

}  // namespace

template <class T>
Var<T> cholesky(const Var<T>& a) {
  require_square(a.shape(), "cholesky");
  const int64_t n = a.dim(0);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<CholeskyNode<T>>(a.shape(), a.requires_grad(), "cholesky");
  node->in = {a.node(), nullptr, nullptr};
  node->dim = n;
  MapM<T>(node->val, n, n) = factor(a.data(), n, "cholesky");
  return tape.record(node);
}

template <class T>
Var<T> solve_triangular(const Var<T>& l, const Var<T>& b, bool lower, bool transpose) {
  require_square(l.shape(), "solve_triangular");
  const int64_t n = l.dim(0), m = rhs_cols(b.shape(), n, "solve_triangular", l.shape());
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<TriSolveNode<T>>(b.shape(), l.requires_grad() || b.requires_grad(), "solve_triangular");
  node->in = {l.node(), b.node(), nullptr};
  node->dim = n;
  node->cols = m;
  node->lower = lower;
  node->trans = transpose;
  CMapM<T> L(l.data(), n, n);
  MapM<T> X(node->val, n, m);
  X = CMapM<T>(b.data(), n, m);
  if (lower) {
    if (transpose) L.transpose().template triangularView<Eigen::Upper>().solveInPlace(X);
    else L.template triangularView<Eigen::Lower>().solveInPlace(X);
  } else {
    if (transpose) L.transpose().template triangularView<Eigen::Lower>().solveInPlace(X);
    else L.template triangularView<Eigen::Upper>().solveInPlace(X);
  }
  return tape.record(node);
}

template <class T>
Var<T> solve_spd(const Var<T>& a, const Var<T>& b) {
  require_square(a.shape(), "solve_spd");
  const int64_t n = a.dim(0), m = rhs_cols(b.shape(), n, "solve_spd", a.shape());
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<SpdSolveNode<T>>(b.shape(), a.requires_grad() || b.requires_grad(), "solve_spd");
  node->in = {a.node(), b.node(), nullptr};
  node->dim = n;
  node->cols = m;
  T* chol = tape.alloc(n * n);
  MapM<T> L(chol, n, n);
  L = factor(a.data(), n, "solve_spd");
  node->chol = chol;
  MapM<T> X(node->val, n, m);
  X = CMapM<T>(b.data(), n, m);
  L.template triangularView<Eigen::Lower>().solveInPlace(X);
  L.transpose().template triangularView<Eigen::Upper>().solveInPlace(X);
  return tape.record(node);
}

template <class T>
Var<T> inverse_spd(const Var<T>& a) {
  require_square(a.shape(), "inverse_spd");
  const int64_t n = a.dim(0);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<SpdInverseNode<T>>(a.shape(), a.requires_grad(), "inverse_spd");
  node->in = {a.node(), nullptr, nullptr};
  node->dim = n;
  Mat<T> L = factor(a.data(), n, "inverse_spd");
  Mat<T> Linv = L.template triangularView<Eigen::Lower>().solve(Mat<T>::Identity(n, n));
  MapM<T>(node->val, n, n) = Linv.transpose() * Linv;
  return tape.record(node);
}

template <class T>
Var<T> logdet_spd(const Var<T>& a) {
  require_square(a.shape(), "logdet_spd");
  const int64_t n = a.dim(0);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<LogdetNode<T>>(Shape{}, a.requires_grad(), "logdet_spd");
  node->in = {a.node(), nullptr, nullptr};
  node->dim = n;
  T* chol = tape.alloc(n * n);
  MapM<T> L(chol, n, n);
  L = factor(a.data(), n, "logdet_spd");
  node->chol = chol;
  T acc = 0;
  for (int64_t i = 0; i < n; ++i) acc += std::log(L(i, i));
  node->val[0] = T(2) * acc;
  return tape.record(node);
}

#define TRUSTY_INST(T)                                                            \
  template Var<T> cholesky<T>(const Var<T>&);                                     \
  template Var<T> solve_triangular<T>(const Var<T>&, const Var<T>&, bool, bool);  \
  template Var<T> solve_spd<T>(const Var<T>&, const Var<T>&);                     \
  template Var<T> inverse_spd<T>(const Var<T>&);                                  \
  template Var<T> logdet_spd<T>(const Var<T>&);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
