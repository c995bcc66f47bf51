// `trusty train CONFIG.toml --out DIR`: trains the network a config describes and writes
// DIR/results.json, DIR/history.csv, DIR/model.npz, DIR/config.toml and a checkpoint that
// `--resume` continues from.
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "run_dir.hpp"
#include "setup.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::apps {

namespace fs = std::filesystem;

template <class T>
nlohmann::json train_run(const RunSpec& spec, const std::string& out, bool resume, bool verbose) {
  core::kernels::set_blas_threads(spec.threads);
  auto data = load_data<T>(spec, verbose);
  const int64_t in = data.train.x.dim(1), nout = output_width(data.train, spec.train);
  auto net = build_model<T>(spec.model, in, nout);
  net->finalize(spec.train.seed);
  auto opt = optim::make_optimizer<T>(spec.optimizer);
  auto cfg = spec.train;
  cfg.progress = verbose;
  cfg.checkpoint = out + "/checkpoint.npz";
  optim::Trainer<T> trainer(*net, *opt, cfg);
  if (resume && fs::exists(cfg.checkpoint)) {
    trainer.load_checkpoint(cfg.checkpoint);
    if (verbose) std::fprintf(stderr, "trusty: resuming from %s at epoch %d\n", cfg.checkpoint.c_str(), trainer.epoch());
  }
  if (verbose)
    std::fprintf(stderr, "trusty: %s, %ld parameters; %ld train, %ld validation, %ld test samples\n",
                 net->describe().c_str(), static_cast<long>(net->num_parameters()), static_cast<long>(data.train.size()),
                 static_cast<long>(data.val.size()), static_cast<long>(data.test.size()));
  trainer.on_epoch_end = [&](const optim::EpochRecord& r) {
    if (verbose) {
      std::fprintf(stderr, "epoch %3d  lr %.3g  loss %.4f", r.epoch, r.lr, r.train_loss);
      if (r.train_accuracy >= 0) std::fprintf(stderr, "  acc %.4f", r.train_accuracy);
      if (r.val_loss >= 0) std::fprintf(stderr, "  val_loss %.4f", r.val_loss);
      if (r.val_accuracy >= 0) std::fprintf(stderr, "  val_acc %.4f", r.val_accuracy);
      std::fprintf(stderr, "  %.0f samples/s\n", r.samples_per_second);
    }
    optim::write_history_csv(out + "/history.csv", trainer.history(), trainer.parameter_names());
    return true;
  };
  trainer.fit(data.train, data.val.size() ? &data.val : nullptr);
  optim::write_history_csv(out + "/history.csv", trainer.history(), trainer.parameter_names());
  save_model(out + "/model.npz", *net);
  nlohmann::json r;
  r["command"] = "train";
  r["config"] = fs::absolute(spec.config_path).string();
  r["model"] = net->describe();
  r["parameters"] = net->num_parameters();
  r["dtype"] = spec.dtype;
  r["threads"] = spec.threads;
  r["epochs"] = trainer.epoch();
  r["train_samples"] = data.train.size();
  r["validation_samples"] = data.val.size();
  r["test_samples"] = data.test.size();
  r["loss"] = trainer.loss_name();
  double seconds = 0;  // over the whole history (a resumed run includes earlier epochs)
  for (const auto& h : trainer.history()) seconds += h.seconds;
  r["train_seconds"] = seconds;
  r["train_samples_per_second"] =
      seconds > 0 ? static_cast<double>(data.train.size()) * static_cast<double>(trainer.history().size()) / seconds : 0.0;
  if (!trainer.history().empty()) {
    const auto& last = trainer.history().back();
    r["final_train_loss"] = last.train_loss;
    if (last.train_accuracy >= 0) r["final_train_accuracy"] = last.train_accuracy;
  }
  if (data.val.size()) {
    auto ev = trainer.evaluate(data.val);
    r["validation_loss"] = ev.loss;
    if (ev.accuracy >= 0) r["validation_accuracy"] = ev.accuracy;
  }
  if (data.test.size()) {
    auto ev = trainer.evaluate(data.test);
    r["test_loss"] = ev.loss;
    if (ev.accuracy >= 0) r["test_accuracy"] = ev.accuracy;
    if (ev.r2 >= 0 || !data.test.classification()) r["test_r2"] = ev.r2;
    // Test-set predictions for the report (confusion matrix, predicted against true).
    auto pred = trainer.predict(data.test.x);
    io::Npz z;
    z["y_pred"] = io::NpyArray::from(pred);
    if (data.test.classification()) z["y_true"] = io::NpyArray::from<int64_t>(data.test.labels, {data.test.size()});
    else z["y_true"] = io::NpyArray::from(data.test.y);
    io::write_npz(out + "/predictions.npz", z);
  }
  return r;
}

nlohmann::json train_spec(const RunSpec& spec, const std::string& out, bool resume, bool verbose) {
  fs::create_directories(out);
  auto r = spec.dtype == "float64" ? train_run<double>(spec, out, resume, verbose) : train_run<float>(spec, out, resume, verbose);
  write_results(out, r);
  return r;
}

int run_train(const std::string& config, const std::string& out, bool resume, bool quiet) {
  auto root = io::Config::load(config);
  RunSpec spec = parse_run(root);
  fs::create_directories(out);
  auto r = train_spec(spec, out, resume, !quiet);
  // The config goes beside the model it describes, and only once there is one: bad data
  // found while loading must leave an earlier run's config.toml and model.npz together.
  if (fs::absolute(config) != fs::absolute(out + "/config.toml")) {
    const auto text = io::read_file(config);
    io::write_file_atomic(out + "/config.toml", text);
  }
  std::printf("%s\n", r.dump(2).c_str());
  if (!quiet) std::fprintf(stderr, "trusty: wrote %s/{results.json,history.csv,model.npz}\n", out.c_str());
  return 0;
}

void register_train(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train the network a TOML config describes");
  static std::string config, out;
  static bool resume = false, quiet = false;
  cmd->add_option("config", config, "TOML config (see docs/train.md)")->required();
  cmd->add_option("--out", out, "Directory for results.json, history.csv, model.npz")->required();
  cmd->add_flag("--resume", resume, "Continue from DIR/checkpoint.npz if it exists");
  cmd->add_flag("--quiet", quiet, "No progress output");
  cmd->callback([] { run_train(config, out, resume, quiet); });
}

}  // namespace trusty::apps
