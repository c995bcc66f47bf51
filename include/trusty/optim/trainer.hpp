// The training loop, apart from the update rule: mini-batches (shuffled by a counter-based
// RNG), a learning-rate schedule per epoch, L1/L2 penalties on weights, gradient clipping,
// validation and early stopping, per-layer gradient norms (the lecture's vanishing and
// exploding gradients, logged), callbacks, a progress bar, versioned .npz checkpoints
// (parameters, buffers, optimiser state, RNG states) and bit-exact resume.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "trusty/io/dataset.hpp"
#include "trusty/nn/loss.hpp"
#include "trusty/nn/module.hpp"
#include "trusty/optim/optimizer.hpp"

namespace trusty::optim {

struct TrainConfig {
  int epochs = 10;
  int64_t batch_size = 64;     // <= 0: full batch
  bool shuffle = true;
  std::string loss = "auto";   // a registered loss (nn/loss.hpp); auto: cross_entropy or mse by the data
  nn::LossOptions loss_options; // the loss's options (a config's [loss] table)
  double l1 = 0, l2 = 0;       // penalties on parameters named "weight"
  double clip_norm = 0, clip_value = 0;
  Schedule schedule;
  int patience = 0;            // early stopping on validation loss; 0 = off
  double min_delta = 0;
  bool restore_best = true;    // with early stopping: end with the best weights
  uint64_t seed = 0;
  std::string checkpoint;      // path of the .npz checkpoint written after every epoch
  bool progress = true;        // progress bar on stderr
  bool flush_denormals = true; // FTZ/DAZ while training (see core/fpenv.hpp)
};

struct EpochRecord {
  int epoch = 0;
  double lr = 0, train_loss = 0, train_accuracy = -1, val_loss = -1, val_accuracy = -1;
  double seconds = 0, samples_per_second = 0;
  std::vector<double> grad_norms;  // mean per-step L2 norm of each parameter tensor's gradient
};

struct Evaluation {
  double loss = 0;
  double accuracy = -1;  // classification only
  double r2 = -1;        // regression only (mean over outputs)
};

// Thrown when the loss becomes NaN or infinite; the last checkpoint on disk is from the
// last good epoch.
class TrainingDiverged : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class T>
class Trainer {
 public:
  // cfg.loss names a registered loss (made here, so an unknown name or option fails early).
  Trainer(nn::Module<T>& net, Optimizer<T>& opt, TrainConfig cfg);
  // Any loss object, replacing cfg.loss (C++ losses need not be registered).
  void set_loss(std::unique_ptr<nn::Loss<T>> loss);

  // Trains from the current epoch to cfg.epochs; returns the whole history.
  const std::vector<EpochRecord>& fit(const io::Dataset<T>& train, const io::Dataset<T>* val = nullptr);
  Evaluation evaluate(const io::Dataset<T>& data, int64_t batch = 1024);
  core::Tensor<T> predict(const core::Tensor<T>& x, int64_t batch = 1024);

  // Called after every epoch; return false to stop.
  std::function<bool(const EpochRecord&)> on_epoch_end;

  void save_checkpoint(const std::string& path) const;
  void load_checkpoint(const std::string& path);  // resume: the next fit() continues exactly

  const std::vector<EpochRecord>& history() const { return history_; }
  std::vector<std::string> parameter_names() const;
  int epoch() const { return epoch_; }
  std::string loss_name() const { return loss_ ? loss_->name() : cfg_.loss; }
  const nn::Loss<T>* loss() const { return loss_.get(); }

 private:
  core::Var<T> loss_of(const core::Var<T>& out, const io::Dataset<T>& d, const std::vector<int64_t>& idx, int64_t b0,
                       int64_t b1, const core::Tensor<T>* ybatch);
  void resolve_loss(const io::Dataset<T>& data);  // "auto" by the data; labels vs targets checked
  double run_epoch(const io::Dataset<T>& train, EpochRecord& rec);

  nn::Module<T>& net_;
  Optimizer<T>& opt_;
  TrainConfig cfg_;
  std::unique_ptr<nn::Loss<T>> loss_;
  core::Rng shuffle_rng_;
  int epoch_ = 0;
  double best_val_ = 1e300;
  int bad_epochs_ = 0;
  std::vector<T> best_params_, best_buffers_;
  std::vector<EpochRecord> history_;
  core::Tensor<T> xb_, yb_;  // batch buffers, reused across steps (no per-step allocation)
};

// Writes DIR/history.csv from a history (atomic).
void write_history_csv(const std::string& path, const std::vector<EpochRecord>& h, const std::vector<std::string>& names);

}  // namespace trusty::optim
