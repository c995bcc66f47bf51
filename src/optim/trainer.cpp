#include "trusty/optim/trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include <unistd.h>

#include "trusty/core/fpenv.hpp"
#include "trusty/core/ops.hpp"
#include "trusty/io/module_npz.hpp"
#include "trusty/nn/losses.hpp"

namespace trusty::optim {

using core::Tensor;
using core::Var;

namespace {
// Copies rows idx[b0:b1] of src into a new [b1-b0, ...] tensor.
// Copies rows idx[b0:b1] of src into `out`, reusing its storage when the shape matches.
template <class T>
void gather_rows_into(Tensor<T>& out, const Tensor<T>& src, const std::vector<int64_t>& idx, int64_t b0, int64_t b1) {
  auto dims = src.shape().to_vector();
  const int64_t row = dims[0] > 0 ? src.numel() / dims[0] : 0;
  dims[0] = b1 - b0;
  const core::Shape s{std::span<const int64_t>(dims)};
  if (out.shape() != s || !out.is_contiguous()) out = Tensor<T>(s);
  const T* in = src.data();
  T* o = out.data();
  for (int64_t i = b0; i < b1; ++i)
    std::memcpy(o + (i - b0) * row, in + idx[static_cast<size_t>(i)] * row, static_cast<size_t>(row) * sizeof(T));
}

template <class T>
Tensor<T> gather_rows(const Tensor<T>& src, const std::vector<int64_t>& idx, int64_t b0, int64_t b1) {
  auto dims = src.shape().to_vector();
  const int64_t row = dims[0] > 0 ? src.numel() / dims[0] : 0;
  dims[0] = b1 - b0;
  Tensor<T> out{core::Shape(std::span<const int64_t>(dims))};
  const T* s = src.data();
  T* o = out.data();
  for (int64_t i = b0; i < b1; ++i)
    std::memcpy(o + (i - b0) * row, s + idx[static_cast<size_t>(i)] * row, static_cast<size_t>(row) * sizeof(T));
  return out;
}

class Progress {
 public:
  Progress(bool on, int epoch, int epochs, int64_t steps)
      : on_(on && isatty(STDERR_FILENO)), epoch_(epoch), epochs_(epochs), steps_(steps) {}
  void update(int64_t step, double loss) {
    if (!on_ || (step % 10 != 0 && step != steps_)) return;
    const int w = 30, filled = static_cast<int>(w * step / std::max<int64_t>(steps_, 1));
    std::fprintf(stderr, "\repoch %d/%d [%.*s%*s] %ld/%ld loss %.4f", epoch_, epochs_, filled,
                 "==============================", w - filled, "", static_cast<long>(step), static_cast<long>(steps_), loss);
    std::fflush(stderr);
  }
  void done() {
    if (on_) std::fprintf(stderr, "\r\033[K");
  }

 private:
  bool on_;
  int epoch_, epochs_;
  int64_t steps_;
};
}  // namespace

template <class T>
Trainer<T>::Trainer(nn::Module<T>& net, Optimizer<T>& opt, TrainConfig cfg)
    : net_(net), opt_(opt), cfg_(std::move(cfg)), shuffle_rng_(cfg_.seed, 2) {
  if (!net_.finalized()) throw std::logic_error("Trainer: finalize() the network before training");
  if (cfg_.epochs < 0) throw std::invalid_argument("Trainer: epochs must be >= 0, got " + std::to_string(cfg_.epochs));
  if (cfg_.loss != "auto") loss_ = nn::make_loss<T>(cfg_.loss, cfg_.loss_options);
  else if (!cfg_.loss_options.empty()) nn::check_loss_options("auto", cfg_.loss_options, {});
}

template <class T>
void Trainer<T>::set_loss(std::unique_ptr<nn::Loss<T>> loss) {
  if (!loss) throw std::invalid_argument("Trainer::set_loss: null loss");
  loss_ = std::move(loss);
}

template <class T>
void Trainer<T>::resolve_loss(const io::Dataset<T>& data) {
  if (!loss_) loss_ = nn::make_loss<T>(data.classification() ? "cross_entropy" : "mse");
  if (loss_->needs_labels() && !data.classification())
    throw std::invalid_argument("Trainer: loss '" + loss_->name() + "' needs class labels, but the data has regression targets");
  if (!loss_->needs_labels() && data.classification())
    throw std::invalid_argument("Trainer: loss '" + loss_->name() + "' needs target values, but the data has class labels");
}

template <class T>
std::vector<std::string> Trainer<T>::parameter_names() const {
  std::vector<std::string> n;
  for (const auto& e : net_.named_parameters()) n.push_back(e.name);
  return n;
}

template <class T>
Var<T> Trainer<T>::loss_of(const Var<T>& out, const io::Dataset<T>& d, const std::vector<int64_t>& idx, int64_t b0,
                           int64_t b1, const Tensor<T>* ybatch) {
  if (!d.classification()) return loss_->value(out, ybatch, {});
  std::vector<int64_t> lab(static_cast<size_t>(b1 - b0));
  for (int64_t i = b0; i < b1; ++i) lab[static_cast<size_t>(i - b0)] = d.labels[static_cast<size_t>(idx[static_cast<size_t>(i)])];
  return loss_->value(out, nullptr, lab);
}

template <class T>
double Trainer<T>::run_epoch(const io::Dataset<T>& train, EpochRecord& rec) {
  const int64_t n = train.size();
  const int64_t bs = cfg_.batch_size > 0 ? std::min(cfg_.batch_size, n) : n;
  std::vector<int64_t> idx;
  if (cfg_.shuffle) idx = shuffle_rng_.permutation(n);
  else for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  const auto params = net_.named_parameters();
  rec.grad_norms.assign(params.size(), 0.0);
  double total = 0;
  int64_t seen = 0, steps = 0, correct = 0;
  const int64_t nsteps = (n + bs - 1) / bs;
  Progress bar(cfg_.progress, epoch_ + 1, cfg_.epochs, nsteps);
  auto theta = net_.parameters();
  auto grad = net_.gradients();
  for (int64_t b0 = 0; b0 < n; b0 += bs) {
    const int64_t b1 = std::min(n, b0 + bs);
    gather_rows_into(xb_, train.x, idx, b0, b1);
    if (!train.classification()) gather_rows_into(yb_, train.y, idx, b0, b1);
    core::GradScope<T> scope;
    net_.zero_grad();
    Var<T> out = net_.forward(core::constant_ref(xb_));
    Var<T> loss = loss_of(out, train, idx, b0, b1, &yb_);
    const double data_loss = loss.item();
    if (!std::isfinite(data_loss)) {
      bar.done();
      std::ostringstream os;
      os << "loss became " << data_loss << " at epoch " << epoch_ + 1 << ", step " << steps + 1;
      if (!cfg_.checkpoint.empty()) os << "; the last good checkpoint is " << cfg_.checkpoint;
      throw TrainingDiverged(os.str());
    }
    if (cfg_.l1 > 0 || cfg_.l2 > 0) {
      auto th = core::parameter<T>(core::Shape{static_cast<int64_t>(theta.size())}, theta.data(), grad.data());
      for (const auto& e : params) {
        if (e.name.size() < 6 || e.name.compare(e.name.size() - 6, 6, "weight") != 0) continue;
        auto w = core::slice(th, 0, e.offset, e.offset + e.shape.numel());
        if (cfg_.l1 > 0) loss = loss + nn::l1_penalty(w) * static_cast<T>(cfg_.l1);
        if (cfg_.l2 > 0) loss = loss + nn::l2_penalty(w) * static_cast<T>(cfg_.l2);
      }
    }
    scope.backward(loss);
    if (train.classification()) {
      const T* o = out.data();
      const int64_t c = out.dim(-1);
      for (int64_t i = 0; i < b1 - b0; ++i) {
        int64_t best = 0;
        for (int64_t k = 1; k < c; ++k) if (o[i * c + k] > o[i * c + best]) best = k;
        correct += best == train.labels[static_cast<size_t>(idx[static_cast<size_t>(b0 + i)])];
      }
    }
    for (size_t p = 0; p < params.size(); ++p)
      rec.grad_norms[p] += l2_norm<T>(std::span<const T>(grad.data() + params[p].offset, static_cast<size_t>(params[p].shape.numel())));
    if (cfg_.clip_norm > 0) clip_grad_norm<T>(grad, cfg_.clip_norm);
    if (cfg_.clip_value > 0) clip_grad_value<T>(grad, cfg_.clip_value);
    opt_.step(theta, grad);
    total += data_loss * static_cast<double>(b1 - b0);
    seen += b1 - b0;
    ++steps;
    bar.update(steps, total / static_cast<double>(seen));
  }
  bar.done();
  for (auto& g : rec.grad_norms) g /= static_cast<double>(std::max<int64_t>(steps, 1));
  if (train.classification()) rec.train_accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(seen, 1));
  return total / static_cast<double>(std::max<int64_t>(seen, 1));
}

template <class T>
const std::vector<EpochRecord>& Trainer<T>::fit(const io::Dataset<T>& train, const io::Dataset<T>* val) {
  if (train.size() == 0) throw std::invalid_argument("Trainer::fit: the training set is empty");
  core::FlushDenormals ftz(cfg_.flush_denormals);
  resolve_loss(train);
  const double base_lr = history_.empty() ? opt_.lr() : history_.front().lr / std::max(1e-300, cfg_.schedule.lr_at(0, 1.0));
  while (epoch_ < cfg_.epochs) {
    EpochRecord rec;
    rec.epoch = epoch_ + 1;
    rec.lr = cfg_.schedule.lr_at(epoch_, base_lr);
    opt_.set_lr(rec.lr);
    net_.train();
    const auto t0 = std::chrono::steady_clock::now();
    rec.train_loss = run_epoch(train, rec);
    rec.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.samples_per_second = static_cast<double>(train.size()) / rec.seconds;
    if (val && val->size() > 0) {
      auto ev = evaluate(*val);
      rec.val_loss = ev.loss;
      rec.val_accuracy = ev.accuracy;
    }
    ++epoch_;
    history_.push_back(rec);
    bool stop = false;
    if (cfg_.patience > 0 && rec.val_loss >= 0) {
      if (rec.val_loss < best_val_ - cfg_.min_delta) {
        best_val_ = rec.val_loss;
        bad_epochs_ = 0;
        best_params_.assign(net_.parameters().begin(), net_.parameters().end());
        best_buffers_.assign(net_.buffers().begin(), net_.buffers().end());
      } else if (++bad_epochs_ >= cfg_.patience) {
        stop = true;
      }
    }
    if (!cfg_.checkpoint.empty()) save_checkpoint(cfg_.checkpoint);
    if (on_epoch_end && !on_epoch_end(rec)) stop = true;
    if (stop) break;
  }
  if (cfg_.patience > 0 && cfg_.restore_best && !best_params_.empty()) {
    std::copy(best_params_.begin(), best_params_.end(), net_.parameters().begin());
    std::copy(best_buffers_.begin(), best_buffers_.end(), net_.buffers().begin());
  }
  net_.eval();
  return history_;
}

template <class T>
Evaluation Trainer<T>::evaluate(const io::Dataset<T>& data, int64_t batch) {
  resolve_loss(data);
  const bool was_training = net_.training();
  net_.eval();
  const int64_t n = data.size();
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  double total = 0;
  int64_t correct = 0;
  std::vector<double> ss_res, sum_y, sum_y2;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b1 = std::min(n, b0 + batch);
    core::GradScope<T> scope;
    Tensor<T> xb = gather_rows(data.x, idx, b0, b1), yb;
    if (!data.classification()) yb = gather_rows(data.y, idx, b0, b1);
    Var<T> out = net_.forward(core::constant(xb));
    total += static_cast<double>(loss_of(out, data, idx, b0, b1, &yb).item()) * static_cast<double>(b1 - b0);
    const T* o = out.data();
    const int64_t c = out.dim(-1);
    if (data.classification()) {
      for (int64_t i = 0; i < b1 - b0; ++i) {
        int64_t best = 0;
        for (int64_t k = 1; k < c; ++k) if (o[i * c + k] > o[i * c + best]) best = k;
        correct += best == data.labels[static_cast<size_t>(b0 + i)];
      }
    } else {
      // R² of the loss's point prediction (σ(z) for bce, the mixture mean for an MDN).
      const Tensor<T> pred = loss_->point_prediction(out.value());
      if (pred.shape() != yb.shape()) continue;
      const T* pp = pred.data();
      const int64_t k_out = yb.dim(-1);
      ss_res.resize(static_cast<size_t>(k_out));
      sum_y.resize(static_cast<size_t>(k_out));
      sum_y2.resize(static_cast<size_t>(k_out));
      const T* y = yb.data();
      for (int64_t i = 0; i < b1 - b0; ++i)
        for (int64_t k = 0; k < k_out; ++k) {
          const double t = y[i * k_out + k], p = pp[i * k_out + k];
          ss_res[static_cast<size_t>(k)] += (t - p) * (t - p);
          sum_y[static_cast<size_t>(k)] += t;
          sum_y2[static_cast<size_t>(k)] += t * t;
        }
    }
  }
  Evaluation ev;
  ev.loss = total / static_cast<double>(std::max<int64_t>(n, 1));
  if (data.classification()) ev.accuracy = static_cast<double>(correct) / static_cast<double>(std::max<int64_t>(n, 1));
  if (!ss_res.empty()) {
    double r2 = 0;
    for (size_t k = 0; k < ss_res.size(); ++k) {
      const double ss_tot = sum_y2[k] - sum_y[k] * sum_y[k] / static_cast<double>(n);
      r2 += 1 - ss_res[k] / ss_tot;
    }
    ev.r2 = r2 / static_cast<double>(ss_res.size());
  }
  net_.train(was_training);
  return ev;
}

template <class T>
Tensor<T> Trainer<T>::predict(const Tensor<T>& x, int64_t batch) {
  const bool was_training = net_.training();
  net_.eval();
  const int64_t n = x.dim(0);
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  std::vector<T> all;
  std::vector<int64_t> dims;
  for (int64_t b0 = 0; b0 < n; b0 += batch) {
    const int64_t b1 = std::min(n, b0 + batch);
    core::GradScope<T> scope;
    Var<T> out = net_.forward(core::constant(gather_rows(x, idx, b0, b1)));
    all.insert(all.end(), out.values().begin(), out.values().end());
    dims = out.shape().to_vector();
  }
  net_.train(was_training);
  if (dims.empty()) return Tensor<T>();
  dims[0] = n;
  return Tensor<T>(core::Shape(std::span<const int64_t>(dims)), std::span<const T>(all));
}

// ---- checkpoints --------------------------------------------------------------------------------
namespace {
constexpr int64_t kCheckpointVersion = 1;
void put_rng(io::Npz& z, const std::string& key, const core::Rng::State& s) {
  // Integers kept exactly; the Box–Muller spare separately as a double.
  std::vector<int64_t> ints = {static_cast<int64_t>(s.seed), static_cast<int64_t>(s.stream), static_cast<int64_t>(s.counter),
                               s.avail, s.have_spare};
  z[key] = io::NpyArray::from<int64_t>(ints, {5});
  z[key + "_spare"] = io::NpyArray::from<double>(std::vector<double>{s.spare}, {1});
}
core::Rng::State get_rng(const io::Npz& z, const std::string& key, const std::string& path) {
  auto it = z.find(key);
  auto sp = z.find(key + "_spare");
  if (it == z.end() || sp == z.end()) throw std::invalid_argument(path + ": checkpoint lacks '" + key + "'");
  auto v = it->second.values<int64_t>();
  if (v.size() != 5) throw std::invalid_argument(path + ": '" + key + "' has " + std::to_string(v.size()) + " entries, expected 5");
  auto spare = sp->second.values<double>();
  if (spare.size() != 1) throw std::invalid_argument(path + ": '" + key + "_spare' has " + std::to_string(spare.size()) + " entries, expected 1");
  return {static_cast<uint64_t>(v[0]), static_cast<uint64_t>(v[1]), static_cast<uint64_t>(v[2]), v[3], v[4], spare[0]};
}
}  // namespace

template <class T>
void Trainer<T>::save_checkpoint(const std::string& path) const {
  io::Npz z;
  z["version"] = io::NpyArray::from<int64_t>(std::vector<int64_t>{kCheckpointVersion}, {1});
  z["epoch"] = io::NpyArray::from<int64_t>(std::vector<int64_t>{epoch_}, {1});
  io::put_module(z, net_);
  for (const auto& [k, v] : opt_.state()) z["optim/" + k] = io::NpyArray::from<double>(v, {static_cast<int64_t>(v.size())});
  put_rng(z, "rng/network", const_cast<nn::Module<T>&>(net_).rng().state());
  put_rng(z, "rng/shuffle", shuffle_rng_.state());
  z["early_stop"] = io::NpyArray::from<double>(std::vector<double>{best_val_, static_cast<double>(bad_epochs_)}, {2});
  if (!best_params_.empty()) z["best/params"] = io::NpyArray::from<T>(best_params_, {static_cast<int64_t>(best_params_.size())});
  if (!best_buffers_.empty()) z["best/buffers"] = io::NpyArray::from<T>(best_buffers_, {static_cast<int64_t>(best_buffers_.size())});
  std::vector<double> hist;
  for (const auto& r : history_) hist.insert(hist.end(), {static_cast<double>(r.epoch), r.lr, r.train_loss, r.train_accuracy, r.val_loss, r.val_accuracy, r.seconds, r.samples_per_second});
  z["history"] = io::NpyArray::from<double>(hist, {static_cast<int64_t>(history_.size()), 8});
  io::write_npz(path, z);
}

template <class T>
void Trainer<T>::load_checkpoint(const std::string& path) {
  auto z = io::read_npz(path);
  auto need = [&](const std::string& k) -> const io::NpyArray& {
    auto it = z.find(k);
    if (it == z.end()) throw std::invalid_argument(path + ": checkpoint lacks '" + k + "'");
    return it->second;
  };
  // Each entry's size is checked before it is indexed: a damaged or foreign .npz is an
  // error naming the entry, not a read past the end.
  auto values_of = [&](const std::string& k, size_t n, bool multiple = false) {
    auto v = need(k).template values<double>();
    if (multiple ? v.size() % n != 0 : v.size() != n)
      throw std::invalid_argument(path + ": checkpoint entry '" + k + "' has " + std::to_string(v.size()) + " values, expected " +
                                  (multiple ? "a multiple of " : "") + std::to_string(n));
    return v;
  };
  const int64_t version = static_cast<int64_t>(values_of("version", 1)[0]);
  if (version != kCheckpointVersion)
    throw std::invalid_argument(path + ": checkpoint version " + std::to_string(version) + ", this trusty reads version " + std::to_string(kCheckpointVersion));
  io::get_module(z, net_, path);
  StateDict st;
  for (const auto& [k, a] : z)
    if (k.rfind("optim/", 0) == 0) st[k.substr(6)] = a.template values<double>();
  try {
    opt_.load_state(st);
    opt_.check_state(net_.parameters().size());
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
  net_.rng().set_state(get_rng(z, "rng/network", path), path + ": 'rng/network'");
  shuffle_rng_.set_state(get_rng(z, "rng/shuffle", path), path + ": 'rng/shuffle'");
  const double epoch = values_of("epoch", 1)[0];
  if (!(epoch >= 0 && epoch <= 1e9)) throw std::invalid_argument(path + ": checkpoint entry 'epoch' is " + std::to_string(epoch) + ", expected a count >= 0");
  epoch_ = static_cast<int>(epoch);
  auto es = values_of("early_stop", 2);
  best_val_ = es[0];
  bad_epochs_ = static_cast<int>(es[1]);
  best_params_.clear();
  best_buffers_.clear();
  if (z.count("best/params")) best_params_ = z.at("best/params").template values<T>();
  if (z.count("best/buffers")) best_buffers_ = z.at("best/buffers").template values<T>();
  if ((!best_params_.empty() && best_params_.size() != net_.parameters().size()) ||
      (!best_params_.empty() && best_buffers_.size() != net_.buffers().size()))
    throw std::invalid_argument(path + ": checkpoint entries 'best/params' and 'best/buffers' hold " + std::to_string(best_params_.size()) +
                                " and " + std::to_string(best_buffers_.size()) + " values, the network has " +
                                std::to_string(net_.parameters().size()) + " and " + std::to_string(net_.buffers().size()));
  history_.clear();
  auto hv = values_of("history", 8, true);
  for (size_t i = 0; i + 8 <= hv.size(); i += 8)
    history_.push_back({static_cast<int>(hv[i]), hv[i + 1], hv[i + 2], hv[i + 3], hv[i + 4], hv[i + 5], hv[i + 6], hv[i + 7], {}});
}

void write_history_csv(const std::string& path, const std::vector<EpochRecord>& h, const std::vector<std::string>& names) {
  std::ostringstream os;
  os.precision(10);
  os << "epoch,lr,train_loss,train_accuracy,val_loss,val_accuracy,seconds,samples_per_second";
  for (const auto& n : names) os << ",grad_norm/" << n;
  os << "\n";
  for (const auto& r : h) {
    os << r.epoch << "," << r.lr << "," << r.train_loss << "," << r.train_accuracy << "," << r.val_loss << ","
       << r.val_accuracy << "," << r.seconds << "," << r.samples_per_second;
    for (size_t i = 0; i < names.size(); ++i) os << "," << (i < r.grad_norms.size() ? r.grad_norms[i] : 0.0);
    os << "\n";
  }
  const std::string s = os.str();
  io::write_file_atomic(path, std::span<const char>(s.data(), s.size()));
}

template class Trainer<float>;
template class Trainer<double>;

}  // namespace trusty::optim
