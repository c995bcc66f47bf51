// Optimiser trajectories against PyTorch (tools/gen_optim_golden.py): same MLP, same
// initial weights, 20 steps, every parameter within 1e-6 relative. L-BFGS runs 2 iterations
// per step (40 quasi-Newton updates): with 4 per step, rounding differences in the two
// libraries' gradients are amplified past 1e-6 after ~60 updates, as expected of a
// quasi-Newton recursion (the trajectories still agree to 1e-8 in loss at step 16).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "trusty/core.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/nn/losses.hpp"
#include "trusty/optim/optimizer.hpp"
#include "test_paths.hpp"

using namespace trusty;
using core::Shape;
using core::Tensor;
using core::Var;

namespace {
nlohmann::json load_golden() {
  std::ifstream f(std::string(TRUSTY_SOURCE_DIR) + "/tests/optim/golden/optimizers.json");
  if (!f) throw std::runtime_error("golden file missing: run /usr/bin/python3 tools/gen_optim_golden.py");
  return nlohmann::json::parse(f);
}

struct Problem {
  std::unique_ptr<nn::Sequential<double>> net;
  Tensor<double> x, y;
  double value_and_grad(std::span<const double> theta, std::span<double> grad) {
    std::copy(theta.begin(), theta.end(), net->parameters().begin());
    core::GradScope<double> scope;
    net->zero_grad();
    auto loss = nn::mse(net->forward(core::constant(x)), core::constant(y));
    scope.backward(loss);
    std::copy(net->gradients().begin(), net->gradients().end(), grad.begin());
    return loss.item();
  }
};

Problem make_problem(const nlohmann::json& g) {
  Problem p;
  std::vector<int64_t> w = g["widths"];
  p.net = nn::make_mlp<double>(w, {.activation = g["activation"]});
  p.net->finalize(0);
  std::vector<double> th0 = g["theta0"], xs = g["x"], ys = g["y"];
  EXPECT_EQ(static_cast<int64_t>(th0.size()), p.net->num_parameters());
  std::copy(th0.begin(), th0.end(), p.net->parameters().begin());
  p.x = Tensor<double>(Shape{static_cast<int64_t>(xs.size()) / w[0], w[0]}, xs);
  p.y = Tensor<double>(Shape{static_cast<int64_t>(ys.size()) / w.back(), w.back()}, ys);
  return p;
}

std::unique_ptr<optim::Optimizer<double>> from_torch(const std::string& cls, const nlohmann::json& o) {
  auto get = [&](const char* k, double d) { return o.contains(k) ? o[k].get<double>() : d; };
  auto getb = [&](const char* k) { return o.contains(k) && o[k].get<bool>(); };
  if (cls == "SGD")
    return std::make_unique<optim::Sgd<double>>(optim::SgdOptions{.lr = get("lr", 0.01), .momentum = get("momentum", 0),
                                                                  .weight_decay = get("weight_decay", 0),
                                                                  .nesterov = getb("nesterov")});
  if (cls == "Adagrad")
    return std::make_unique<optim::Adagrad<double>>(optim::AdagradOptions{
        .lr = get("lr", 0.01), .lr_decay = get("lr_decay", 0), .weight_decay = get("weight_decay", 0)});
  if (cls == "RMSprop")
    return std::make_unique<optim::Rmsprop<double>>(optim::RmspropOptions{.lr = get("lr", 0.01), .weight_decay = get("weight_decay", 0),
                                                                          .momentum = get("momentum", 0),
                                                                          .centered = getb("centered")});
  if (cls == "Adam" || cls == "AdamW")
    return std::make_unique<optim::Adam<double>>(optim::AdamOptions{
        .lr = get("lr", 1e-3), .weight_decay = get("weight_decay", cls == "AdamW" ? 0.01 : 0.0),
        .amsgrad = getb("amsgrad"), .decoupled = cls == "AdamW"});
  return nullptr;
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, const std::string& what) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    ASSERT_NEAR(got[i], want[i], 1e-6 * std::max(1.0, std::abs(want[i]))) << what << " element " << i;
}
}  // namespace

TEST(OptimGolden, MatchesPyTorchOver20Steps) {
  auto g = load_golden();
  for (const auto& run : g["runs"]) {
    const std::string name = run["name"], cls = run["torch_class"];
    SCOPED_TRACE(name);
    Problem p = make_problem(g);
    std::vector<double> theta(p.net->parameters().begin(), p.net->parameters().end()), grad(theta.size());
    auto traj = run["trajectory"];
    auto losses = run["losses"];
    if (cls == "LBFGS") {
      const auto& o = run["options"];
      optim::Lbfgs<double> opt({.lr = o["lr"], .max_iter = o["max_iter"], .history_size = o["history_size"],
                                .strong_wolfe = o.contains("line_search_fn")});
      for (int s = 0; s < 20; ++s) {
        double loss = opt.step([&](std::span<const double> th, std::span<double> gr) { return p.value_and_grad(th, gr); }, theta);
        EXPECT_NEAR(loss, losses[static_cast<size_t>(s)].get<double>(), 1e-9) << "step " << s;
        expect_close(theta, traj[static_cast<size_t>(s)], name + " step " + std::to_string(s));
      }
      continue;
    }
    auto opt = from_torch(cls, run["options"]);
    ASSERT_TRUE(opt);
    for (int s = 0; s < 20; ++s) {
      p.value_and_grad(theta, grad);
      opt->step(theta, grad);
      expect_close(theta, traj[static_cast<size_t>(s)], name + " step " + std::to_string(s));
    }
  }
}
