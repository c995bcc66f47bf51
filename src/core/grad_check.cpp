#include "trusty/core/grad_check.hpp"

#include <cmath>
#include <random>
#include <sstream>

#include "trusty/core/ops.hpp"

namespace trusty::core {

std::string GradCheckResult::str() const {
  std::ostringstream os;
  os << (ok ? "ok" : "FAILED") << ": max relative error " << max_error << " at input " << worst_input << " element "
     << worst_index << " (analytic " << analytic << ", numeric " << numeric << ")";
  return os.str();
}

namespace {
// sum(w * f(inputs)) with fixed weights w, so vector outputs reduce to one number.
double weighted_value(const std::function<Var<double>(std::span<const Var<double>>)>& f,
                      const std::vector<Tensor<double>>& inputs, std::vector<double>& w, uint64_t seed,
                      std::vector<Tensor<double>>* grads) {
  GradScope<double> scope;
  std::vector<Var<double>> vars;
  for (const auto& t : inputs) vars.push_back(grads ? variable(t) : constant(t));
  Var<double> out = f(vars);
  if (out.numel() == 0) throw std::invalid_argument("check_gradient: f returned an empty tensor " + out.shape().str());
  if (w.empty()) {
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<double> u(0.5, 1.5);
    w.resize(static_cast<size_t>(out.numel()));
    for (auto& x : w) x = out.numel() == 1 ? 1.0 : u(rng);
  }
  if (static_cast<size_t>(out.numel()) != w.size()) throw std::logic_error("check_gradient: output size changed");
  Var<double> red = out.numel() == 1 ? out : dot(reshape(out, Shape{out.numel()}), constant(Tensor<double>(Shape{out.numel()}, w)));
  double v = red.item();
  if (grads) {
    scope.backward(red);
    grads->clear();
    for (auto& x : vars) grads->push_back(x.grad_tensor());
  }
  return v;
}
}  // namespace

GradCheckResult check_gradient(const std::function<Var<double>(std::span<const Var<double>>)>& f,
                               const std::vector<Tensor<double>>& inputs0, const GradCheckOptions& opt) {
  std::vector<Tensor<double>> inputs;
  for (const auto& t : inputs0) inputs.push_back(t.clone());
  std::vector<double> w;
  std::vector<Tensor<double>> analytic;
  weighted_value(f, inputs, w, opt.seed, &analytic);
  GradCheckResult r;
  r.ok = true;
  for (size_t k = 0; k < inputs.size(); ++k) {
    auto span = inputs[k].span();
    for (size_t i = 0; i < span.size(); ++i) {
      const double x0 = span[i];
      const double h = opt.eps * std::max(1.0, std::abs(x0));
      span[i] = x0 + h;
      const double fp = weighted_value(f, inputs, w, opt.seed, nullptr);
      span[i] = x0 - h;
      const double fm = weighted_value(f, inputs, w, opt.seed, nullptr);
      span[i] = x0;
      const double num = (fp - fm) / (2 * h);
      const double an = analytic[k].span()[i];
      const double err = std::abs(an - num) / std::max({1.0, std::abs(an), std::abs(num)});
      if (err > r.max_error || r.worst_input < 0) {
        r.max_error = err;
        r.worst_input = static_cast<int>(k);
        r.worst_index = static_cast<int64_t>(i);
        r.analytic = an;
        r.numeric = num;
      }
    }
  }
  r.ok = r.max_error <= opt.tol && std::isfinite(r.max_error);
  return r;
}

}  // namespace trusty::core
