#include "trusty/imnn/imnn_trainer.hpp"

#include <chrono>
#include <cmath>
#include <sstream>
#include <stdexcept>

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

const nn::Sequential<double>& sequential(const nn::Module<double>& net) {
  auto* s = dynamic_cast<const nn::Sequential<double>*>(&net);
  if (!s) throw std::invalid_argument("IMNN derivative mode 2 needs an nn::Sequential of Dense and activation layers, got " + net.describe());
  return *s;
}

std::vector<int64_t> owners(int64_t nd, int64_t p) {  // tangent row (i, α) belongs to simulation i
  std::vector<int64_t> o(static_cast<size_t>(nd * p));
  for (int64_t r = 0; r < nd * p; ++r) o[static_cast<size_t>(r)] = r / p;
  return o;
}

// Summaries [n_s, m] and ∂μ/∂θ [p, m] of one set's batch, on the tape.
std::pair<core::Var<double>, core::Var<double>> summaries_and_dmu(nn::Module<double>& net, const Tensor<double>& batch,
                                                                  const Tensor<double>& tangents, const SimulationSet& set) {
  const int64_t ns = set.n_s(), p = set.n_params(), nd = set.n_d(), rows = batch.dim(0);
  if (!set.seed_matched()) {
    auto o = forward_with_tangents(sequential(net), parameters_leaf(net), core::constant_ref(batch), core::constant_ref(tangents),
                                   owners(nd, p));
    const int64_t m = o.x.dim(1);
    auto dx = core::permute(core::reshape(o.dx, Shape{nd, p, m}), std::vector<int>{0, 2, 1});  // [n_d, m, p]
    return {o.x, mean_derivative(dx)};
  }
  auto x = net.forward(core::constant_ref(batch));
  if (x.rank() != 2 || x.dim(0) != rows)
    throw std::invalid_argument("IMNN: the network must map [batch, data] to [batch, n_summaries], got " + x.shape().str());
  auto xd = core::reshape(core::slice(x, 0, ns, rows), Shape{nd, 2, p, x.dim(1)});
  return {core::slice(x, 0, 0, ns), seed_matched_mean_derivative(xd, set.delta_theta)};
}

// The network's forward pass over one set's batch, the statistics, and (grad) backward.
FisherSummary run(nn::Module<double>& net, const Tensor<double>& batch, const SimulationSet& set, const LossOptions& loss,
                  bool grad) {
  core::GradScope<double> scope;
  const Tensor<double> tangents = set.seed_matched() ? Tensor<double>() : set.tangents();
  auto [x, dmu] = summaries_and_dmu(net, batch, tangents, set);
  auto v = fisher_statistics(x, dmu, loss);
  if (!std::isfinite(v.loss.item())) throw std::runtime_error("IMNN: the loss is not finite (" + std::to_string(v.loss.item()) + ")");
  if (grad) {
    net.zero_grad();
    scope.backward(v.loss);
  }
  return summarise(v);
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
  if (validate_every < 1) bad("validate_every", "expected a positive number of steps, got " + std::to_string(validate_every));
}

ImnnTrainer::ImnnTrainer(nn::Module<double>& net, optim::Optimizer<double>& opt, TrainOptions o)
    : net_(net), opt_(opt), o_(std::move(o)), base_lr_(opt.lr()) {
  o_.validate();
  if (!net_.finalized()) throw std::invalid_argument("ImnnTrainer: finalize() the network first");
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
  sim_ = &s;
}

const SimulationSet& ImnnTrainer::training_set() {
  if (train_) return *train_;
  if (!sim_) throw std::logic_error("ImnnTrainer: call set_training or set_simulator before fit");
  fresh_ = o_.derivatives == TrainOptions::Derivatives::gradient
               ? simulate_gradient_set(*sim_, o_.theta_fid, o_.seed, iteration_ * o_.n_s, o_.n_s, o_.n_d, o_.threads)
               : simulate_set(*sim_, o_.theta_fid, o_.delta_theta, o_.seed, iteration_ * o_.n_s, o_.n_s, o_.n_d, o_.threads);
  return fresh_;
}

FisherSummary ImnnTrainer::step_statistics(const SimulationSet& s, bool grad) {
  return run(net_, s.batch(), s, o_.loss, grad);
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
  std::optional<Tensor<double>> train_batch, val_batch;
  if (train_) train_batch = train_->batch();
  if (val_) val_batch = val_->batch();
  stopped_early_ = false;
  if (!live_params_.empty()) std::copy(live_params_.begin(), live_params_.end(), net_.parameters().begin());
  live_params_.clear();
  while (iteration_ < o_.max_iterations) {
    const auto t0 = std::chrono::steady_clock::now();
    const SimulationSet& set = training_set();
    opt_.set_lr(o_.schedule.lr_at(static_cast<int>(iteration_), base_lr_));
    auto s = run(net_, train_ ? *train_batch : set.batch(), set, o_.loss, true);
    StepRecord r{iteration_, s.det_fisher, s.det_cov, s.det_inv_cov, s.lambda2, s.r, s.loss};
    if (val_ && (iteration_ % o_.validate_every == 0 || iteration_ + 1 == o_.max_iterations)) {
      auto v = run(net_, *val_batch, *val_, o_.loss, false);
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
  const SimulationSet& final_set = val_ ? *val_ : training_set();
  stats_ = evaluate(final_set);
}

FisherSummary ImnnTrainer::evaluate(const SimulationSet& s) {
  s.validate("evaluation set");
  const auto x = summaries(s.fiducial);
  const int64_t m = x.dim(1), nd = s.n_d(), p = s.n_params();
  if (s.seed_matched()) {
    const auto xd = summaries(s.derivatives.reshape(Shape{nd * 2 * p, s.data_size()})).reshape(Shape{nd, 2, p, m});
    core::GradScope<double> scope;
    return summarise(fisher_statistics(core::constant(x), seed_matched_mean_derivative(core::constant(xd), s.delta_theta), o_.loss));
  }
  // Mode 2 in chunks of simulations: ∂x/∂θ [n_d, m, p].
  const auto data = s.fiducial.contiguous().reshape(Shape{s.n_s(), s.data_size()});
  const auto tangents = s.tangents();
  Tensor<double> dx(Shape{nd, p, m});
  constexpr int64_t kChunk = 1024;
  for (int64_t i = 0; i < nd; i += kChunk) {
    const int64_t n = std::min(nd, i + kChunk) - i;
    core::GradScope<double> scope;
    auto o = forward_with_tangents(sequential(net_), parameters_leaf(net_), core::constant(data.slice(0, i, i + n).contiguous()),
                                   core::constant(tangents.slice(0, i * p, (i + n) * p).contiguous()), owners(n, p));
    std::copy(o.dx.data(), o.dx.data() + o.dx.numel(), dx.data() + i * p * m);
  }
  core::GradScope<double> scope;
  auto dmu = mean_derivative(core::permute(core::constant(dx), std::vector<int>{0, 2, 1}));
  return summarise(fisher_statistics(core::constant(x), dmu, o_.loss));
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
  if (need("imnn/version").values<int64_t>()[0] != kCheckpointVersion)
    throw std::invalid_argument(path + ": IMNN checkpoint version " + std::to_string(need("imnn/version").values<int64_t>()[0]) +
                                ", expected " + std::to_string(kCheckpointVersion));
  io::get_module(z, net_, path);
  optim::StateDict st;
  for (const auto& [k, a] : z)
    if (k.rfind("optim/", 0) == 0) st[k.substr(6)] = a.values<double>();
  opt_.load_state(st);
  auto s = need("imnn/state").values<double>();
  iteration_ = static_cast<int64_t>(s[0]), best_iteration_ = static_cast<int64_t>(s[1]);
  since_best_ = static_cast<int64_t>(s[2]), best_value_ = s[3];
  best_params_ = need("imnn/best_params").values<double>();
  live_params_ = need("imnn/live_params").values<double>();  // non-empty: fit() resumes from these
  auto h = need("imnn/history").values<double>();
  history_.clear();
  for (size_t i = 0; i + kRecordFields <= h.size(); i += kRecordFields) history_.push_back(unflatten(h.data() + i));
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
