#include "trusty/imnn/imnn_trainer.hpp"

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <string>

#include "chunked_pass.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/io/module_npz.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::imnn {

namespace {
constexpr int64_t kCheckpointVersion = 1;
constexpr size_t kRecordFields = 14;

std::vector<double> flatten(const StepRecord& r) {
  return {static_cast<double>(r.iteration), r.det_fisher, r.det_cov, r.det_inv_cov, r.lambda2, r.r, r.loss,
          r.val_det_fisher, r.val_det_cov, r.val_det_inv_cov, r.val_lambda2, r.val_r, r.val_loss, r.seconds};
}
StepRecord unflatten(const double* v) {
  return {static_cast<int64_t>(v[0]), v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], v[9], v[10], v[11], v[12], v[13]};
}

// A layer whose output row depends on the other rows of its batch (BatchNorm in training) or
// on a random mask (Dropout in training) would make the summaries depend on the chunking
// and the gradient pass disagree with the statistics pass.
std::string batch_dependent_layer(const nn::Module<double>& m) {
  if (m.training() && (m.kind() == "BatchNorm" || m.kind() == "Dropout")) return m.describe();
  for (const auto& [name, child] : m.children())
    if (auto s = batch_dependent_layer(*child); !s.empty()) return s;
  return {};
}
}  // namespace

void TrainOptions::validate() const {
  auto bad = [](const std::string& k, const std::string& msg) { throw std::invalid_argument("IMNN option " + k + ": " + msg); };
  if (theta_fid.empty()) bad("theta_fid", "expected one fiducial value per parameter");
  loss.validate();
  if (max_iterations < 1) bad("max_iterations", "expected a positive number, got " + std::to_string(max_iterations));
  if (min_iterations < 0) bad("min_iterations", "expected >= 0, got " + std::to_string(min_iterations));
  if (patience < 1) bad("patience", "expected a positive number, got " + std::to_string(patience));
  if (threads < 1) bad("threads", "expected a positive number, got " + std::to_string(threads));
  if (chunk < 1) bad("chunk", "expected a positive number of simulations, got " + std::to_string(chunk));
  if (validate_every < 1) bad("validate_every", "expected a positive number of steps, got " + std::to_string(validate_every));
}

ImnnTrainer::ImnnTrainer(nn::Module<double>& net, optim::Optimizer<double>& opt, TrainOptions o)
    : net_(net), opt_(opt), o_(std::move(o)), base_lr_(opt.lr()) {
  o_.validate();
  if (!net_.finalized()) throw std::invalid_argument("ImnnTrainer: finalize() the network first");
  if (auto l = batch_dependent_layer(net_); !l.empty())
    throw std::invalid_argument("ImnnTrainer: " + l + " in training mode makes a summary depend on the other simulations of its "
                                "batch or on a random mask; the IMNN needs per-simulation summaries (use a network without it)");
}

void ImnnTrainer::set_training(SimulationSet s) {
  s.validate("training set");
  if (s.n_params() != static_cast<int64_t>(o_.theta_fid.size()))
    throw std::invalid_argument("training set: " + std::to_string(s.n_params()) + " parameters (delta_theta), but theta_fid has " +
                                std::to_string(o_.theta_fid.size()));
  train_ = std::move(s);
}

void ImnnTrainer::set_validation(SimulationSet s) {
  s.validate("validation set");
  if (s.n_params() != static_cast<int64_t>(o_.theta_fid.size()))
    throw std::invalid_argument("validation set: " + std::to_string(s.n_params()) + " parameters, but theta_fid has " +
                                std::to_string(o_.theta_fid.size()));
  val_ = std::move(s);
}

void ImnnTrainer::set_simulator(const sim::Simulator& s) {
  if (s.n_params() != static_cast<int64_t>(o_.theta_fid.size()))
    throw std::invalid_argument("IMNN option theta_fid: simulator '" + s.name() + "' takes " + std::to_string(s.n_params()) +
                                " parameters, theta_fid has " + std::to_string(o_.theta_fid.size()));
  if (o_.n_s < 2 || o_.n_d < 1 || o_.n_d > o_.n_s)
    throw std::invalid_argument("IMNN options n_s, n_d: expected n_s >= 2 and 1 <= n_d <= n_s, got n_s = " +
                                std::to_string(o_.n_s) + ", n_d = " + std::to_string(o_.n_d));
  if (o_.derivatives == TrainOptions::Derivatives::seed_matched && o_.delta_theta.size() != o_.theta_fid.size())
    throw std::invalid_argument("IMNN option delta_theta: expected " + std::to_string(o_.theta_fid.size()) + " values, got " +
                                std::to_string(o_.delta_theta.size()));
  if (o_.derivatives == TrainOptions::Derivatives::autodiff && !s.has_tape())
    throw std::invalid_argument("IMNN option derivatives: \"autodiff\" needs a simulator written with trusty's ops (a tape form); '" +
                                s.name() + "' has none (use \"seed_matched\" or \"gradient\")");
  sim_ = &s;
}

void ImnnTrainer::set_options(TrainOptions o) {
  o.validate();
  if (o.theta_fid.size() != o_.theta_fid.size())
    throw std::invalid_argument("IMNN option theta_fid: expected " + std::to_string(o_.theta_fid.size()) +
                                " values (the network and sets are built for them), got " + std::to_string(o.theta_fid.size()));
  std::swap(o_, o);
  if (sim_) {
    try {
      set_simulator(*sim_);  // re-checks n_s, n_d and delta_theta against the simulator
    } catch (...) {
      std::swap(o_, o);
      throw;
    }
  }
}

void ImnnTrainer::set_base_lr(double lr) {
  if (!(lr > 0) || !std::isfinite(lr)) throw std::invalid_argument("IMNN option lr: expected a positive learning rate, got " + std::to_string(lr));
  base_lr_ = lr;
}

LocalSims ImnnTrainer::training_set() {
  if (train_) return whole_set(*train_, o_.chunk);
  if (!sim_) throw std::logic_error("ImnnTrainer: call set_training or set_simulator before fit");
  // This rank simulates its share only: whole chunks of the step's indices (docs/mpi.md).
  const auto& w = dist::world();
  const auto mine = dist::split_chunks(o_.n_s, o_.chunk, w.rank(), w.size());
  const int64_t first = iteration_ * o_.n_s + mine.begin, nd = std::max<int64_t>(0, std::min(mine.end, o_.n_d) - mine.begin);
  fresh_ = SimulationSet{};
  fresh_.fiducial = sim::simulate_batch(*sim_, o_.theta_fid, o_.seed, first, mine.size(), o_.threads);
  if (o_.derivatives != TrainOptions::Derivatives::seed_matched) {
    fresh_.gradients = simulate_gradients(*sim_, o_.theta_fid, o_.seed, first, nd, o_.threads,
                                          o_.derivatives == TrainOptions::Derivatives::autodiff);
  } else {
    fresh_.derivatives = sim::simulate_derivatives(*sim_, o_.theta_fid, o_.delta_theta, o_.seed, first, nd, o_.threads);
    fresh_.delta_theta = o_.delta_theta;
  }
  return {&fresh_, mine.begin, o_.n_s, o_.n_d, mine};
}

FisherSummary ImnnTrainer::step_statistics(const SimulationSet& s, bool grad) {
  return chunked_statistics(net_, whole_set(s, o_.chunk), o_.chunk, o_.loss, grad);
}

bool ImnnTrainer::early_stop(const StepRecord& r) {
  const double v = val_ ? r.val_det_fisher : r.det_fisher;  // NaN on steps without validation
  if (v > best_value_) {
    best_value_ = v;
    best_iteration_ = r.iteration;
    auto p = net_.parameters();
    best_params_.assign(p.begin(), p.end());
  }
  since_best_ = r.iteration - best_iteration_;
  return r.iteration + 1 >= o_.min_iterations && since_best_ >= o_.patience;
}

void ImnnTrainer::fit() {
  stopped_early_ = false;
  if (!live_params_.empty()) std::copy(live_params_.begin(), live_params_.end(), net_.parameters().begin());
  live_params_.clear();
  while (iteration_ < o_.max_iterations) {
    const auto t0 = std::chrono::steady_clock::now();
    const LocalSims set = training_set();
    opt_.set_lr(o_.schedule.lr_at(static_cast<int>(iteration_), base_lr_));
    auto s = chunked_statistics(net_, set, o_.chunk, o_.loss, true);
    StepRecord r{iteration_, s.det_fisher, s.det_cov, s.det_inv_cov, s.lambda2, s.r, s.loss};
    if (val_ && (iteration_ % o_.validate_every == 0 || iteration_ + 1 == o_.max_iterations)) {
      auto v = chunked_statistics(net_, whole_set(*val_, o_.chunk), o_.chunk, o_.loss, false);
      r.val_det_fisher = v.det_fisher, r.val_det_cov = v.det_cov, r.val_det_inv_cov = v.det_inv_cov;
      r.val_lambda2 = v.lambda2, r.val_r = v.r, r.val_loss = v.loss;
    }
    const bool stop = early_stop(r);  // before the step: best_params_ are the weights measured
    opt_.step(net_.parameters(), net_.gradients());
    ++iteration_;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    history_.push_back(r);
    if (on_step && !on_step(r)) break;
    if (stop) {
      stopped_early_ = true;
      break;
    }
  }
  if (o_.keep_best && !best_params_.empty()) {
    auto p = net_.parameters();
    live_params_.assign(p.begin(), p.end());
    std::copy(best_params_.begin(), best_params_.end(), p.begin());
  }
  stats_ = val_ ? evaluate(*val_) : chunked_statistics(net_, training_set(), o_.chunk, o_.loss, false);
}

FisherSummary ImnnTrainer::evaluate(const SimulationSet& s) {
  s.validate("evaluation set");
  return chunked_statistics(net_, whole_set(s, o_.chunk), o_.chunk, o_.loss, false);
}

const FisherSummary& ImnnTrainer::statistics() const {
  if (!stats_) throw std::logic_error("ImnnTrainer::statistics: call fit() first");
  return *stats_;
}

Tensor<double> ImnnTrainer::summaries(const Tensor<double>& data) {
  const int64_t n = data.dim(0), d = data.numel() / std::max<int64_t>(n, 1);
  auto flat = data.contiguous().reshape(Shape{n, d});
  constexpr int64_t kChunk = 2048;  // bounds the tape memory for big data
  Tensor<double> out;
  for (int64_t i = 0; i < n; i += kChunk) {
    core::GradScope<double> scope;
    auto part = flat.slice(0, i, std::min(n, i + kChunk)).contiguous();
    auto x = net_.forward(core::constant_ref(part));
    if (i == 0) out = Tensor<double>(Shape{n, x.dim(1)});
    std::copy(x.data(), x.data() + x.numel(), out.data() + i * x.dim(1));
  }
  return out;
}

void ImnnTrainer::save_checkpoint(const std::string& path) const {
  io::Npz z;
  io::put_module(z, net_);
  for (const auto& [k, v] : opt_.state()) z["optim/" + k] = io::NpyArray::from<double>(v, {static_cast<int64_t>(v.size())});
  z["imnn/version"] = io::NpyArray::from<int64_t>(std::vector<int64_t>{kCheckpointVersion}, {1});
  std::vector<double> st{static_cast<double>(iteration_), static_cast<double>(best_iteration_), static_cast<double>(since_best_),
                         best_value_};
  z["imnn/state"] = io::NpyArray::from<double>(st, {4});
  z["imnn/best_params"] = io::NpyArray::from<double>(best_params_, {static_cast<int64_t>(best_params_.size())});
  z["imnn/live_params"] = io::NpyArray::from<double>(live_params_, {static_cast<int64_t>(live_params_.size())});
  std::vector<double> h;
  for (const auto& r : history_) {
    auto v = flatten(r);
    h.insert(h.end(), v.begin(), v.end());
  }
  z["imnn/history"] = io::NpyArray::from<double>(h, {static_cast<int64_t>(history_.size()), static_cast<int64_t>(kRecordFields)});
  io::write_npz(path, z);
}

void ImnnTrainer::load_checkpoint(const std::string& path) {
  auto z = io::read_npz(path);
  auto need = [&](const std::string& k) -> const io::NpyArray& {
    auto it = z.find(k);
    if (it == z.end()) throw std::invalid_argument(path + ": not an IMNN checkpoint (no '" + k + "')");
    return it->second;
  };
  auto sized = [&](const std::string& k, std::vector<double> v, size_t n, bool may_be_empty) {
    if ((v.empty() && may_be_empty) || v.size() == n) return v;
    throw std::invalid_argument(path + ": checkpoint entry '" + k + "' has " + std::to_string(v.size()) + " values, expected " +
                                std::to_string(n) + (may_be_empty ? " or none" : ""));
  };
  // Counts are stored as doubles: each must be a whole number in range before it is cast.
  auto count = [&](const char* what, double v, int64_t lo) { return io::stored_count(v, lo, path + ": checkpoint " + what); };
  const auto version = sized("imnn/version", need("imnn/version").values<double>(), 1, false)[0];
  if (version != static_cast<double>(kCheckpointVersion))
    throw std::invalid_argument(path + ": IMNN checkpoint version " + std::to_string(version) + ", expected " +
                                std::to_string(kCheckpointVersion));
  const size_t n_params = net_.parameters().size();
  io::get_module(z, net_, path);
  optim::StateDict st;
  for (const auto& [k, a] : z)
    if (k.rfind("optim/", 0) == 0) st[k.substr(6)] = a.values<double>();
  try {
    opt_.load_state(st);
    opt_.check_state(n_params);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
  auto s = sized("imnn/state", need("imnn/state").values<double>(), 4, false);
  iteration_ = count("iteration", s[0], 0), best_iteration_ = count("best iteration", s[1], -1);
  since_best_ = count("steps since the best", s[2], 0), best_value_ = s[3];
  best_params_ = sized("imnn/best_params", need("imnn/best_params").values<double>(), n_params, true);
  live_params_ = sized("imnn/live_params", need("imnn/live_params").values<double>(), n_params, true);  // non-empty: fit() resumes from these
  auto h = need("imnn/history").values<double>();
  if (h.size() % kRecordFields != 0)
    throw std::invalid_argument(path + ": checkpoint entry 'imnn/history' has " + std::to_string(h.size()) +
                                " values, expected a multiple of " + std::to_string(kRecordFields));
  history_.clear();
  for (size_t i = 0; i + kRecordFields <= h.size(); i += kRecordFields) {
    (void)count("history iteration", h[i], 0);
    history_.push_back(unflatten(h.data() + i));
  }
}

void write_history_csv(const std::string& path, const std::vector<StepRecord>& h) {
  std::ostringstream os;
  os.precision(10);
  os << "iteration,det_F,det_C,det_invC,lambda2,r,loss,val_det_F,val_det_C,val_det_invC,val_lambda2,val_r,val_loss,seconds\n";
  for (const auto& r : h) {
    auto v = flatten(r);
    os << r.iteration;
    for (size_t i = 1; i < v.size(); ++i) {
      os << ',';
      if (!std::isnan(v[i])) os << v[i];
    }
    os << '\n';
  }
  const std::string s = os.str();
  io::write_file_atomic(path, std::span<const char>(s.data(), s.size()));
}

}  // namespace trusty::imnn
