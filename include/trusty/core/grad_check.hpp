// The one finite-difference gradient checker, used for every op and layer.
// Double precision, central differences, relative error
//   |analytic - numeric| / max(1, |analytic|, |numeric|)   (absolute near zero).
// A non-scalar f is reduced with fixed random weights, sum(w * f), so every output
// element's gradient is exercised.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "trusty/core/tape.hpp"

namespace trusty::core {

struct GradCheckResult {
  double max_error = 0;     // largest relative error over all input elements
  int worst_input = -1;     // which input, and which element, it was
  int64_t worst_index = -1;
  double analytic = 0, numeric = 0;
  bool ok = false;
  std::string str() const;
};

struct GradCheckOptions {
  double eps = 1e-6;
  double tol = 1e-6;
  uint64_t seed = 12345;  // for the output weights
};

GradCheckResult check_gradient(const std::function<Var<double>(std::span<const Var<double>>)>& f,
                               const std::vector<Tensor<double>>& inputs, const GradCheckOptions& opt = {});

}  // namespace trusty::core
