// `trusty predict RUN_DIR --input X.npy --output P.npy`: the trained network of a
// `trusty train` run applied to new inputs. Classifiers write class probabilities
// (softmax of the logits) and, beside them, P.labels.npy.
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "run_dir.hpp"
#include "setup.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::apps {

template <class T>
void predict_run(const RunSpec& spec, const std::string& dir, const std::string& input, const std::string& output) {
  const auto arr = io::read_npy(input);
  if (arr.shape.empty())
    throw std::invalid_argument(input + ": a 0-dimensional array; expected inputs of shape (n, features...) or (features,)");
  // Rows and features per row from the shape itself: a zero-row array has no numel to divide.
  int64_t rows = arr.shape.size() == 1 ? 1 : arr.shape[0], per_row = 1;
  for (size_t i = arr.shape.size() == 1 ? 0 : 1; i < arr.shape.size(); ++i) per_row *= arr.shape[i];
  auto x = arr.tensor<T>().reshape(core::Shape{rows, per_row});
  const auto xs = x.span();
  for (size_t i = 0; i < xs.size(); ++i)
    if (!std::isfinite(static_cast<double>(xs[i])))
      throw std::invalid_argument(input + ": row " + std::to_string(static_cast<int64_t>(i) / per_row + 1) + ", column " +
                                  std::to_string(static_cast<int64_t>(i) % per_row + 1) + ": " + std::to_string(static_cast<double>(xs[i])) +
                                  ", expected a finite number");
  auto model = io::read_npz(dir + "/model.npz");
  // The widths are read back from the saved dense weights ([in, out], keyed
  // param/<layer>.weight): the first layer's input (MLPs; a CNN's input is its input_shape)
  // and the last layer's output. Layers compare by number: "10" comes after "9".
  int64_t first = -1, last = -1, in_w = 0, out_w = 0;
  for (const auto& [k, a] : model) {
    if (k.rfind("param/", 0) != 0 || k.size() < 14 || k.substr(k.size() - 7) != ".weight" || a.shape.size() != 2) continue;
    const std::string idx = k.substr(6, k.size() - 13);
    if (idx.empty() || idx.find_first_not_of("0123456789") != std::string::npos) continue;
    const int64_t i = std::stoll(idx);
    if (first < 0 || i < first) first = i, in_w = a.shape[0];
    if (i > last) last = i, out_w = a.shape[1];
  }
  if (last < 0) throw std::invalid_argument(dir + "/model.npz: no dense layer weights (param/<layer>.weight) found");
  if (spec.model.type == "cnn") {
    in_w = 1;
    for (auto d : spec.model.input_shape) in_w *= d;
  }
  if (x.dim(1) != in_w)
    throw std::invalid_argument(input + ": " + std::to_string(x.dim(1)) + " features per row, the model expects " + std::to_string(in_w));
  auto net = build_model<T>(spec.model, in_w, out_w);
  net->finalize(0);
  load_model(dir + "/model.npz", *net);
  optim::Adam<T> dummy({});
  optim::Trainer<T> tr(*net, dummy, {.progress = false});
  // Zero rows in, zero rows out (the right width, so the files read back as usual).
  auto p = rows == 0 ? core::Tensor<T>(core::Shape{0, out_w}) : tr.predict(x);
  const bool cls = spec.data.task == "classification" && spec.train.loss != "mse";
  if (cls) {
    const int64_t n = p.dim(0), c = p.dim(1);
    std::vector<int64_t> labels(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      T m = p.at({i, 0});
      int64_t best = 0;
      for (int64_t k = 1; k < c; ++k) if (p.at({i, k}) > m) { m = p.at({i, k}); best = k; }
      double z = 0;
      for (int64_t k = 0; k < c; ++k) z += std::exp(static_cast<double>(p.at({i, k}) - m));
      for (int64_t k = 0; k < c; ++k) p.at({i, k}) = static_cast<T>(std::exp(static_cast<double>(p.at({i, k}) - m)) / z);
      labels[static_cast<size_t>(i)] = best;
    }
    std::string lp = output.size() > 4 && output.substr(output.size() - 4) == ".npy" ? output.substr(0, output.size() - 4) + ".labels.npy" : output + ".labels.npy";
    io::write_npy(lp, io::NpyArray::from<int64_t>(labels, {n}));
  }
  io::write_npy(output, io::NpyArray::from(p));
  std::printf("%s\n", nlohmann::json({{"command", "predict"}, {"rows", p.dim(0)}, {"outputs", p.dim(1)}, {"path", output}}).dump(2).c_str());
}

void register_predict(CLI::App& app) {
  auto* cmd = app.add_subcommand("predict", "Apply a trained network (a `trusty train` output directory) to inputs");
  static std::string dir, input, output;
  cmd->add_option("run_dir", dir, "Directory written by trusty train")->required()->check(CLI::ExistingDirectory);
  cmd->add_option("--input", input, "Inputs, .npy [n, features...]")->required()->check(CLI::ExistingFile);
  cmd->add_option("--output", output, "Predictions, .npy")->required();
  cmd->callback([] {
    // Only what the network and its outputs need: the training data may be gone.
    auto root = io::Config::load(dir + "/config.toml");
    RunSpec spec;
    spec.dtype = root.get_choice("dtype", {"float32", "float64"}, "float32");
    parse_model(root.table("model"), spec.model);
    spec.data.task = root.table("data").get_string("task", "classification");
    spec.train.loss = root.table("train").get_string("loss", "auto");
    if (spec.dtype == "float64") predict_run<double>(spec, dir, input, output);
    else predict_run<float>(spec, dir, input, output);
  });
}

}  // namespace trusty::apps
