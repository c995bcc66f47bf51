#include "trusty/nn/init.hpp"

#include <cmath>
#include <stdexcept>

namespace trusty::nn {

namespace {
constexpr std::pair<Init, const char*> kNames[] = {
    {Init::zeros, "zeros"},           {Init::constant, "constant"},         {Init::normal, "normal"},
    {Init::uniform, "uniform"},       {Init::xavier_uniform, "xavier_uniform"}, {Init::xavier_normal, "xavier_normal"},
    {Init::he_normal, "he_normal"},   {Init::he_uniform, "he_uniform"},     {Init::torch_linear, "torch_linear"}};
}

Init parse_init(const std::string& name) {
  std::string choices;
  for (auto [k, n] : kNames) {
    if (name == n) return k;
    choices += std::string(choices.empty() ? "" : ", ") + n;
  }
  throw std::invalid_argument("unknown initialiser '" + name + "' (expected one of " + choices + ")");
}

const char* init_name(Init k) {
  for (auto [kk, n] : kNames)
    if (kk == k) return n;
  return "?";
}

template <class T>
void initialise(std::span<T> out, const core::Shape& shape, const InitSpec& spec, core::Rng& rng, int64_t fan_in_override) {
  const double fan_in = fan_in_override > 0 ? static_cast<double>(fan_in_override)
                        : shape.rank() >= 2 ? static_cast<double>(shape.numel() / shape[shape.rank() - 1]) : 1.0;
  const double fan_out = shape.rank() >= 1 ? static_cast<double>(shape[shape.rank() - 1]) : 1.0;
  auto fill_normal = [&](double sd) { for (auto& v : out) v = static_cast<T>(sd * rng.normal()); };
  auto fill_uniform = [&](double a) { for (auto& v : out) v = static_cast<T>(rng.uniform(-a, a)); };
  switch (spec.kind) {
    case Init::zeros: for (auto& v : out) v = T(0); break;
    case Init::constant: for (auto& v : out) v = static_cast<T>(spec.value); break;
    case Init::normal: fill_normal(spec.value); break;
    case Init::uniform: fill_uniform(spec.value); break;
    case Init::xavier_uniform: fill_uniform(std::sqrt(6.0 / (fan_in + fan_out))); break;
    case Init::xavier_normal: fill_normal(std::sqrt(2.0 / (fan_in + fan_out))); break;
    case Init::he_normal: fill_normal(std::sqrt(2.0 / fan_in)); break;
    case Init::he_uniform: fill_uniform(std::sqrt(6.0 / fan_in)); break;
    case Init::torch_linear: fill_uniform(1.0 / std::sqrt(fan_in)); break;
  }
}

template void initialise<float>(std::span<float>, const core::Shape&, const InitSpec&, core::Rng&, int64_t);
template void initialise<double>(std::span<double>, const core::Shape&, const InitSpec&, core::Rng&, int64_t);

}  // namespace trusty::nn
