// Update rules, apart from any training loop: a rule owns its state arrays (sized to the
// flat parameter vector) and steps one parameter vector given its gradient. Formulas and
// defaults follow PyTorch 1.13 (golden-tested against it over 20 steps).
#pragma once
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace trusty::optim {

// Named arrays: an optimiser's state, saved in checkpoints (scalars are 1-element arrays).
using StateDict = std::map<std::string, std::vector<double>>;

template <class T>
class Optimizer {
 public:
  explicit Optimizer(double lr) : lr_(lr) {}
  virtual ~Optimizer() = default;
  virtual void step(std::span<T> theta, std::span<const T> grad) = 0;
  virtual std::string name() const = 0;
  double lr() const { return lr_; }
  void set_lr(double lr) { lr_ = lr; }
  int64_t steps() const { return t_; }
  virtual StateDict state() const;
  virtual void load_state(const StateDict& s);
  // After load_state: throws std::invalid_argument naming the buffer when a loaded buffer
  // does not fit a parameter vector of n elements (a checkpoint from another network, or a
  // damaged one), instead of the next step() silently restarting it from zero.
  virtual void check_state(size_t n) const {}

 protected:
  static void check_buffer(const char* who, const char* key, const std::vector<T>& v, size_t n);
  void ensure(std::vector<T>& v, size_t n, T fill = T(0)) {
    if (v.size() != n) v.assign(n, fill);
  }
  static void put(StateDict& s, const std::string& k, const std::vector<T>& v) { s[k] = {v.begin(), v.end()}; }
  static void get(const StateDict& s, const std::string& k, std::vector<T>& v);
  double lr_;
  int64_t t_ = 0;
};

// Plain gradient descent and mini-batch SGD: momentum, dampening, Nesterov, weight decay.
struct SgdOptions {
  double lr = 0.01, momentum = 0, dampening = 0, weight_decay = 0;
  bool nesterov = false;
};
template <class T>
class Sgd final : public Optimizer<T> {
 public:
  explicit Sgd(SgdOptions o);
  void step(std::span<T> theta, std::span<const T> grad) override;
  std::string name() const override { return o_.nesterov ? "nesterov" : (o_.momentum > 0 ? "momentum" : "sgd"); }
  StateDict state() const override;
  void load_state(const StateDict& s) override;
  void check_state(size_t n) const override;

 private:
  SgdOptions o_;
  std::vector<T> buf_;
};

struct AdagradOptions {
  double lr = 0.01, lr_decay = 0, weight_decay = 0, initial_accumulator_value = 0, eps = 1e-10;
};
template <class T>
class Adagrad final : public Optimizer<T> {
 public:
  explicit Adagrad(AdagradOptions o);
  void step(std::span<T> theta, std::span<const T> grad) override;
  std::string name() const override { return "adagrad"; }
  StateDict state() const override;
  void load_state(const StateDict& s) override;
  void check_state(size_t n) const override;

 private:
  AdagradOptions o_;
  std::vector<T> sum_;
};

struct RmspropOptions {
  double lr = 0.01, alpha = 0.99, eps = 1e-8, weight_decay = 0, momentum = 0;
  bool centered = false;
};
template <class T>
class Rmsprop final : public Optimizer<T> {
 public:
  explicit Rmsprop(RmspropOptions o);
  void step(std::span<T> theta, std::span<const T> grad) override;
  std::string name() const override { return "rmsprop"; }
  StateDict state() const override;
  void load_state(const StateDict& s) override;
  void check_state(size_t n) const override;

 private:
  RmspropOptions o_;
  std::vector<T> sq_, gavg_, buf_;
};

// Adam (Kingma & Ba 2015) and AdamW (decoupled weight decay, Loshchilov & Hutter 2019).
struct AdamOptions {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0;
  bool amsgrad = false;
  bool decoupled = false;  // AdamW
};
template <class T>
class Adam final : public Optimizer<T> {
 public:
  explicit Adam(AdamOptions o);
  void step(std::span<T> theta, std::span<const T> grad) override;
  std::string name() const override { return o_.decoupled ? "adamw" : "adam"; }
  StateDict state() const override;
  void load_state(const StateDict& s) override;
  void check_state(size_t n) const override;

 private:
  AdamOptions o_;
  std::vector<T> m_, v_, vmax_;
};

// L-BFGS for full-batch problems (Nocedal & Wright, Alg. 7.4), PyTorch's variant: fixed
// step (no line search), or a strong-Wolfe line search (Alg. 3.5/3.6, cubic interpolation,
// c1 = 1e-4, c2 = 0.9, 25 evaluations). Both are golden-tested against torch.optim.LBFGS.
// The objective fills `grad` and returns the loss; one step() runs up to max_iter iterations.
struct LbfgsOptions {
  double lr = 1;
  int max_iter = 20;
  int max_eval = -1;  // default max_iter * 5 / 4
  double tolerance_grad = 1e-7, tolerance_change = 1e-9;
  int history_size = 100;
  bool strong_wolfe = false;
};
template <class T>
class Lbfgs {
 public:
  using Objective = std::function<T(std::span<const T> theta, std::span<T> grad)>;
  explicit Lbfgs(LbfgsOptions o);
  T step(const Objective& f, std::span<T> theta);  // returns the loss at the start
  int64_t iterations() const { return n_iter_; }
  void set_lr(double lr) { o_.lr = lr; }
  StateDict state() const;
  void load_state(const StateDict& s);
  void check_state(size_t n) const;

 private:
  LbfgsOptions o_;
  int64_t n_iter_ = 0, func_evals_ = 0;
  std::vector<T> d_, prev_grad_;
  T t_ = 0, h_diag_ = 1, prev_loss_ = 0;
  std::vector<std::vector<T>> dirs_, stps_;
  std::vector<T> ro_;
};

// L-BFGS inside a training loop: each step is one quasi-Newton iteration (fixed step lr, no
// line search: that would need to re-evaluate the loss) on the gradient the loop computed,
// so n steps equal one Lbfgs step with max_iter = n (tested). Meant for full-batch
// training (batch_size >= the training set): on mini-batches the curvature pairs would mix
// different batches' gradients.
template <class T>
class LbfgsStep final : public Optimizer<T> {
 public:
  LbfgsStep(double lr, int history_size);
  void step(std::span<T> theta, std::span<const T> grad) override;
  std::string name() const override { return "lbfgs"; }
  StateDict state() const override;
  void load_state(const StateDict& s) override;
  void check_state(size_t n) const override;

 private:
  Lbfgs<T> inner_;
};

// Builds an optimiser from a name ("sgd", "momentum", "nesterov", "adagrad", "rmsprop",
// "adam", "adamw", "lbfgs") and options read by key; throws naming the unknown name.
struct OptimizerConfig {
  std::string name = "adam";
  double lr = 1e-3, momentum = 0.9, weight_decay = 0, beta1 = 0.9, beta2 = 0.999, eps = -1, alpha = 0.99;
  bool amsgrad = false, centered = false;
  int history_size = 100;  // lbfgs
};
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerConfig& c);

// Learning-rate schedules, evaluated per epoch (PyTorch's closed forms).
struct Schedule {
  enum Kind { constant, step, exponential, cosine } kind = constant;
  int step_size = 10;     // step: multiply by gamma every step_size epochs
  double gamma = 0.1;     // step, exponential
  int t_max = 100;        // cosine: period in epochs
  double eta_min = 0;     // cosine: floor
  double lr_at(int epoch, double base_lr) const;
  static Schedule parse(const std::string& name);  // throws listing the choices
};

// Gradient clipping; both return the total L2 norm before clipping.
template <class T> double clip_grad_norm(std::span<T> grad, double max_norm);
template <class T> double clip_grad_value(std::span<T> grad, double clip);
template <class T> double l2_norm(std::span<const T> v);

}  // namespace trusty::optim
