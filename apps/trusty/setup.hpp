// Turning a TOML config into data, a network, an optimiser and a trainer configuration.
// Shared by `trusty train`, `predict`, `search` and `demo`. See docs/train.md for the keys.
#pragma once
#include <cmath>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trusty/io/config.hpp"
#include "trusty/io/dataset.hpp"
#include "trusty/nn/layers.hpp"
#include "trusty/optim/trainer.hpp"

namespace trusty::apps {

struct DataSpec {
  std::string name;            // mnist, fashion-mnist, xor, or, and, quadratic; or empty
  std::string csv, x, y;       // users' files
  std::string test_csv, test_x, test_y;
  std::vector<int64_t> target_columns = {-1};
  std::string task = "classification";
  double validation_split = 0;
  int64_t limit_train = 0;     // use only the first N training rows (quick runs)
  bool drop_nonfinite = false; // leave out rows with NaN/inf values (else: an error naming the cell)
};

// One layer of a [[model.layers]] list (type "cnn").
struct LayerSpec {
  std::string type;             // conv, multipole_conv, max_pool, avg_pool, dropout, flatten, dense
  int64_t channels = 0, kernel = 3, stride = 1, dilation = 1, window = 2, units = 0;
  int dims = 2, ell = 0, m = 0;
  std::string padding = "valid", activation = "identity";
  double p = 0;
};

struct ModelSpec {
  std::string type = "mlp";         // mlp, or cnn (a [[model.layers]] list)
  std::vector<int64_t> input_shape;  // cnn: [channels, *spatial] of one sample
  std::vector<LayerSpec> layers;
  std::vector<int64_t> hidden = {64};
  std::string activation = "relu", output_activation = "identity", init = "auto";
  double dropout = 0;
  bool batch_norm = false;
  std::string config_path;          // where it was read from, for messages
};

struct RunSpec {
  std::string config_path;
  std::string dtype = "float32";
  DataSpec data;
  ModelSpec model;
  optim::OptimizerConfig optimizer;
  optim::TrainConfig train;
  int threads = 1;
};

RunSpec parse_run(const io::Config& root, bool check_unused = true);
void parse_model(const io::Config& t, ModelSpec& m);

template <class T>
struct Loaded {
  io::Dataset<T> train, val, test;
};
template <class T>
Loaded<T> load_data(const RunSpec& spec, bool verbose);

// The network for `in` input features and `out` outputs; a cnn's last layer (a dense layer
// with `out` units) is added here.
template <class T>
std::unique_ptr<nn::Sequential<T>> build_model(const ModelSpec& m, int64_t in, int64_t out);

// Trains what `spec` describes into `out` (results.json, history.csv, model.npz,
// predictions.npz, checkpoint.npz) and returns results.json's content.
nlohmann::json train_spec(const RunSpec& spec, const std::string& out, bool resume, bool verbose);

// The built-in "sine_gap" regression (the Bayesian-network demo): y = sin(3x) + 0.1 ε with
// training inputs uniform on [-1, -0.3] ∪ [0.3, 1] (a gap in the middle) and test inputs
// uniform on [-1, 1]; a fixed stream per split.
inline double sine_gap_truth(double x) { return std::sin(3 * x); }
inline constexpr double kSineGapNoise = 0.1;
template <class T>
io::Dataset<T> sine_gap(int64_t n, bool gap, uint64_t stream);

// Output width for the data: classes, or what the loss needs for the target columns (the
// columns themselves, or a mixture density network's parameters).
template <class T>
int64_t output_width(const io::Dataset<T>& d, const optim::TrainConfig& train = {});

}  // namespace trusty::apps
