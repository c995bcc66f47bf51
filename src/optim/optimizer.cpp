#include <algorithm>
#include <cmath>
#include <numbers>
#include <stdexcept>

#include "trusty/optim/optimizer.hpp"

#include "trusty/io/npy.hpp"

namespace trusty::optim {

template <class T>
StateDict Optimizer<T>::state() const {
  return {{"step", {static_cast<double>(t_)}}, {"lr", {lr_}}};
}

template <class T>
void Optimizer<T>::load_state(const StateDict& s) {
  auto it = s.find("step");
  if (it == s.end() || it->second.size() != 1) throw std::invalid_argument("optimizer state: missing 'step'");
  t_ = io::stored_count(it->second[0], 0, "optimizer state 'step'");
  if (auto l = s.find("lr"); l != s.end() && l->second.size() == 1) lr_ = l->second[0];
}

template <class T>
void Optimizer<T>::get(const StateDict& s, const std::string& k, std::vector<T>& v) {
  auto it = s.find(k);
  if (it == s.end()) {
    v.clear();
    return;
  }
  v.assign(it->second.begin(), it->second.end());
}

template <class T>
void Optimizer<T>::check_buffer(const char* who, const char* key, const std::vector<T>& v, size_t n) {
  if (!v.empty() && v.size() != n)
    throw std::invalid_argument(std::string(who) + " state '" + key + "' has " + std::to_string(v.size()) +
                                " values, expected " + std::to_string(n) + " (one per parameter) or none");
}

namespace {
void check_size(size_t a, size_t b, const std::string& who) {
  if (a != b)
    throw std::invalid_argument(who + ": parameter vector has " + std::to_string(a) + " elements, gradient " +
                                std::to_string(b));
}
void check_lr(double lr, const char* who) {
  if (!(lr >= 0) || !std::isfinite(lr)) throw std::invalid_argument(std::string(who) + ": lr must be >= 0, got " + std::to_string(lr));
}
}  // namespace

// ---- SGD ---------------------------------------------------------------------------------
template <class T>
Sgd<T>::Sgd(SgdOptions o) : Optimizer<T>(o.lr), o_(o) {
  check_lr(o.lr, "Sgd");
  if (o.momentum < 0) throw std::invalid_argument("Sgd: momentum must be >= 0, got " + std::to_string(o.momentum));
  if (o.nesterov && (o.momentum <= 0 || o.dampening != 0))
    throw std::invalid_argument("Sgd: Nesterov momentum needs momentum > 0 and dampening = 0");
}

template <class T>
void Sgd<T>::step(std::span<T> theta, std::span<const T> grad) {
  check_size(theta.size(), grad.size(), "Sgd");
  const T lr = static_cast<T>(this->lr_), mu = static_cast<T>(o_.momentum), wd = static_cast<T>(o_.weight_decay),
          damp = static_cast<T>(1 - o_.dampening);
  const bool first = this->t_ == 0 || buf_.size() != theta.size();
  if (mu != T(0)) this->ensure(buf_, theta.size());
  for (size_t i = 0; i < theta.size(); ++i) {
    T g = grad[i] + wd * theta[i];
    if (mu != T(0)) {
      buf_[i] = first ? g : mu * buf_[i] + damp * g;
      g = o_.nesterov ? g + mu * buf_[i] : buf_[i];
    }
    theta[i] -= lr * g;
  }
  ++this->t_;
}

template <class T>
StateDict Sgd<T>::state() const {
  auto s = Optimizer<T>::state();
  this->put(s, "momentum_buffer", buf_);
  return s;
}

template <class T>
void Sgd<T>::load_state(const StateDict& s) {
  Optimizer<T>::load_state(s);
  this->get(s, "momentum_buffer", buf_);
}

template <class T>
void Sgd<T>::check_state(size_t n) const {
  this->check_buffer("SGD", "momentum_buffer", buf_, n);
}

// ---- Adagrad -----------------------------------------------------------------------------------
template <class T>
Adagrad<T>::Adagrad(AdagradOptions o) : Optimizer<T>(o.lr), o_(o) {
  check_lr(o.lr, "Adagrad");
}

template <class T>
void Adagrad<T>::step(std::span<T> theta, std::span<const T> grad) {
  check_size(theta.size(), grad.size(), "Adagrad");
  this->ensure(sum_, theta.size(), static_cast<T>(o_.initial_accumulator_value));
  ++this->t_;
  const T clr = static_cast<T>(this->lr_ / (1 + static_cast<double>(this->t_ - 1) * o_.lr_decay));
  const T wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps);
  for (size_t i = 0; i < theta.size(); ++i) {
    const T g = grad[i] + wd * theta[i];
    sum_[i] += g * g;
    theta[i] -= clr * g / (std::sqrt(sum_[i]) + eps);
  }
}

template <class T>
StateDict Adagrad<T>::state() const {
  auto s = Optimizer<T>::state();
  this->put(s, "sum", sum_);
  return s;
}

template <class T>
void Adagrad<T>::load_state(const StateDict& s) {
  Optimizer<T>::load_state(s);
  this->get(s, "sum", sum_);
}

template <class T>
void Adagrad<T>::check_state(size_t n) const {
  this->check_buffer("Adagrad", "sum", sum_, n);
}

// ---- RMSprop ------------------------------------------------------------------------------------
template <class T>
Rmsprop<T>::Rmsprop(RmspropOptions o) : Optimizer<T>(o.lr), o_(o) {
  check_lr(o.lr, "Rmsprop");
  if (!(o.alpha >= 0 && o.alpha <= 1)) throw std::invalid_argument("Rmsprop: alpha must be in [0, 1], got " + std::to_string(o.alpha));
}

template <class T>
void Rmsprop<T>::step(std::span<T> theta, std::span<const T> grad) {
  check_size(theta.size(), grad.size(), "Rmsprop");
  const size_t n = theta.size();
  this->ensure(sq_, n);
  if (o_.centered) this->ensure(gavg_, n);
  if (o_.momentum > 0) this->ensure(buf_, n);
  const T a = static_cast<T>(o_.alpha), wd = static_cast<T>(o_.weight_decay), eps = static_cast<T>(o_.eps),
          lr = static_cast<T>(this->lr_), mu = static_cast<T>(o_.momentum);
  for (size_t i = 0; i < n; ++i) {
    const T g = grad[i] + wd * theta[i];
    sq_[i] = sq_[i] * a + (T(1) - a) * g * g;
    T avg;
    if (o_.centered) {
      gavg_[i] = gavg_[i] * a + (T(1) - a) * g;
      avg = std::sqrt(sq_[i] - gavg_[i] * gavg_[i]) + eps;
    } else {
      avg = std::sqrt(sq_[i]) + eps;
    }
    if (mu > T(0)) {
      buf_[i] = buf_[i] * mu + g / avg;
      theta[i] -= lr * buf_[i];
    } else {
      theta[i] -= lr * g / avg;
    }
  }
  ++this->t_;
}

template <class T>
StateDict Rmsprop<T>::state() const {
  auto s = Optimizer<T>::state();
  this->put(s, "square_avg", sq_);
  this->put(s, "grad_avg", gavg_);
  this->put(s, "momentum_buffer", buf_);
  return s;
}

template <class T>
void Rmsprop<T>::load_state(const StateDict& s) {
  Optimizer<T>::load_state(s);
  this->get(s, "square_avg", sq_);
  this->get(s, "grad_avg", gavg_);
  this->get(s, "momentum_buffer", buf_);
}

template <class T>
void Rmsprop<T>::check_state(size_t n) const {
  this->check_buffer("RMSprop", "square_avg", sq_, n);
  this->check_buffer("RMSprop", "grad_avg", gavg_, n);
  this->check_buffer("RMSprop", "momentum_buffer", buf_, n);
}

// ---- Adam / AdamW ---------------------------------------------------------------------------------
template <class T>
Adam<T>::Adam(AdamOptions o) : Optimizer<T>(o.lr), o_(o) {
  check_lr(o.lr, "Adam");
  if (!(o.beta1 >= 0 && o.beta1 < 1) || !(o.beta2 >= 0 && o.beta2 < 1))
    throw std::invalid_argument("Adam: betas must be in [0, 1), got (" + std::to_string(o.beta1) + ", " +
                                std::to_string(o.beta2) + ")");
  if (!(o.eps >= 0)) throw std::invalid_argument("Adam: eps must be >= 0, got " + std::to_string(o.eps));
}

template <class T>
void Adam<T>::step(std::span<T> theta, std::span<const T> grad) {
  check_size(theta.size(), grad.size(), "Adam");
  const size_t n = theta.size();
  this->ensure(m_, n);
  this->ensure(v_, n);
  if (o_.amsgrad) this->ensure(vmax_, n);
  ++this->t_;
  const double t = static_cast<double>(this->t_);
  const T b1 = static_cast<T>(o_.beta1), b2 = static_cast<T>(o_.beta2), eps = static_cast<T>(o_.eps);
  const T step_size = static_cast<T>(this->lr_ / (1 - std::pow(o_.beta1, t)));
  const T bc2_sqrt = static_cast<T>(std::sqrt(1 - std::pow(o_.beta2, t)));
  const T wd = static_cast<T>(o_.weight_decay);
  const T decay = static_cast<T>(1 - this->lr_ * o_.weight_decay);
  T* __restrict th = theta.data();
  const T* __restrict gr = grad.data();
  T* __restrict m = m_.data();
  T* __restrict v = v_.data();
  // Branch-free loops per variant, so that each vectorises.
  if (o_.decoupled && wd != T(0))
    for (size_t i = 0; i < n; ++i) th[i] *= decay;
  const T l2 = o_.decoupled ? T(0) : wd;
  if (!o_.amsgrad) {
#pragma omp simd
    for (size_t i = 0; i < n; ++i) {
      const T g = gr[i] + l2 * th[i];
      m[i] = m[i] * b1 + (T(1) - b1) * g;
      v[i] = v[i] * b2 + (T(1) - b2) * g * g;
      th[i] -= step_size * m[i] / (std::sqrt(v[i]) / bc2_sqrt + eps);
    }
  } else {
    T* __restrict vm = vmax_.data();
    for (size_t i = 0; i < n; ++i) {
      const T g = gr[i] + l2 * th[i];
      m[i] = m[i] * b1 + (T(1) - b1) * g;
      v[i] = v[i] * b2 + (T(1) - b2) * g * g;
      vm[i] = std::max(vm[i], v[i]);
      th[i] -= step_size * m[i] / (std::sqrt(vm[i]) / bc2_sqrt + eps);
    }
  }
}

template <class T>
StateDict Adam<T>::state() const {
  auto s = Optimizer<T>::state();
  this->put(s, "exp_avg", m_);
  this->put(s, "exp_avg_sq", v_);
  this->put(s, "max_exp_avg_sq", vmax_);
  return s;
}

template <class T>
void Adam<T>::load_state(const StateDict& s) {
  Optimizer<T>::load_state(s);
  this->get(s, "exp_avg", m_);
  this->get(s, "exp_avg_sq", v_);
  this->get(s, "max_exp_avg_sq", vmax_);
}

template <class T>
void Adam<T>::check_state(size_t n) const {
  this->check_buffer("Adam", "exp_avg", m_, n);
  this->check_buffer("Adam", "exp_avg_sq", v_, n);
  this->check_buffer("Adam", "max_exp_avg_sq", vmax_, n);
}

// ---- factory, schedules, clipping ----------------------------------------------------------------------
template <class T>
std::unique_ptr<Optimizer<T>> make_optimizer(const OptimizerConfig& c) {
  const std::string& n = c.name;
  if (n == "sgd" || n == "gd") return std::make_unique<Sgd<T>>(SgdOptions{.lr = c.lr, .weight_decay = c.weight_decay});
  if (n == "momentum")
    return std::make_unique<Sgd<T>>(SgdOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay});
  if (n == "nesterov")
    return std::make_unique<Sgd<T>>(
        SgdOptions{.lr = c.lr, .momentum = c.momentum, .weight_decay = c.weight_decay, .nesterov = true});
  if (n == "adagrad")
    return std::make_unique<Adagrad<T>>(
        AdagradOptions{.lr = c.lr, .weight_decay = c.weight_decay, .eps = c.eps >= 0 ? c.eps : 1e-10});
  if (n == "rmsprop")
    return std::make_unique<Rmsprop<T>>(RmspropOptions{.lr = c.lr, .alpha = c.alpha, .eps = c.eps >= 0 ? c.eps : 1e-8,
                                                       .weight_decay = c.weight_decay, .centered = c.centered});
  if (n == "adam" || n == "adamw")
    return std::make_unique<Adam<T>>(AdamOptions{.lr = c.lr, .beta1 = c.beta1, .beta2 = c.beta2,
                                                 .eps = c.eps >= 0 ? c.eps : 1e-8, .weight_decay = c.weight_decay,
                                                 .amsgrad = c.amsgrad, .decoupled = n == "adamw"});
  if (n == "lbfgs") return std::make_unique<LbfgsStep<T>>(c.lr, c.history_size);
  throw std::invalid_argument("unknown optimizer '" + n + "' (expected one of sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, lbfgs)");
}

double Schedule::lr_at(int epoch, double base) const {
  switch (kind) {
    case constant: return base;
    case step: return base * std::pow(gamma, epoch / std::max(1, step_size));
    case exponential: return base * std::pow(gamma, epoch);
    case cosine:
      return eta_min + (base - eta_min) * (1 + std::cos(std::numbers::pi * std::min(epoch, t_max) / std::max(1, t_max))) / 2;
  }
  return base;
}

Schedule Schedule::parse(const std::string& name) {
  Schedule s;
  if (name == "constant" || name == "none") s.kind = constant;
  else if (name == "step") s.kind = step;
  else if (name == "exponential") s.kind = exponential;
  else if (name == "cosine") s.kind = cosine;
  else throw std::invalid_argument("unknown schedule '" + name + "' (expected one of constant, step, exponential, cosine)");
  return s;
}

template <class T>
double l2_norm(std::span<const T> v) {
  // Blocks of 1024 summed in T with SIMD, the blocks in double: fast and accurate enough
  // for logging and clipping.
  double s = 0;
  const T* p = v.data();
  for (size_t b = 0; b < v.size(); b += 1024) {
    const size_t e = std::min(v.size(), b + 1024);
    T acc = 0;
#pragma omp simd reduction(+ : acc)
    for (size_t i = b; i < e; ++i) acc += p[i] * p[i];
    s += static_cast<double>(acc);
  }
  return std::sqrt(s);
}

template <class T>
double clip_grad_norm(std::span<T> grad, double max_norm) {
  const double norm = l2_norm<T>(grad);
  const double coef = max_norm / (norm + 1e-6);  // PyTorch's clip_grad_norm_
  if (coef < 1)
    for (T& g : grad) g = static_cast<T>(g * coef);
  return norm;
}

template <class T>
double clip_grad_value(std::span<T> grad, double clip) {
  const double norm = l2_norm<T>(grad);
  const T c = static_cast<T>(clip);
  for (T& g : grad) g = std::clamp(g, -c, c);
  return norm;
}

#define TRUSTY_INST(T)                                                       \
  template class Optimizer<T>;                                               \
  template class Sgd<T>;                                                     \
  template class Adagrad<T>;                                                 \
  template class Rmsprop<T>;                                                 \
  template class Adam<T>;                                                    \
  template std::unique_ptr<Optimizer<T>> make_optimizer<T>(const OptimizerConfig&); \
  template double l2_norm<T>(std::span<const T>);                            \
  template double clip_grad_norm<T>(std::span<T>, double);                   \
  template double clip_grad_value<T>(std::span<T>, double);
TRUSTY_INST(float)
TRUSTY_INST(double)
#undef TRUSTY_INST

}  // namespace trusty::optim
