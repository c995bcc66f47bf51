// Convolutional layers on [batch, channels, *spatial]: Conv (1-, 2-, 3-d), MultipoleConv
// (symmetry-tied kernels, neural physical engines), MaxPool, AvgPool, Flatten, Reshape.
#pragma once
#include <string>
#include <vector>

#include "trusty/core/conv.hpp"
#include "trusty/nn/module.hpp"
#include "trusty/nn/multipole.hpp"

namespace trusty::nn {

struct ConvOptions {
  int dims = 2;
  int64_t stride = 1, dilation = 1;
  core::Padding padding = core::Padding::valid;
  bool bias = true;
  bool relu = false;  // ReLU fused into the convolution (one pass, no separate activation node)
  int64_t pool = 0;   // max pooling (window = stride) fused after it: no full-size output (0: none)
  InitSpec weight_init{Init::he_normal};  // fan-in = in_channels · kernel volume
};

template <class T>
class Conv final : public Module<T> {
 public:
  Conv(int64_t in_channels, int64_t out_channels, int64_t kernel, ConvOptions opt);
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "Conv"; }
  std::string describe() const override;

 private:
  int64_t cin_, cout_, k_;
  ConvOptions opt_;
  int w_ = -1, b_ = -1;
};

// A convolution whose kernel entries are tied by a multipole table (ℓ, m): each
// (out, in) channel pair has table.groups free weights, gathered into an ordinary kernel
// so the fast convolution serves it.
template <class T>
class MultipoleConv final : public Module<T> {
 public:
  MultipoleConv(int64_t in_channels, int64_t out_channels, int64_t kernel, int ell, int m, ConvOptions opt);
  Var<T> forward(const Var<T>& x) override;
  Var<T> kernel() const;  // the tied kernel [out, in, k, ...] as a tape value
  std::string kind() const override { return "MultipoleConv"; }
  std::string describe() const override;
  const MultipoleTable& table() const { return table_; }

 private:
  int64_t cin_, cout_, k_;
  int ell_, m_;
  ConvOptions opt_;
  MultipoleTable table_;
  std::vector<int64_t> gather_index_;
  int w_ = -1, b_ = -1;
};

template <class T>
class Pool final : public Module<T> {
 public:
  Pool(bool max, int dims, int64_t window, int64_t stride = 0) : max_(max), dims_(dims), window_(window), stride_(stride) {}
  Var<T> forward(const Var<T>& x) override {
    return max_ ? core::max_pool(x, dims_, window_, stride_) : core::avg_pool(x, dims_, window_, stride_);
  }
  std::string kind() const override { return max_ ? "MaxPool" : "AvgPool"; }
  std::string describe() const override;

 private:
  bool max_;
  int dims_;
  int64_t window_, stride_;
};

// [batch, ...] -> [batch, prod(...)]
template <class T>
class Flatten final : public Module<T> {
 public:
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "Flatten"; }
};

// [batch, prod(shape)] -> [batch, *shape]: flat data into images.
template <class T>
class Reshape final : public Module<T> {
 public:
  explicit Reshape(std::vector<int64_t> shape) : shape_(std::move(shape)) {}
  Var<T> forward(const Var<T>& x) override;
  std::string kind() const override { return "Reshape"; }
  std::string describe() const override;

 private:
  std::vector<int64_t> shape_;
};

}  // namespace trusty::nn
