// Weight initialisers. fan_in/fan_out are read from a [in, out] weight shape.
#pragma once
#include <span>
#include <string>

#include "trusty/core/rng.hpp"
#include "trusty/core/shape.hpp"

namespace trusty::nn {

enum class Init {
  zeros,
  constant,        // every entry = value
  normal,          // N(0, value²), value defaults to 1: the lecture's naive choice
  uniform,         // U(-value, value)
  xavier_uniform,  // U(-a, a), a = sqrt(6 / (fan_in + fan_out))   (Glorot & Bengio 2010)
  xavier_normal,   // N(0, 2 / (fan_in + fan_out))
  he_normal,       // N(0, 2 / fan_in)                              (He et al. 2015)
  he_uniform,      // U(-a, a), a = sqrt(6 / fan_in)
  torch_linear,    // U(-a, a), a = 1 / sqrt(fan_in): PyTorch's nn.Linear default (weights and biases)
};

struct InitSpec {
  Init kind = Init::zeros;
  double value = 1.0;
  int64_t fan_in = 0;  // 0: from the shape
};

Init parse_init(const std::string& name);  // "xavier_uniform", "he_normal", ...; throws listing the choices
const char* init_name(Init k);

// fan_in overrides the one read from the shape (biases: the fan-in of their layer).
template <class T>
void initialise(std::span<T> out, const core::Shape& shape, const InitSpec& spec, core::Rng& rng, int64_t fan_in = 0);

}  // namespace trusty::nn
