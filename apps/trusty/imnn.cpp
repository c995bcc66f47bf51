// `trusty imnn CONFIG.toml --out DIR`: trains an information-maximising network (see
// docs/imnn.md) and writes DIR/results.json (Fisher matrix, det F, the analytic det F when
// the simulator knows it, a history summary), DIR/history.csv, DIR/model.npz,
// DIR/checkpoint.npz (what --resume continues from) and DIR/config.toml. The config is read
// and the simulations are checked before anything is written; every write is atomic and
// results.json comes last, so a failed run never looks complete. Under `mpirun -np N` the
// ranks share the work by simulation index and only rank 0 writes (docs/imnn.md).
#include <chrono>
#include <cstdio>
#include <filesystem>

#include "commands.hpp"
#include "run_dir.hpp"
#include "setup.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/imnn/estimator.hpp"
#include "trusty/imnn/imnn_trainer.hpp"
#include "trusty/sim/gaussian.hpp"
#include "trusty/sim/gaussian_field.hpp"

namespace trusty::apps {

namespace fs = std::filesystem;
using core::Tensor;

namespace {
struct ImnnSpec {
  std::string config_path, simulator;
  int64_t n_data = 10, grid = 32;
  std::string fiducial, derivatives, val_fiducial, val_derivatives;  // simulator = "npy", mode 1
  std::string gradients, val_gradients;                               // simulator = "npy", mode 2
  imnn::TrainOptions train;
  int64_t n_summaries = 0, validation = 1000, test = 0, checkpoint_every = 100;
  bool fresh = true;
  ModelSpec model;
  optim::OptimizerConfig optimizer;
  uint64_t init_seed = 0;
};

std::vector<double> doubles(const io::Config& t, const std::string& key, size_t n) {
  auto v = t.get_double_list(key);
  if (n && v.size() != n) t.fail(key, "expected " + std::to_string(n) + " numbers (one per parameter), got " + std::to_string(v.size()));
  return v;
}

void parse_simulator(const io::Config& root, ImnnSpec& s) {
  auto t = root.table("simulator");
  s.simulator = t.get_choice("name", {"gaussian_variance", "gaussian_mean_variance", "gaussian_field", "lognormal_field", "npy"}, "");
  const auto base = fs::path(root.path()).parent_path();
  auto file = [&](const std::string& key, bool required) {
    std::string p = required ? t.get_string(key) : t.get_string(key, "");
    if (p.empty()) return p;
    if (!fs::path(p).is_absolute()) p = (base / p).string();
    if (!fs::exists(p)) t.fail(key, "file '" + p + "' does not exist");
    return p;
  };
  if (s.simulator == "npy") {
    s.fiducial = file("fiducial", true);
    s.derivatives = file("derivatives", false);
    s.gradients = file("gradients", false);
    if (s.derivatives.empty() == s.gradients.empty())
      t.fail("derivatives", "expected exactly one of derivatives (seed-matched, (n_d, 2, n_params, *data_shape)) or gradients (dd/dθ, (n_d, *data_shape, n_params))");
    s.val_fiducial = file("validation_fiducial", false);
    s.val_derivatives = file("validation_derivatives", false);
    s.val_gradients = file("validation_gradients", false);
    if (!s.val_fiducial.empty() && (s.gradients.empty() ? s.val_derivatives.empty() : s.val_gradients.empty()))
      t.fail("validation_fiducial", std::string("a validation set needs ") + (s.gradients.empty() ? "validation_derivatives" : "validation_gradients") + " too");
  } else if (s.simulator == "gaussian_field" || s.simulator == "lognormal_field") {
    s.grid = t.get_int("grid", s.grid);
    if (s.grid < 2) t.fail("grid", "expected a grid size N >= 2, got " + std::to_string(s.grid));
  } else {
    s.n_data = t.get_int("n_data", s.n_data);
    if (s.n_data < 1) t.fail("n_data", "expected a positive number of data points, got " + std::to_string(s.n_data));
  }
}

void parse_imnn(const io::Config& root, ImnnSpec& s) {
  auto t = root.table("imnn");
  auto& o = s.train;
  o.theta_fid = doubles(t, "theta_fid", 0);
  if (o.theta_fid.empty()) t.fail("theta_fid", "expected one fiducial value per parameter");
  const bool npy_gradients = !s.gradients.empty();
  const auto mode = t.get_choice("derivatives", {"seed_matched", "gradient", "autodiff"}, npy_gradients ? "gradient" : "seed_matched");
  if ((s.gradients.empty() && mode != "autodiff") || t.has("delta_theta")) o.delta_theta = doubles(t, "delta_theta", o.theta_fid.size());
  for (double d : o.delta_theta)
    if (!(d > 0)) t.fail("delta_theta", "expected positive finite-difference steps, got " + std::to_string(d));
  o.derivatives = mode == "gradient"   ? imnn::TrainOptions::Derivatives::gradient
                  : mode == "autodiff" ? imnn::TrainOptions::Derivatives::autodiff
                                       : imnn::TrainOptions::Derivatives::seed_matched;
  if (s.simulator == "npy" && mode == "autodiff")
    t.fail("derivatives", "'autodiff' differentiates a simulator written with trusty's ops; [simulator] name = \"npy\" has none "
                          "(expected \"seed_matched\" with derivatives files or \"gradient\" with gradients files)");
  if (s.simulator == "npy" && npy_gradients != (mode == "gradient"))
    t.fail("derivatives", "'" + mode + "' does not match the [simulator] files (" + (npy_gradients ? "gradients" : "derivatives") + " given)");
  o.n_s = t.get_int("n_s", 1000);
  o.n_d = t.get_int("n_d", o.n_s);
  if (o.n_s < 2 || o.n_d < 1 || o.n_d > o.n_s) t.fail("n_d", "expected n_s >= 2 and 1 <= n_d <= n_s");
  s.n_summaries = t.get_int("n_summaries", static_cast<int64_t>(o.theta_fid.size()));
  if (s.n_summaries < static_cast<int64_t>(o.theta_fid.size()))
    t.fail("n_summaries", "expected at least as many summaries as parameters (" + std::to_string(o.theta_fid.size()) + ")");
  o.loss.lambda = t.get_double("lambda", 10);
  if (!(o.loss.lambda > 1)) t.fail("lambda", "expected a coupling strength > 1");
  o.loss.epsilon = t.get_double("epsilon", 0.1);
  if (!(o.loss.epsilon > 0)) t.fail("epsilon", "expected a positive closeness criterion");
  s.fresh = t.get_bool("fresh", s.simulator != "npy");
  if (s.fresh && s.simulator == "npy") t.fail("fresh", "fresh simulations need a simulator, not precomputed .npy files");
  s.validation = t.get_int("validation", 1000);
  o.validate_every = t.get_int("validate_every", 1);
  s.test = t.get_int("test", 0);
  if (s.test != 0 && (s.test < 2 || s.simulator == "npy")) t.fail("test", "expected 0 (none) or a held-out set size >= 2 (simulators only)");
  if (o.validate_every < 1) t.fail("validate_every", "expected a positive number of steps");
  if (s.validation != 0 && s.validation < 2) t.fail("validation", "expected 0 (none) or a set size >= 2");
  o.seed = static_cast<uint64_t>(t.get_int("seed", 0));
  o.chunk = t.get_int("chunk", 64);
  if (o.chunk < 1) t.fail("chunk", "expected a positive number of simulations per network pass");
}

void parse_train(const io::Config& root, ImnnSpec& s) {
  auto t = root.table("train");
  auto& c = s.optimizer;
  c.name = t.get_choice("optimizer", {"sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"}, "adam");
  c.lr = t.get_double("lr", 1e-3);
  if (!(c.lr > 0)) t.fail("lr", "expected a positive learning rate, got " + std::to_string(c.lr));
  c.momentum = t.get_double("momentum", 0.9);
  c.weight_decay = t.get_double("weight_decay", c.name == "adamw" ? 0.01 : 0.0);
  c.beta1 = t.get_double("beta1", 0.9);
  c.beta2 = t.get_double("beta2", 0.999);
  auto& o = s.train;
  o.max_iterations = t.get_int("max_iterations", 1000);
  o.min_iterations = t.get_int("min_iterations", 100);
  o.patience = t.get_int("patience", 100);
  if (o.max_iterations < 1) t.fail("max_iterations", "expected a positive number");
  if (o.min_iterations < 0) t.fail("min_iterations", "expected a non-negative number");
  if (o.patience < 1) t.fail("patience", "expected a positive number");
  o.keep_best = t.get_choice("keep", {"best", "final"}, "best") == "best";
  s.checkpoint_every = t.get_int("checkpoint_every", 100);
  if (s.checkpoint_every < 1) t.fail("checkpoint_every", "expected a positive number of steps");
  s.init_seed = static_cast<uint64_t>(t.get_int("seed", 0));
  o.threads = static_cast<int>(t.get_int("threads", 1));
  if (o.threads < 1) t.fail("threads", "expected a positive number of threads");
  auto& sc = o.schedule;
  sc = optim::Schedule::parse(t.get_choice("schedule", {"constant", "step", "exponential", "cosine"}, "constant"));
  sc.step_size = static_cast<int>(t.get_int("step_size", 100));
  sc.gamma = t.get_double("gamma", 0.1);
  sc.t_max = static_cast<int>(t.get_int("t_max", o.max_iterations));
  sc.eta_min = t.get_double("eta_min", 0);
}

ImnnSpec parse_imnn_spec(const std::string& path) {
  auto root = io::Config::load(path);
  ImnnSpec s;
  s.config_path = path;
  parse_simulator(root, s);
  parse_imnn(root, s);
  parse_model(root.table("model"), s.model);
  parse_train(root, s);
  root.check_unused();
  return s;
}

std::unique_ptr<sim::Simulator> make_simulator(const ImnnSpec& s) {
  if (s.simulator == "gaussian_variance") return std::make_unique<sim::GaussianVariance>(s.n_data);
  if (s.simulator == "gaussian_mean_variance") return std::make_unique<sim::GaussianMeanVariance>(s.n_data);
  if (s.simulator == "gaussian_field") return std::make_unique<sim::GaussianField>(s.grid);
  if (s.simulator == "lognormal_field") return std::make_unique<sim::LognormalField>(s.grid);
  return nullptr;
}

nlohmann::json matrix(const Tensor<double>& t) {
  nlohmann::json j = nlohmann::json::array();
  for (int64_t i = 0; i < t.dim(0); ++i) {
    nlohmann::json row = nlohmann::json::array();
    for (int64_t k = 0; k < t.dim(1); ++k) row.push_back(t.at({i, k}));
    j.push_back(row);
  }
  return j;
}

// Validation and held-out test simulations use indices from here on, apart from any
// training index.
constexpr int64_t kValidationFirst = int64_t{1} << 40, kTestFirst = int64_t{1} << 41;

struct Sources {
  std::unique_ptr<sim::Simulator> simulator;
  std::optional<imnn::SimulationSet> train, val;
  int64_t data_size = 0;
};

// Every simulation a fixed set needs, made (or read and checked) before anything is written.
Sources prepare(const ImnnSpec& s) {
  Sources src;
  const auto& o = s.train;
  const std::string where = s.config_path + ": [imnn] theta_fid";
  const auto p = static_cast<int64_t>(o.theta_fid.size());
  if (s.simulator == "npy") {
    if (!s.gradients.empty()) {
      src.train = imnn::load_gradient_set(s.fiducial, s.gradients, p);
      if (!s.val_fiducial.empty()) src.val = imnn::load_gradient_set(s.val_fiducial, s.val_gradients, p, src.train->data_shape().to_vector());
    } else {
      src.train = imnn::load_set(s.fiducial, s.derivatives, o.delta_theta);
      if (!s.val_fiducial.empty())
        src.val = imnn::load_set(s.val_fiducial, s.val_derivatives, o.delta_theta, src.train->data_shape().to_vector());
    }
    src.data_size = src.train->data_size();
    return src;
  }
  const bool mode2 = o.derivatives != imnn::TrainOptions::Derivatives::seed_matched;
  const bool autodiff = o.derivatives == imnn::TrainOptions::Derivatives::autodiff;
  src.simulator = make_simulator(s);
  if (src.simulator->n_params() != static_cast<int64_t>(o.theta_fid.size()))
    throw io::ConfigError(where + ": simulator '" + src.simulator->name() + "' takes " + std::to_string(src.simulator->n_params()) +
                          " parameters, got " + std::to_string(o.theta_fid.size()));
  if (autodiff && !src.simulator->has_tape())
    throw io::ConfigError(s.config_path + ": [imnn] derivatives: 'autodiff' needs a simulator written with trusty's ops; '" +
                          src.simulator->name() + "' has none (expected \"seed_matched\" or \"gradient\")");
  auto make = [&](int64_t first, int64_t n_s, int64_t n_d) {
    return mode2 ? imnn::simulate_gradient_set(*src.simulator, o.theta_fid, o.seed, first, n_s, n_d, o.threads, autodiff)
                 : imnn::simulate_set(*src.simulator, o.theta_fid, o.delta_theta, o.seed, first, n_s, n_d, o.threads);
  };
  if (!s.fresh) src.train = make(0, o.n_s, o.n_d);
  if (s.validation) src.val = make(kValidationFirst, s.validation, s.validation);
  src.data_size = src.simulator->data_size();
  return src;
}

nlohmann::json results(const ImnnSpec& spec, const Sources& src, imnn::ImnnTrainer& t, const nn::Module<double>& net, double seconds) {
  const auto& st = t.statistics();
  imnn::Estimator est(spec.train.theta_fid, st);
  nlohmann::json r;
  r["command"] = "imnn";
  r["config"] = fs::absolute(spec.config_path).string();
  r["simulator"] = spec.simulator;
  r["model"] = net.describe();
  r["parameters"] = net.num_parameters();
  r["theta_fid"] = spec.train.theta_fid;
  r["statistics_from"] = src.val ? "validation set" : "fresh simulations";
  r["fisher"] = matrix(st.fisher);
  r["det_fisher"] = st.det_fisher;
  r["inverse_fisher"] = matrix(est.inverse_fisher());
  r["marginal_errors"] = est.marginal_errors();
  r["det_covariance"] = st.det_cov;
  r["lambda2"] = st.lambda2;
  if (src.simulator)
    if (auto fa = src.simulator->fisher(spec.train.theta_fid)) {
      Tensor<double> f = *fa;
      core::GradScope<double> scope;
      const double det = std::exp(core::logdet_spd(core::constant(f)).item());
      r["fisher_analytic"] = matrix(f);
      r["det_fisher_analytic"] = det;
      r["det_fisher_ratio"] = st.det_fisher / det;
    }
  if (src.simulator && spec.test) {  // held out: fresh simulations no step has seen
    const auto& o = spec.train;
    auto test = o.derivatives != imnn::TrainOptions::Derivatives::seed_matched
                    ? imnn::simulate_gradient_set(*src.simulator, o.theta_fid, o.seed, kTestFirst, spec.test, spec.test, o.threads,
                                                  o.derivatives == imnn::TrainOptions::Derivatives::autodiff)
                    : imnn::simulate_set(*src.simulator, o.theta_fid, o.delta_theta, o.seed, kTestFirst, spec.test, spec.test, o.threads);
    auto ts = t.evaluate(test);
    r["test_simulations"] = spec.test;
    r["test_fisher"] = matrix(ts.fisher);
    r["test_det_fisher"] = ts.det_fisher;
  }
  const auto& h = t.history();
  nlohmann::json hs;
  hs["steps"] = t.iteration();
  hs["best_iteration"] = t.best_iteration();
  hs["stopped_early"] = t.stopped_early();
  if (!h.empty()) {
    hs["final_det_F"] = h.back().det_fisher;
    hs["final_lambda2"] = h.back().lambda2;
    hs["final_r"] = h.back().r;
    if (!std::isnan(h.back().val_det_fisher)) hs["final_val_det_F"] = h.back().val_det_fisher;
  }
  hs["seconds"] = seconds;
  r["history"] = hs;
  return r;
}

nlohmann::json run_imnn_spec(const ImnnSpec& spec, const std::string& out, bool resume, bool verbose) {
  core::kernels::set_blas_threads(spec.train.threads);  // as `trusty train` does
  auto src = prepare(spec);
  auto net = build_model<double>(spec.model, src.data_size, spec.n_summaries);
  net->finalize(spec.init_seed);
  auto opt = optim::make_optimizer<double>(spec.optimizer);
  imnn::ImnnTrainer t(*net, *opt, spec.train);
  if (src.train) t.set_training(*src.train);
  else t.set_simulator(*src.simulator);
  if (src.val) t.set_validation(*src.val);
  const bool root = dist::world().is_root();  // every rank holds the same state; the root writes
  verbose = verbose && root;
  if (root) fs::create_directories(out);
  const std::string ckpt = out + "/checkpoint.npz";
  if (resume && fs::exists(ckpt)) {
    t.load_checkpoint(ckpt);
    if (verbose) std::fprintf(stderr, "trusty: resuming from %s at step %ld\n", ckpt.c_str(), static_cast<long>(t.iteration()));
  }
  if (verbose) std::fprintf(stderr, "trusty: %s, %ld parameters\n", net->describe().c_str(), static_cast<long>(net->num_parameters()));
  t.on_step = [&](const imnn::StepRecord& r) {
    if (verbose && (r.iteration % 50 == 0))
      std::fprintf(stderr, "step %5ld  det F %.4g  val det F %.4g  Λ₂ %.3g  r %.3g\n", static_cast<long>(r.iteration), r.det_fisher,
                   r.val_det_fisher, r.lambda2, r.r);
    if (root && (r.iteration + 1) % spec.checkpoint_every == 0) {
      t.save_checkpoint(ckpt);
      imnn::write_history_csv(out + "/history.csv", t.history());
    }
    return true;
  };
  const auto t0 = std::chrono::steady_clock::now();
  t.fit();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  auto r = results(spec, src, t, *net, seconds);  // on every rank: a held-out test set is evaluated by all
  if (!root) return r;
  t.save_checkpoint(ckpt);
  imnn::write_history_csv(out + "/history.csv", t.history());
  save_model(out + "/model.npz", *net);
  write_results(out, r);
  return r;
}
}  // namespace

void check_imnn_config(const std::string& config) { (void)parse_imnn_spec(config); }

int run_imnn(const std::string& config, const std::string& out, bool resume, bool quiet) {
  auto spec = parse_imnn_spec(config);
  auto r = run_imnn_spec(spec, out, resume, !quiet);
  if (!dist::world().is_root()) return 0;
  if (fs::absolute(config) != fs::absolute(out + "/config.toml")) fs::copy_file(config, out + "/config.toml", fs::copy_options::overwrite_existing);
  std::printf("%s\n", r.dump(2).c_str());
  if (!quiet) std::fprintf(stderr, "trusty: wrote %s/{results.json,history.csv,model.npz,checkpoint.npz}\n", out.c_str());
  return 0;
}

void register_imnn(CLI::App& app) {
  auto* cmd = app.add_subcommand("imnn", "Train an information-maximising neural network (see docs/imnn.md)");
  static std::string config, out;
  static bool resume = false, quiet = false;
  cmd->add_option("config", config, "TOML config")->required();
  cmd->add_option("--out", out, "Directory for results.json, history.csv, model.npz, checkpoint.npz")->required();
  cmd->add_flag("--resume", resume, "Continue from DIR/checkpoint.npz if it exists");
  cmd->add_flag("--quiet", quiet, "No progress output");
  cmd->callback([] { run_imnn(config, out, resume, quiet); });
}

}  // namespace trusty::apps
