// `trusty search CONFIG.toml --out DIR`: grid or random search over hyper-parameters, each
// candidate scored by k-fold cross-validation (or the validation split), with a results
// table (DIR/search.csv) and the best candidate retrained on all training data and
// evaluated on the test set (DIR/results.json).
//
// [search]
// method = "grid"        # or "random" (then trials = N draws from the lists)
// folds = 3              # k-fold CV; 0 uses [data] validation_split
// lr = [1e-3, 3e-3]      # any of: lr, hidden, activation, l2, l1, batch_size, dropout, optimizer, epochs
// hidden = [[64], [128, 64]]
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "commands.hpp"
#include "run_dir.hpp"
#include "setup.hpp"
#include "trusty/optim/options_check.hpp"
#include "trusty/core/kernels/blas.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::apps {

namespace fs = std::filesystem;

namespace {
struct Axis {
  std::string key;
  std::vector<nlohmann::json> values;
};

void apply(RunSpec& s, const std::string& key, const nlohmann::json& v) {
  if (key == "lr") s.optimizer.lr = v.get<double>();
  else if (key == "hidden") s.model.hidden = v.get<std::vector<int64_t>>();
  else if (key == "activation") s.model.activation = v.get<std::string>();
  else if (key == "l2") s.train.l2 = v.get<double>();
  else if (key == "l1") s.train.l1 = v.get<double>();
  else if (key == "batch_size") s.train.batch_size = v.get<int64_t>();
  else if (key == "dropout") s.model.dropout = v.get<double>();
  else if (key == "optimizer") s.optimizer.name = v.get<std::string>();
  else if (key == "epochs") s.train.epochs = v.get<int>();
}

// The model and optimiser choices a search axis can set, checked as parse_run checks them.
void check_model_choice(const RunSpec& s, const std::string& key, const optim::OptionFail& fail) {
  static const std::vector<std::string> acts = {"identity", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax"};
  static const std::vector<std::string> opts = {"sgd", "gd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "lbfgs"};
  if (key == "hidden")
    for (auto h : s.model.hidden)
      if (h < 1 || h > optim::kMaxLayerWidth)
        fail(key, "expected layer widths in [1, " + std::to_string(optim::kMaxLayerWidth) + "], got " + std::to_string(h));
  if (key == "activation" && std::find(acts.begin(), acts.end(), s.model.activation) == acts.end())
    fail(key, "expected one of identity, sigmoid, tanh, relu, leaky_relu, elu, softplus, softmax");
  if (key == "optimizer" && std::find(opts.begin(), opts.end(), s.optimizer.name) == opts.end())
    fail(key, "expected one of sgd, gd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lbfgs");
  if (key == "dropout" && !(s.model.dropout >= 0 && s.model.dropout < 1)) fail(key, "expected a probability in [0, 1)");
}

// Trains a candidate on `train` and evaluates it on `eval`; keeps the network in `net_out`.
template <class T>
optim::Evaluation fit_candidate(const RunSpec& s, const io::Dataset<T>& train, const io::Dataset<T>& eval,
                                std::unique_ptr<nn::Sequential<T>>* net_out = nullptr) {
  auto net = build_model<T>(s.model, train.x.dim(1), output_width(train, s.train));
  net->finalize(s.train.seed);
  auto opt = optim::make_optimizer<T>(s.optimizer);
  auto cfg = s.train;
  cfg.progress = false;
  cfg.patience = 0;
  optim::Trainer<T> tr(*net, *opt, cfg);
  tr.fit(train);
  auto ev = tr.evaluate(eval);
  if (net_out) *net_out = std::move(net);
  return ev;
}

template <class T>
double score(const RunSpec& s, const io::Dataset<T>& train, const io::Dataset<T>& val, double* loss_out) {
  auto ev = fit_candidate(s, train, val);
  *loss_out = ev.loss;
  return ev.accuracy >= 0 ? ev.accuracy : -ev.loss;
}

template <class T>
nlohmann::json search_run(const RunSpec& base, const io::Config& root, const io::Config& st, const std::string& out) {
  core::kernels::set_blas_threads(base.threads);
  const std::string method = st.get_choice("method", {"grid", "random"}, "grid");
  const int64_t folds = st.get_int("folds", 3);
  const int64_t trials = st.get_int("trials", 10);
  std::vector<Axis> axes;
  auto add = [&](const std::string& k, auto vec) {
    Axis a{k, {}};
    for (const auto& v : vec) a.values.emplace_back(v);
    if (a.values.empty()) st.fail(k, "expected a non-empty list");
    axes.push_back(a);
  };
  for (const char* k : {"lr", "l2", "l1", "dropout"}) if (st.has(k)) add(k, st.get_double_list(k));
  for (const char* k : {"batch_size", "epochs"}) if (st.has(k)) add(k, st.get_int_list(k));
  if (st.has("hidden")) add("hidden", st.get_int_list_list("hidden"));
  if (st.has("activation")) add("activation", st.get_string_list("activation"));
  if (st.has("optimizer")) add("optimizer", st.get_string_list("optimizer"));
  if (axes.empty()) st.fail("lr", "expected at least one axis to search (lr, hidden, activation, l2, l1, batch_size, dropout, optimizer, epochs)");
  // Every value of every axis passes the checks `trusty train` applies to the same key.
  for (const auto& a : axes)
    for (size_t i = 0; i < a.values.size(); ++i) {
      const optim::OptionFail fail = [&](const std::string&, const std::string& message) {
        st.fail(a.key, "value " + std::to_string(i + 1) + " (" + a.values[i].dump() + "): " + message);
      };
      if (a.key == "epochs" && a.values[i].get<int64_t>() > 1000000000) fail(a.key, "expected at most 10^9 epochs");
      RunSpec s = base;
      apply(s, a.key, a.values[i]);
      optim::check_optimizer_options(s.optimizer, fail);
      optim::check_train_options(s.train, fail);
      check_model_choice(s, a.key, fail);
    }
  if (folds == 1 || folds < 0) st.fail("folds", "expected 0 (use the validation split) or at least 2, got " + std::to_string(folds));
  if (folds == 0 && base.data.validation_split <= 0) st.fail("folds", "folds = 0 needs [data] validation_split > 0");
  root.check_unused();  // every key is read by now: fail before any training
  // Candidates.
  std::vector<std::vector<size_t>> cands;
  if (method == "grid") {
    std::vector<size_t> idx(axes.size(), 0);
    while (true) {
      cands.push_back(idx);
      size_t a = 0;
      while (a < axes.size() && ++idx[a] == axes[a].values.size()) idx[a++] = 0;
      if (a == axes.size()) break;
    }
  } else {
    core::Rng rng(base.train.seed, 13);
    for (int64_t t = 0; t < trials; ++t) {
      std::vector<size_t> c;
      for (const auto& a : axes) c.push_back(rng.below(a.values.size()));
      cands.push_back(c);
    }
  }
  auto all = load_data<T>(base, true);
  const io::Dataset<T>& pool = all.train;  // folds are cut from the training set
  if (folds > pool.size())
    st.fail("folds", "expected at most the " + std::to_string(pool.size()) + " training rows (every fold needs a validation row), got " +
                         std::to_string(folds));
  std::ostringstream csv;
  csv << "trial";
  for (const auto& a : axes) csv << "," << a.key;
  csv << ",score,score_sd,val_loss\n";
  nlohmann::json rows = nlohmann::json::array();
  double best = -1e300;
  size_t best_i = 0;
  std::fprintf(stderr, "trusty search: %zu candidates, %s\n", cands.size(), folds >= 2 ? (std::to_string(folds) + "-fold cross-validation").c_str() : "validation split");
  for (size_t ci = 0; ci < cands.size(); ++ci) {
    RunSpec s = base;
    nlohmann::json params;
    for (size_t a = 0; a < axes.size(); ++a) {
      apply(s, axes[a].key, axes[a].values[cands[ci][a]]);
      params[axes[a].key] = axes[a].values[cands[ci][a]];
    }
    std::vector<double> scores, losses;
    if (folds >= 2) {
      core::Rng rng(base.train.seed, 17);
      auto perm = rng.permutation(pool.size());
      for (int64_t f = 0; f < folds; ++f) {
        std::vector<int64_t> tr_idx, va_idx;
        for (int64_t i = 0; i < pool.size(); ++i) (i % folds == f ? va_idx : tr_idx).push_back(perm[static_cast<size_t>(i)]);
        double l;
        scores.push_back(score<T>(s, pool.subset(tr_idx), pool.subset(va_idx), &l));
        losses.push_back(l);
      }
    } else {
      double l;
      scores.push_back(score<T>(s, all.train, all.val, &l));
      losses.push_back(l);
    }
    double m = 0, v = 0, ml = 0;
    for (double x : scores) m += x / static_cast<double>(scores.size());
    for (double x : scores) v += (x - m) * (x - m) / std::max<double>(1, static_cast<double>(scores.size()) - 1);
    for (double x : losses) ml += x / static_cast<double>(losses.size());
    csv << ci;
    for (size_t a = 0; a < axes.size(); ++a) {
      std::string val = axes[a].values[cands[ci][a]].dump();
      for (auto& ch : val) if (ch == ',') ch = ';';
      csv << "," << val;
    }
    csv << "," << m << "," << std::sqrt(v) << "," << ml << "\n";
    rows.push_back({{"trial", ci}, {"params", params}, {"score", m}, {"score_sd", std::sqrt(v)}, {"val_loss", ml}});
    std::fprintf(stderr, "  %3zu  %-50s score %.4f ± %.4f\n", ci, params.dump().c_str(), m, std::sqrt(v));
    if (m > best) {
      best = m;
      best_i = ci;
    }
    const std::string text = csv.str();
    io::write_file_atomic(out + "/search.csv", std::span<const char>(text.data(), text.size()));
  }
  // Retrain the best candidate on the whole training set and evaluate on the test set.
  RunSpec s = base;
  for (size_t a = 0; a < axes.size(); ++a) apply(s, axes[a].key, axes[a].values[cands[best_i][a]]);
  nlohmann::json r;
  r["command"] = "search";
  r["method"] = method;
  r["folds"] = folds;
  r["candidates"] = rows;
  r["best"] = rows[best_i];
  r["score"] = best;
  r["score_meaning"] = all.train.classification() ? "mean validation accuracy" : "minus mean validation loss";
  if (all.test.size()) {
    std::unique_ptr<nn::Sequential<T>> net;
    auto ev = fit_candidate(s, pool, all.test, &net);
    r["test_loss"] = ev.loss;
    if (ev.accuracy >= 0) r["test_accuracy"] = ev.accuracy;
    if (!all.test.classification()) r["test_r2"] = ev.r2;
    save_model(out + "/model.npz", *net);
  }
  return r;
}
}  // namespace

void register_search(CLI::App& app) {
  auto* cmd = app.add_subcommand("search", "Grid or random hyper-parameter search with cross-validation");
  static std::string config, out;
  cmd->add_option("config", config, "TOML config with a [search] table (see docs/train.md)")->required();
  cmd->add_option("--out", out, "Directory for search.csv and results.json")->required();
  cmd->callback([] {
    auto root = io::Config::load(config);
    auto st = root.table("search");
    RunSpec spec = parse_run(root, false);
    fs::create_directories(out);
    auto r = spec.dtype == "float64" ? search_run<double>(spec, root, st, out) : search_run<float>(spec, root, st, out);
    write_results(out, r);
    std::printf("%s\n", r["best"].dump(2).c_str());
  });
}

}  // namespace trusty::apps
