#include "trusty/nn/conv_layers.hpp"

#include <numeric>
#include <sstream>

#include "trusty/core/ops.hpp"

namespace trusty::nn {

using namespace trusty::core;

namespace {
ConvSpec to_spec(const ConvOptions& o) {
  ConvSpec s;
  s.dims = o.dims;
  s.stride = {o.stride, o.stride, o.stride};
  s.dilation = {o.dilation, o.dilation, o.dilation};
  s.padding = o.padding;
  s.relu = o.relu;
  s.pool = o.pool;
  return s;
}
std::vector<int64_t> kernel_shape(int64_t cout, int64_t cin, int64_t k, int dims) {
  std::vector<int64_t> s = {cout, cin};
  for (int d = 0; d < dims; ++d) s.push_back(k);
  return s;
}
const char* padding_name(Padding p) { return p == Padding::valid ? "valid" : p == Padding::same ? "same" : "periodic"; }
void check(int64_t cin, int64_t cout, int64_t k, int dims, const char* who) {
  if (cin < 1 || cout < 1 || k < 1 || dims < 1 || dims > 3)
    throw std::invalid_argument(std::string(who) + ": need channels >= 1, kernel >= 1 and dims in 1..3, got " + std::to_string(cin) +
                                " -> " + std::to_string(cout) + ", kernel " + std::to_string(k) + ", dims " + std::to_string(dims));
}
}  // namespace

template <class T>
Conv<T>::Conv(int64_t cin, int64_t cout, int64_t k, ConvOptions opt) : cin_(cin), cout_(cout), k_(k), opt_(opt) {
  check(cin, cout, k, opt.dims, "Conv");
  int64_t fan_in = cin;
  for (int d = 0; d < opt.dims; ++d) fan_in *= k;
  InitSpec wi = opt.weight_init;
  wi.fan_in = fan_in;
  w_ = this->add_parameter("weight", Shape(std::span<const int64_t>(kernel_shape(cout, cin, k, opt.dims))), wi);
  if (opt.bias) b_ = this->add_parameter("bias", Shape{cout}, {Init::torch_linear, 1.0, fan_in});
}

template <class T>
Var<T> Conv<T>::forward(const Var<T>& x) {
  const auto s = to_spec(opt_);
  return b_ >= 0 ? conv(x, this->param(w_), this->param(b_), s) : conv(x, this->param(w_), s);
}

template <class T>
std::string Conv<T>::describe() const {
  std::ostringstream os;
  os << "Conv" << opt_.dims << "d(" << cin_ << " -> " << cout_ << ", k" << k_ << ", " << padding_name(opt_.padding);
  if (opt_.stride > 1) os << ", stride " << opt_.stride;
  if (opt_.dilation > 1) os << ", dilation " << opt_.dilation;
  if (opt_.relu) os << ", fused ReLU";
  if (opt_.pool) os << ", fused max-pool " << opt_.pool;
  os << ")";
  return os.str();
}

template <class T>
MultipoleConv<T>::MultipoleConv(int64_t cin, int64_t cout, int64_t k, int ell, int m, ConvOptions opt)
    : cin_(cin), cout_(cout), k_(k), ell_(ell), m_(m), opt_(opt), table_(multipole_table(opt.dims, k, ell, m)) {
  check(cin, cout, k, opt.dims, "MultipoleConv");
  // Free weights [cout, cin, groups]; the kernel gathers them: index (o·cin + i)·groups + group.
  const int64_t K = static_cast<int64_t>(table_.group.size());
  for (int64_t p = 0; p < cout * cin; ++p)
    for (int64_t e = 0; e < K; ++e) gather_index_.push_back(p * table_.groups + table_.group[static_cast<size_t>(e)]);
  InitSpec wi = opt.weight_init;
  wi.fan_in = cin * K;
  w_ = this->add_parameter("weight", Shape{cout, cin, table_.groups}, wi);
  if (opt.bias) b_ = this->add_parameter("bias", Shape{cout}, {Init::torch_linear, 1.0, cin * K});
}

template <class T>
Var<T> MultipoleConv<T>::kernel() const {
  auto flat = reshape(this->param(w_), Shape{cout_ * cin_ * table_.groups});
  auto k = gather(flat, 0, gather_index_);
  return reshape(k, Shape(std::span<const int64_t>(kernel_shape(cout_, cin_, k_, opt_.dims))));
}

template <class T>
Var<T> MultipoleConv<T>::forward(const Var<T>& x) {
  const auto s = to_spec(opt_);
  return b_ >= 0 ? conv(x, kernel(), this->param(b_), s) : conv(x, kernel(), s);
}

template <class T>
std::string MultipoleConv<T>::describe() const {
  std::ostringstream os;
  os << "MultipoleConv" << opt_.dims << "d(" << cin_ << " -> " << cout_ << ", k" << k_ << ", l=" << ell_;
  if (opt_.dims == 3) os << ", m=" << m_;
  os << ", " << table_.groups << " free weights per channel pair, " << padding_name(opt_.padding);
  if (opt_.relu) os << ", fused ReLU";
  if (opt_.pool) os << ", fused max-pool " << opt_.pool;
  os << ")";
  return os.str();
}

template <class T>
std::string Pool<T>::describe() const {
  return kind() + std::to_string(dims_) + "d(" + std::to_string(window_) + ")";
}

template <class T>
Var<T> Flatten<T>::forward(const Var<T>& x) {
  if (x.rank() < 1) throw std::invalid_argument("Flatten: input has no batch axis");
  return reshape(x, Shape{x.dim(0), x.numel() / std::max<int64_t>(x.dim(0), 1)});
}

template <class T>
Var<T> Reshape<T>::forward(const Var<T>& x) {
  const int64_t per = std::accumulate(shape_.begin(), shape_.end(), int64_t{1}, std::multiplies<>());
  if (x.rank() < 1 || x.numel() != x.dim(0) * per)
    throw std::invalid_argument("Reshape: input " + x.shape().str() + " does not hold " + describe() + " per sample");
  std::vector<int64_t> d = {x.dim(0)};
  d.insert(d.end(), shape_.begin(), shape_.end());
  return reshape(x, Shape(std::span<const int64_t>(d)));
}

template <class T>
std::string Reshape<T>::describe() const {
  std::string s = "Reshape(";
  for (size_t i = 0; i < shape_.size(); ++i) {
    if (i) s += 'x';
    s += std::to_string(shape_[i]);
  }
  return s + ")";
}

#define TRUSTY_INST(T)              \
  template class Conv<T>;           \
  template class MultipoleConv<T>;  \
  template class Pool<T>;           \
  template class Flatten<T>;        \
  template class Reshape<T>;
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::nn
