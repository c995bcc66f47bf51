// Element-wise derivatives against mpmath at 60 digits (tools/gen_elementwise_golden.py):
// relatively accurate over the whole range, including where they are tiny. 1 - tanh(x)^2
// is 0 for |x| > 19 in double (the true value 4e^{-2|x|} is not), and ELU's y + alpha
// for x << 0 cancels to noise; sigmoid's y(1 - y) likewise for x >> 0.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "trusty/core.hpp"
#include "test_paths.hpp"

using namespace trusty::core;

namespace {
template <class T>
std::vector<T> derivative(const std::string& name, const std::vector<T>& x) {
  std::vector<T> grad(x.size(), T(0));
  GradScope<T> scope;
  auto p = parameter<T>(Shape{static_cast<int64_t>(x.size())}, x.data(), grad.data());
  Var<T> y = name == "tanh" ? tanh(p) : name == "sigmoid" ? sigmoid(p) : elu(p, name == "elu_1" ? T(1) : T(0.5));
  scope.backward(sum(y));
  return grad;
}

// Relative error, with anything below the type's smallest normal counted as equal to zero.
template <class T>
double rel_error(double got, double want) {
  const double tiny = std::numeric_limits<T>::min();
  if (std::abs(want) < tiny) return std::abs(got) < 4 * tiny ? 0 : 1;
  return std::abs(got - want) / std::abs(want);
}

template <class T>
void check(double tol) {
  std::ifstream f(std::string(TRUSTY_SOURCE_DIR) + "/tests/core/golden/elementwise_grads.json");
  ASSERT_TRUE(f) << "golden file missing: run /usr/bin/python3 tools/gen_elementwise_golden.py";
  const auto g = nlohmann::json::parse(f);
  const std::vector<double> xd = g["x"];
  for (const auto& [name, values] : g["derivative"].items()) {
    std::vector<T> x;
    for (double v : xd) x.push_back(static_cast<T>(v));
    const auto d = derivative<T>(name, x);
    for (size_t i = 0; i < x.size(); ++i) {
      // The reference at the argument as rounded to T: compare at x exactly as T holds it.
      const double want = values[i];
      if (static_cast<double>(x[i]) != xd[i]) continue;
      EXPECT_LE(rel_error<T>(d[i], want), tol) << name << "'(" << xd[i] << ") = " << d[i] << ", expected " << want;
    }
  }
}
}  // namespace

TEST(ElementwiseGolden, Double) { check<double>(4e-15); }
TEST(ElementwiseGolden, Float) { check<float>(2e-6); }
