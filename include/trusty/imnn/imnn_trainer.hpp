// Training an information-maximising neural network (Charnock, Lavaux & Wandelt 2018) with
// the regularised loss of Makinen, Charnock, Alsing & Wandelt 2021. The supervised
// optim::Trainer does not fit this problem (no targets; the loss couples every simulation of
// a step), so this loop owns it: per step, the simulations go through the network in fixed
// chunks, the Fisher statistics and the loss are built on the tape from all chunks'
// summaries, the gradient with respect to the flat weight vector is added up chunk by chunk
// in chunk order, and an optim::Optimizer steps it. Under MPI each rank runs whole chunks
// and the results are the same bit for bit for any number of ranks (src/imnn/chunked_pass.hpp).
//
// Two sources of simulations: fixed training (+ validation) sets, or a simulator giving
// fresh simulations every step (step t uses indices t·n_s ... of the seed). Early stopping
// watches det F on the validation set (the training set when there is none): after
// min_iterations, stop when it has not improved for `patience` steps; keep the best or the
// final weights.
#pragma once
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "trusty/imnn/fisher.hpp"
#include "trusty/imnn/simulation_set.hpp"
#include "trusty/imnn/tangent_forward.hpp"
#include "trusty/nn/module.hpp"
#include "trusty/optim/optimizer.hpp"
#include "trusty/sim/simulator.hpp"

namespace trusty::imnn {

struct LocalSims;  // src/imnn/chunked_pass.hpp

struct TrainOptions {
  std::vector<double> theta_fid;
  LossOptions loss;
  int64_t max_iterations = 1000;
  int64_t min_iterations = 100;
  int64_t patience = 100;
  bool keep_best = true;
  // Validate every this many steps: a large validation set (small noise in its det F, so
  // little selection bias in the kept weights) at a fraction of the cost.
  int64_t validate_every = 1;
  // Learning rate per step from the optimiser's initial lr (optim::Schedule's closed forms,
  // with steps in place of epochs); constant by default. A decaying rate lets the weights
  // settle where the noisy per-step Fisher estimates would keep them moving.
  optim::Schedule schedule;
  // Simulations on the fly (set_simulator): n_s, n_d per step, δθ, seed, and whether the
  // derivatives are seed-matched differences (mode 1), the simulator's dd/dθ chained with
  // the network's input Jacobian (mode 2), or dd/dθ by forward-mode autodiff through the
  // simulator's tape form (sim::Simulator::simulate_tape), chained the same way (mode 3).
  enum class Derivatives { seed_matched, gradient, autodiff } derivatives = Derivatives::seed_matched;
  int64_t n_s = 0, n_d = 0;
  std::vector<double> delta_theta;
  uint64_t seed = 0;
  int threads = 1;  // for the fresh simulations (results do not depend on it)
  // The network runs over fixed chunks of this many simulations (never derived from the
  // number of ranks or threads): under MPI each rank runs whole chunks, so the results are
  // the same bit for bit for any number of ranks (docs/mpi.md).
  int64_t chunk = 64;
  void validate() const;  // throws naming the option
};

// One step's statistics, for the training set and (NaN when absent) the validation set.
struct StepRecord {
  static constexpr double kNone = std::numeric_limits<double>::quiet_NaN();
  int64_t iteration = 0;
  double det_fisher = 0, det_cov = 0, det_inv_cov = 0, lambda2 = 0, r = 0, loss = 0;
  double val_det_fisher = kNone, val_det_cov = kNone, val_det_inv_cov = kNone, val_lambda2 = kNone, val_r = kNone,
         val_loss = kNone;
  double seconds = 0;
};

class ImnnTrainer {
 public:
  ImnnTrainer(nn::Module<double>& net, optim::Optimizer<double>& opt, TrainOptions o);

  void set_training(SimulationSet s);
  void set_validation(SimulationSet s);
  void set_simulator(const sim::Simulator& s);  // fresh simulations every step
  // Options for the next fit() (a longer max_iterations, another patience, ...), validated
  // as the constructor's; with a simulator set, n_s, n_d and delta_theta are checked
  // against it again. The run's state (step, history, best weights) is kept.
  void set_options(TrainOptions o);
  // The learning rate the schedule starts from (the optimiser's lr at construction).
  void set_base_lr(double lr);

  // Trains until max_iterations or early stopping, then restores the best weights (if
  // keep_best) and computes statistics() on the validation set (else fresh simulations).
  // The optimiser's own weights are kept aside: a later fit() or a checkpoint continues from
  // them, exactly.
  void fit();
  // Called after every step; return false to stop.
  std::function<bool(const StepRecord&)> on_step;

  // One loss evaluation; writes d loss/d weights into net.gradients() when `grad`.
  FisherSummary step_statistics(const SimulationSet& s, bool grad);
  // The statistics of a (possibly large) set with the current weights, the network run in
  // chunks (bounded memory, no gradient): for held-out sets.
  FisherSummary evaluate(const SimulationSet& s);
  // Network outputs for data [n, *data_shape] (or [n, data_size]) as [n, n_summaries].
  Tensor<double> summaries(const Tensor<double>& data);

  const FisherSummary& statistics() const;  // after fit()
  const std::vector<StepRecord>& history() const { return history_; }
  int64_t iteration() const { return iteration_; }
  int64_t best_iteration() const { return best_iteration_; }
  bool stopped_early() const { return stopped_early_; }
  const TrainOptions& options() const { return o_; }

  void save_checkpoint(const std::string& path) const;  // atomic
  void load_checkpoint(const std::string& path);        // the next fit() continues

 private:
  bool early_stop(const StepRecord& r);
  LocalSims training_set();
  nn::Module<double>& net_;
  optim::Optimizer<double>& opt_;
  TrainOptions o_;
  std::optional<SimulationSet> train_, val_;
  const sim::Simulator* sim_ = nullptr;
  SimulationSet fresh_;
  std::vector<StepRecord> history_;
  int64_t iteration_ = 0, best_iteration_ = -1, since_best_ = 0;
  double best_value_ = -1, base_lr_ = 0;
  std::vector<double> best_params_;
  std::vector<double> live_params_;  // the optimiser's weights while the best are shown
  bool stopped_early_ = false;
  std::optional<FisherSummary> stats_;
};

// history.csv: one row per step.
void write_history_csv(const std::string& path, const std::vector<StepRecord>& h);

}  // namespace trusty::imnn
