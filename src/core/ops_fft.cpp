// FFT ops (trusty/core/fft.hpp) on FFTW3. Plans are made once per geometry with
// FFTW_ESTIMATE | FFTW_UNALIGNED (arena memory has no FFTW alignment), under a mutex because
// FFTW's planner is not thread-safe; they are executed with the new-array functions, which are.
// Transforms run in double precision; float values are converted on the way in and out.
#include <fftw3.h>

#include <algorithm>
#include <array>
#include <climits>
#include <map>
#include <mutex>
#include <tuple>
#include <type_traits>
#include <vector>

#include "trusty/core/fft.hpp"

namespace trusty::core {

std::mutex& fftw_planner_mutex() {
  static std::mutex m;
  return m;
}
namespace {

// forward: e^{-}, backward: e^{+}, both unnormalised complex-to-complex.
enum class Kind { forward, backward, r2c, c2r };

// The transformed axes (real-space sizes) and how many transforms of them.
struct Geometry {
  int rank = 1;
  std::array<int, 3> dims{1, 1, 1};
  int64_t batch = 0;
  int64_t real_n() const {  // N: points per transform
    int64_t n = 1;
    for (int i = 0; i < rank; ++i) n *= dims[static_cast<size_t>(i)];
    return n;
  }
  int last() const { return dims[static_cast<size_t>(rank - 1)]; }
  int64_t half_n() const { return real_n() / last() * (last() / 2 + 1); }  // complex entries of a half spectrum
};

fftw_plan make_plan(Kind kind, const Geometry& g) {
  const int n_real = static_cast<int>(g.real_n()), n_half = static_cast<int>(g.half_n());
  const int howmany = static_cast<int>(g.batch);
  const unsigned flags = FFTW_ESTIMATE | FFTW_UNALIGNED;
  // Planning arrays of the right size (FFTW_ESTIMATE should not touch them; they cost nothing).
  const int64_t in_doubles = kind == Kind::r2c ? g.batch * n_real : 2 * g.batch * (kind == Kind::c2r ? n_half : n_real);
  const int64_t out_doubles = kind == Kind::c2r ? g.batch * n_real : 2 * g.batch * (kind == Kind::r2c ? n_half : n_real);
  double* in = fftw_alloc_real(static_cast<size_t>(in_doubles));
  double* out = fftw_alloc_real(static_cast<size_t>(out_doubles));
  auto* cin = reinterpret_cast<fftw_complex*>(in);
  auto* cout = reinterpret_cast<fftw_complex*>(out);
  fftw_plan p = nullptr;
  switch (kind) {
    case Kind::forward:
    case Kind::backward:
      p = fftw_plan_many_dft(g.rank, g.dims.data(), howmany, cin, nullptr, 1, n_real, cout, nullptr, 1, n_real,
                             kind == Kind::forward ? FFTW_FORWARD : FFTW_BACKWARD, flags);
      break;
    case Kind::r2c:
      p = fftw_plan_many_dft_r2c(g.rank, g.dims.data(), howmany, in, nullptr, 1, n_real, cout, nullptr, 1, n_half, flags);
      break;
    case Kind::c2r:
      p = fftw_plan_many_dft_c2r(g.rank, g.dims.data(), howmany, cin, nullptr, 1, n_half, out, nullptr, 1, n_real,
                                 flags | FFTW_DESTROY_INPUT);
      break;
  }
  fftw_free(in);
  fftw_free(out);
  if (!p) throw std::runtime_error("fft: FFTW could not plan a transform of rank " + std::to_string(g.rank));
  return p;
}

// The plan for a geometry, made on first use and kept for the life of the process.
fftw_plan plan_for(Kind kind, const Geometry& g) {
  using Key = std::tuple<int, int, std::array<int, 3>, int64_t>;
  // Never destroyed: plans stay reachable (so LeakSanitizer does not report them) and remain
  // valid for threads still running while static objects are destroyed at exit.
  static auto& cache = *new std::map<Key, fftw_plan>;
  const Key key{static_cast<int>(kind), g.rank, g.dims, g.batch};
  std::lock_guard<std::mutex> lock(fftw_planner_mutex());
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  fftw_plan p = make_plan(kind, g);
  cache.emplace(key, p);
  return p;
}

// out = the unnormalised transform of in, both in double.
void execute(Kind kind, const Geometry& g, const double* in, double* out) {
  if (g.batch == 0) return;
  fftw_plan p = plan_for(kind, g);
  auto* cout = reinterpret_cast<fftw_complex*>(out);
  switch (kind) {
    case Kind::forward:
    case Kind::backward:
      fftw_execute_dft(p, reinterpret_cast<fftw_complex*>(const_cast<double*>(in)), cout);
      break;
    case Kind::r2c: fftw_execute_dft_r2c(p, const_cast<double*>(in), cout); break;
    case Kind::c2r: {
      std::vector<double> copy(in, in + 2 * g.batch * g.half_n());  // a multi-dimensional c2r destroys its input
      fftw_execute_dft_c2r(p, reinterpret_cast<fftw_complex*>(copy.data()), out);
      break;
    }
  }
}

template <class T>
void transform(Kind kind, const Geometry& g, const T* in, int64_t n_in, T* out, int64_t n_out) {
  if constexpr (std::is_same_v<T, double>) {
    execute(kind, g, in, out);
  } else {
    std::vector<double> a(in, in + n_in), b(static_cast<size_t>(n_out));
    execute(kind, g, a.data(), b.data());
    std::copy(b.begin(), b.end(), out);
  }
}

// Multiplies a batch of half spectra by `s`, and their interior (last-axis entries other
// than 0 and, for even lengths, n/2: those whose conjugate mirror is not stored) by `interior` too.
template <class T>
void weight_half(T* z, const Geometry& g, T s, T interior) {
  const int64_t m = g.last() / 2 + 1, entries = g.batch * g.half_n();
  const bool even = g.last() % 2 == 0;
  for (int64_t j = 0; j < entries; ++j) {
    const int64_t k = j % m;
    const T w = (k == 0 || (even && k == m - 1)) ? s : s * interior;
    z[2 * j] *= w;
    z[2 * j + 1] *= w;
  }
}

enum class Op { fft, ifft, rfft, irfft };
constexpr const char* op_name(Op op) {
  constexpr const char* names[] = {"fftn", "ifftn", "rfftn", "irfftn"};
  return names[static_cast<int>(op)];
}

template <class T> Var<T> fft_op(const Var<T>& x, Op op, int ndim, int64_t last_size);

template <class T>
struct FftNode final : Node<T> {
  Op op;
  Geometry geo;

  // The adjoint of the op's linear map, applied to this node's gradient.
  void backward() override {
    Node<T>* a = this->in[0];
    if (!a->grad) return;
    std::vector<T> buf(static_cast<size_t>(a->n));
    const T inv_n = T(1) / static_cast<T>(geo.real_n());
    switch (op) {
      case Op::fft: transform(Kind::backward, geo, this->grad, this->n, buf.data(), a->n); break;
      case Op::ifft:
        transform(Kind::forward, geo, this->grad, this->n, buf.data(), a->n);
        for (T& v : buf) v *= inv_n;
        break;
      case Op::rfft: {  // Re Σ_{stored k} g_k e^{+}: a c2r of g with its interior halved
        std::vector<T> z(this->grad, this->grad + this->n);
        weight_half(z.data(), geo, T(1), T(0.5));
        transform(Kind::c2r, geo, z.data(), this->n, buf.data(), a->n);
        break;
      }
      case Op::irfft:  // (c_k / N) rfft(g)_k, c = 2 in the interior
        transform(Kind::r2c, geo, this->grad, this->n, buf.data(), a->n);
        weight_half(buf.data(), geo, inv_n, T(2));
        break;
    }
    T* ga = a->grad;
    if (accumulate_into(a))
      for (int64_t i = 0; i < a->n; ++i) ga[i] += buf[static_cast<size_t>(i)];
    else
      std::copy(buf.begin(), buf.end(), ga);
  }

  // Linear: the tangent goes through the same op.
  Node<T>* tangent(TangentMap<T>& t) override {
    Node<T>* ta = t.of(this->in[0]);
    return ta ? fft_op(Var<T>(ta), op, geo.rank, geo.last()).node() : nullptr;
  }
};

[[noreturn]] void bad_shape(Op op, const Shape& s, int ndim, const std::string& why) {
  throw std::invalid_argument(std::string(op_name(op)) + ": input of shape " + s.str() + " with ndim " +
                              std::to_string(ndim) + ": " + why);
}

// Checks x's shape for op and returns the geometry and the output shape.
std::pair<Geometry, Shape> plan_shapes(Op op, const Shape& s, int ndim, int64_t last_size) {
  if (ndim < 1 || ndim > 3) bad_shape(op, s, ndim, "ndim must be 1, 2 or 3");
  const bool complex_in = op != Op::rfft;
  const int r = s.rank(), first = r - ndim - (complex_in ? 1 : 0);
  if (first < 0) bad_shape(op, s, ndim, complex_in ? "needs rank >= ndim + 1 (the complex axis)" : "needs rank >= ndim");
  if (complex_in && s[r - 1] != 2) bad_shape(op, s, ndim, "the last (complex) axis must have size 2");
  Geometry g;
  g.rank = ndim;
  for (int i = 0; i < ndim; ++i) {
    const int64_t d = (op == Op::irfft && i == ndim - 1) ? last_size : s[first + i];
    if (d < 1 || d > INT_MAX) bad_shape(op, s, ndim, "transformed sizes must be in [1, INT_MAX]");
    g.dims[static_cast<size_t>(i)] = static_cast<int>(d);
  }
  if (op == Op::irfft && s[r - 2] != last_size / 2 + 1)
    bad_shape(op, s, ndim, "last_size " + std::to_string(last_size) + " needs " + std::to_string(last_size / 2 + 1) +
                               " half-spectrum entries");
  g.batch = 1;
  for (int i = 0; i < first; ++i) g.batch *= s[i];
  if (g.batch > INT_MAX) bad_shape(op, s, ndim, "too many transforms for FFTW");
  std::vector<int64_t> out(s.dims().begin(), s.dims().end());
  if (op == Op::rfft) {
    out.back() = out.back() / 2 + 1;
    out.push_back(2);
  } else if (op == Op::irfft) {
    out.pop_back();
    out.back() = last_size;
  }
  return {g, Shape(std::span<const int64_t>(out))};
}

template <class T>
Var<T> fft_op(const Var<T>& x, Op op, int ndim, int64_t last_size) {
  auto [geo, out] = plan_shapes(op, x.shape(), ndim, last_size);
  auto& tape = Tape<T>::current();
  auto* node = tape.template make<FftNode<T>>(out, x.requires_grad(), op_name(op));
  node->in = {x.node(), nullptr, nullptr};
  node->first_write = true;
  node->op = op;
  node->geo = geo;
  const Kind kind = op == Op::fft ? Kind::forward : op == Op::ifft ? Kind::backward : op == Op::rfft ? Kind::r2c : Kind::c2r;
  transform(kind, geo, x.data(), x.numel(), node->val, node->n);
  if (op == Op::ifft || op == Op::irfft) {
    const T inv_n = T(1) / static_cast<T>(geo.real_n());
    for (int64_t i = 0; i < node->n; ++i) node->val[i] *= inv_n;
  }
  return tape.record(node);
}

}  // namespace

template <class T> Var<T> fftn(const Var<T>& x, int ndim) { return fft_op(x, Op::fft, ndim, 0); }
template <class T> Var<T> ifftn(const Var<T>& x, int ndim) { return fft_op(x, Op::ifft, ndim, 0); }
template <class T> Var<T> rfftn(const Var<T>& x, int ndim) { return fft_op(x, Op::rfft, ndim, 0); }
template <class T> Var<T> irfftn(const Var<T>& x, int ndim, int64_t last_size) {
  return fft_op(x, Op::irfft, ndim, last_size);
}

#define TRUSTY_INST(T)                                     \
  template Var<T> fftn<T>(const Var<T>&, int);             \
  template Var<T> ifftn<T>(const Var<T>&, int);            \
  template Var<T> rfftn<T>(const Var<T>&, int);            \
  template Var<T> irfftn<T>(const Var<T>&, int, int64_t);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::core
