// The `trusty` command end to end: outputs of train/predict/search, and bad input giving
// one message with the file, the key and what was expected, exit code 2.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "cli_util.hpp"
#include "trusty/io/npy.hpp"
#include "test_paths.hpp"

namespace fs = std::filesystem;

namespace {
using Run = trusty::test::CliRun;
// Without a shell (cli_util.hpp): the paths are temporary directories without spaces.
Run run(const std::string& args) { return trusty::test::run_cli(args); }
std::string dir(const std::string& name) { return trusty::test::fresh_dir("cli_" + name); }
std::string write(const std::string& d, const std::string& name, const std::string& text) {
  return trusty::test::write_text(d, name, text);
}
const char* kGood = R"([data]
name = "xor"
[model]
hidden = [8]
activation = "tanh"
[train]
lr = 0.05
epochs = 300
batch_size = 4
seed = 3
)";
}  // namespace

TEST(Cli, TrainWritesResultsHistoryAndModel) {
  const auto d = dir("train");
  const auto cfg = write(d, "xor.toml", kGood);
  auto r = run("train " + cfg + " --out " + d + "/run --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(d + "/run/results.json");
  auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["test_accuracy"], 1.0);
  EXPECT_EQ(j["epochs"], 300);
  EXPECT_GT(j["train_samples_per_second"].get<double>(), 0);
  // The short machine description every results.json carries (core/machine.hpp).
  ASSERT_TRUE(j.contains("machine")) << j.dump();
  EXPECT_GE(j["machine"]["cores"].get<int>(), 1);
  EXPECT_FALSE(j["machine"]["blas_core"].get<std::string>().empty());
  EXPECT_TRUE(j["machine"]["env"].is_object());
  EXPECT_TRUE(fs::exists(d + "/run/history.csv"));
  auto z = trusty::io::read_npz(d + "/run/model.npz");
  EXPECT_EQ(z.at("param/0.weight").shape, (std::vector<int64_t>{2, 8}));
  // predict on the four XOR inputs
  std::vector<float> x = {0, 0, 0, 1, 1, 0, 1, 1};
  trusty::io::write_npy(d + "/x.npy", trusty::io::NpyArray::from<float>(x, {4, 2}));
  auto p = run("predict " + d + "/run --input " + d + "/x.npy --output " + d + "/p.npy");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_EQ(trusty::io::read_npy(d + "/p.labels.npy").values<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  auto probs = trusty::io::read_npy(d + "/p.npy").values<float>();
  EXPECT_NEAR(probs[0] + probs[1], 1.0, 1e-5);
}

TEST(Cli, FullBatchLbfgsExample) {
  // examples/quadratic_lbfgs.toml: full-batch L-BFGS fits the quadratic to held-out
  // R² >= 0.9999 in 300 iterations (Adam's example reaches 0.9989 in 1,500 epochs).
  const auto d = dir("lbfgs");
  auto r = run("train " + std::string(TRUSTY_SOURCE_DIR) + "/examples/quadratic_lbfgs.toml --out " + d + "/run --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(d + "/run/results.json");
  auto j = nlohmann::json::parse(f);
  EXPECT_GE(j["test_r2"].get<double>(), 0.9999);
  auto bad = write(d, "bad.toml", "[data]\nname = \"xor\"\n[train]\noptimizer = \"lbfgs\"\nhistory_size = 0\n");
  auto b = run("train " + bad + " --out " + d + "/bad --quiet");
  EXPECT_EQ(b.code, 2);
  EXPECT_NE(b.out.find("history_size"), std::string::npos) << b.out;
}

TEST(Cli, PredictWithAConvolutionalRun) {
  // predict rebuilds a CNN from its config (the input width is input_shape's product, not a
  // dense layer's), and takes inputs of the sample's shape [n, 1, 2] as well as flat rows.
  const auto d = dir("predict_cnn");
  const auto cfg = write(d, "cnn.toml", R"([data]
name = "xor"
[model]
type = "cnn"
input_shape = [1, 2]
[[model.layers]]
type = "conv"
channels = 8
kernel = 2
activation = "tanh"
[[model.layers]]
type = "flatten"
[train]
lr = 0.05
epochs = 300
batch_size = 4
seed = 3
)");
  auto r = run("train " + cfg + " --out " + d + "/run --quiet");
  ASSERT_EQ(r.code, 0) << r.out;
  std::vector<float> x = {0, 0, 0, 1, 1, 0, 1, 1};
  trusty::io::write_npy(d + "/x.npy", trusty::io::NpyArray::from<float>(x, {4, 1, 2}));
  auto p = run("predict " + d + "/run --input " + d + "/x.npy --output " + d + "/p.npy");
  ASSERT_EQ(p.code, 0) << p.out;
  EXPECT_EQ(trusty::io::read_npy(d + "/p.labels.npy").values<int64_t>(), (std::vector<int64_t>{0, 1, 1, 0}));
  trusty::io::write_npy(d + "/bad.npy", trusty::io::NpyArray::from<float>(std::vector<float>(6, 0.f), {2, 3}));
  auto b = run("predict " + d + "/run --input " + d + "/bad.npy --output " + d + "/q.npy");
  EXPECT_NE(b.code, 0);
  EXPECT_NE(b.out.find("3 features per row, the model expects 2"), std::string::npos) << b.out;
}

TEST(Cli, ResumeContinuesFromTheCheckpoint) {
  const auto d = dir("resume");
  std::string three = kGood;
  three.replace(three.find("epochs = 300"), 12, "epochs = 3  ");
  std::string six = kGood;
  six.replace(six.find("epochs = 300"), 12, "epochs = 6  ");
  ASSERT_EQ(run("train " + write(d, "a.toml", six) + " --out " + d + "/straight --quiet").code, 0);
  ASSERT_EQ(run("train " + write(d, "b.toml", three) + " --out " + d + "/resumed --quiet").code, 0);
  ASSERT_EQ(run("train " + write(d, "c.toml", six) + " --out " + d + "/resumed --quiet --resume").code, 0);
  auto a = trusty::io::read_npz(d + "/straight/model.npz"), b = trusty::io::read_npz(d + "/resumed/model.npz");
  EXPECT_EQ(a.at("param/2.weight").values<float>(), b.at("param/2.weight").values<float>());
}

TEST(Cli, BadInputNamesFileKeyAndExpectation) {
  const auto d = dir("bad");
  struct Case {
    std::string from, to, expect;
  };
  const std::vector<Case> cases = {
      {"lr = 0.05", "lr = 0.05\nlearning_rate = 0.1", "unknown key train.learning_rate"},
      {"epochs = 300", "epochs = \"many\"", "[train] epochs: expected an integer, got a string"},
      {"activation = \"tanh\"", "activation = \"swish\"", "[model] activation: expected one of identity"},
      {"name = \"xor\"", "x = \"missing.npy\"\ny = \"y.npy\"", "[data] x: data file"},
      {"hidden = [8]", "hidden = [8, -1]", "[model] hidden: expected layer widths in [1, 16777216], got -1"},
      {"seed = 3", "seed = 3\npatience = 2", "[train] patience: early stopping needs a validation set"},
  };
  for (const auto& c : cases) {
    std::string text = kGood;
    text.replace(text.find(c.from), c.from.size(), c.to);
    const auto cfg = write(d, "bad.toml", text);
    auto r = run("train " + cfg + " --out " + d + "/run --quiet");
    EXPECT_EQ(r.code, 2) << c.to << "\n" << r.out;
    EXPECT_NE(r.out.find(cfg), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(c.expect), std::string::npos) << "wanted '" << c.expect << "' in: " << r.out;
  }
  // A syntax error names the line.
  auto r = run("train " + write(d, "syntax.toml", "[data\nname = 1") + " --out " + d + "/run");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("syntax.toml:1"), std::string::npos) << r.out;
  // A network that does not fit the data: the model's input is derived, so feed a wrong x.
  std::vector<float> x(12, 0.5f);
  std::vector<int64_t> y = {0, 1, 0};
  trusty::io::write_npy(d + "/x.npy", trusty::io::NpyArray::from<float>(x, {3, 4}));
  trusty::io::write_npy(d + "/y.npy", trusty::io::NpyArray::from<int64_t>(y, {3}));
  std::vector<float> xt(6, 0.5f);
  trusty::io::write_npy(d + "/xt.npy", trusty::io::NpyArray::from<float>(xt, {3, 2}));
  auto shape = run("train " + write(d, "shape.toml", "[data]\nx = \"x.npy\"\ny = \"y.npy\"\ntest_x = \"xt.npy\"\ntest_y = \"y.npy\"\n") +
                   " --out " + d + "/run --quiet");
  EXPECT_EQ(shape.code, 2) << shape.out;
  EXPECT_NE(shape.out.find("the test set has 2 features but the training set 4"), std::string::npos) << shape.out;
  // Missing config file.
  EXPECT_EQ(run("train " + d + "/nope.toml --out " + d + "/run").code, 2);
}

TEST(Cli, SearchWritesATable) {
  const auto d = dir("search");
  const auto cfg = write(d, "s.toml", R"(dtype = "float64"
[data]
name = "quadratic"
task = "regression"
[train]
epochs = 50
batch_size = 100
[search]
folds = 3
lr = [0.003, 0.03]
hidden = [[8], [16, 16]]
)");
  auto r = run("search " + cfg + " --out " + d + "/run");
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(d + "/run/results.json");
  auto j = nlohmann::json::parse(f);
  EXPECT_EQ(j["candidates"].size(), 4u);
  EXPECT_TRUE(j.contains("test_r2"));
  std::ifstream csv(d + "/run/search.csv");
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header, "trial,lr,hidden,score,score_sd,val_loss");
}

TEST(Cli, DemoRunsEndToEnd) {
  const auto d = dir("demo");
  auto r = run("demo --quick --out " + d);
  ASSERT_EQ(r.code, 0) << r.out;
  std::ifstream f(d + "/results.json");
  auto j = nlohmann::json::parse(f);
  for (const char* g : {"XOR", "OR", "AND"}) EXPECT_EQ(j["gates"][g]["mlp_accuracy"], 1.0);
  for (double p : j["gates"]["XOR"]["least_squares_predictions"]) EXPECT_NEAR(p, 0.5, 1e-12);
  EXPECT_LE(j["gates"]["XOR"]["logistic_regression_accuracy"].get<double>(), 0.75);
  EXPECT_GT(j["mnist"]["test_accuracy"].get<double>(), 0.9);
  EXPECT_GT(j["quadratic"]["test_r2"].get<double>(), 0.99);
  EXPECT_TRUE(fs::exists(d + "/mnist/predictions.npz"));
}
