// ChainRunner's checkpoint: every piece of state the next iteration reads, so a resumed chain
// continues bit-identically (only the wall-clock timings differ).
#include <algorithm>
#include <stdexcept>
#include <string>

#include "chain_runner.hpp"
#include "trusty/io/npy.hpp"

namespace trusty::mcmc::detail {

namespace {
constexpr char kMagic[] = "trusty-mcmc-checkpoint";
constexpr int64_t kVersion = 2;  // 2: HMCLET's learned path length and its probes

void put_da(ByteWriter& w, const StepSizeAdaptation& da) {
  w.put(da.mu), w.put(da.s_bar), w.put(da.x_bar), w.put(da.counter);
}
void get_da(ByteReader& r, StepSizeAdaptation& da) {
  da.mu = r.get<double>(), da.s_bar = r.get<double>(), da.x_bar = r.get<double>(), da.counter = r.get<int64_t>();
}

// A stored matrix whose shape is not the one this run uses is damage (or another run's file).
void expect_shape(const std::string& path, const char* field, const Eigen::MatrixXd& m, int64_t rows, int64_t cols) {
  if (m.rows() != rows || m.cols() != cols)
    throw std::invalid_argument(path + ": " + field + " is " + std::to_string(m.rows()) + " x " + std::to_string(m.cols()) +
                                ", expected " + std::to_string(rows) + " x " + std::to_string(cols));
}

template <class T>
void expect(const std::string& path, const char* field, const T& stored, const T& current) {
  if (!(stored == current))
    throw std::invalid_argument(path + ": checkpoint was written with a different " + field +
                                "; resume with the options of the interrupted run");
}
}  // namespace

void ChainRunner::write_state(ByteWriter& w) const {
  w.put(std::string(kMagic));
  w.put(kVersion);
  w.put(dim_), w.put(cdim_), w.put(static_cast<int64_t>(chain_)), w.put(o_.seed);
  w.put(o_.algorithm), w.put(metric_name(metric_.kind()));
  w.put(o_.num_warmup), w.put(o_.num_samples), w.put(static_cast<int64_t>(o_.save_warmup));

  w.put(iter_), w.put(eps_);
  w.put_matrix(z_.q), w.put_matrix(z_.p), w.put_matrix(z_.g), w.put(z_.lp);
  const auto rs = rng_.state();
  w.put(rs.seed), w.put(rs.stream), w.put(rs.counter), w.put(rs.avail), w.put(rs.have_spare), w.put(rs.spare);
  w.put_matrix(metric_.inv_metric());
  put_da(w, da_);
  w.put(wa_.counter_), w.put(wa_.next_window_), w.put(wa_.window_size_), w.put(wa_.n_);
  w.put_matrix(wa_.mean_), w.put_matrix(wa_.m2_);
  if (hmclet_) {
    const Hmclet& h = *hmclet_;
    w.put(h.eps_max_);
    put_da(w, h.da_);
    w.put_matrix(h.ring_), w.put(h.n_seen_), w.put(h.iteration_);
    w.put_matrix(h.cov_inv_metric_), w.put_matrix(h.bfgs_), w.put_matrix(h.prev_q_), w.put_matrix(h.prev_grad_u_);
    w.put(h.L_max_), w.put_matrix(h.probe_time_), w.put(h.n_probe_);
  }
  w.put(ham_.gradient_evaluations()), w.put(seconds_warmup_), w.put(seconds_sampling_);
  w.put(lp_), w.put(accept_), w.put(stepsize_), w.put(energy_), w.put(params_);
  w.put(treedepth_), w.put(n_leapfrog_), w.put(divergent_);
}

void ChainRunner::read_state(ByteReader& r) {
  const std::string what = "checkpoint";
  if (r.get_string() != kMagic) throw std::invalid_argument(what + ": not a trusty MCMC checkpoint");
  if (r.get<int64_t>() != kVersion) throw std::invalid_argument(what + ": unsupported checkpoint version");
  expect(what, "dimension", r.get<int64_t>(), dim_);
  expect(what, "constrained dimension", r.get<int64_t>(), cdim_);
  expect(what, "chain", r.get<int64_t>(), static_cast<int64_t>(chain_));
  expect(what, "seed", r.get<uint64_t>(), o_.seed);
  expect(what, "algorithm", r.get_string(), o_.algorithm);
  expect(what, "metric", r.get_string(), metric_name(metric_.kind()));
  expect(what, "num_warmup", r.get<int64_t>(), o_.num_warmup);
  expect(what, "num_samples", r.get<int64_t>(), o_.num_samples);
  expect(what, "save_warmup", r.get<int64_t>(), static_cast<int64_t>(o_.save_warmup));

  iter_ = r.get<int64_t>(), eps_ = r.get<double>();
  r.get_matrix(z_.q), r.get_matrix(z_.p), r.get_matrix(z_.g);
  z_.lp = r.get<double>();
  expect_shape(what, "position", z_.q, dim_, 1), expect_shape(what, "momentum", z_.p, dim_, 1);
  expect_shape(what, "gradient", z_.g, dim_, 1);
  core::Rng::State rs;
  rs.seed = r.get<uint64_t>(), rs.stream = r.get<uint64_t>(), rs.counter = r.get<uint64_t>();
  rs.avail = r.get<int64_t>(), rs.have_spare = r.get<int64_t>(), rs.spare = r.get<double>();
  rng_.set_state(rs, what + ": RNG state");
  Eigen::MatrixXd inv;
  r.get_matrix(inv);
  metric_.set_inv_metric(inv, what + " inverse metric");
  get_da(r, da_);
  wa_.counter_ = r.get<int64_t>(), wa_.next_window_ = r.get<int64_t>(), wa_.window_size_ = r.get<int64_t>();
  wa_.n_ = r.get<int64_t>();
  r.get_matrix(wa_.mean_), r.get_matrix(wa_.m2_);
  expect_shape(what, "adaptation mean", wa_.mean_, dim_, 1);
  expect_shape(what, "adaptation second moments", wa_.m2_, dim_, metric_.kind() == MetricKind::dense_e ? dim_ : 1);
  if (hmclet_) {
    Hmclet& h = *hmclet_;
    h.eps_max_ = r.get<double>();
    get_da(r, h.da_);
    r.get_matrix(h.ring_), h.n_seen_ = r.get<int64_t>(), h.iteration_ = r.get<int64_t>();
    r.get_matrix(h.cov_inv_metric_), r.get_matrix(h.bfgs_), r.get_matrix(h.prev_q_), r.get_matrix(h.prev_grad_u_);
    h.L_max_ = r.get<int64_t>();
    r.get_matrix(h.probe_time_), h.n_probe_ = r.get<int64_t>();
    const int64_t window = o_.hmclet_window;
    expect_shape(what, "HMCLET ring", h.ring_, window, dim_);
    expect_shape(what, "HMCLET covariance metric", h.cov_inv_metric_, inv.rows(), inv.cols());
    if (o_.hmclet_quasi_newton) expect_shape(what, "HMCLET quasi-Newton matrix", h.bfgs_, dim_, dim_);
    expect_shape(what, "HMCLET previous position", h.prev_q_, dim_, 1);
    expect_shape(what, "HMCLET previous gradient", h.prev_grad_u_, dim_, 1);
    expect_shape(what, "HMCLET probe times", h.probe_time_, window, 1);
    if (h.n_seen_ < 0 || h.iteration_ < 0 || h.n_probe_ < 0 || h.L_max_ < 1 || !(h.eps_max_ > 0))
      throw std::invalid_argument(what + ": HMCLET state out of range (counters >= 0, L_max >= 1, eps_max > 0 expected)");
  }
  ham_.set_gradient_evaluations(r.get<int64_t>());
  seconds_warmup_ = r.get<double>(), seconds_sampling_ = r.get<double>();
  lp_ = r.get_vector<double>(), accept_ = r.get_vector<double>(), stepsize_ = r.get_vector<double>();
  energy_ = r.get_vector<double>(), params_ = r.get_vector<double>();
  treedepth_ = r.get_vector<int>(), n_leapfrog_ = r.get_vector<int>(), divergent_ = r.get_vector<int>();
  if (!r.at_end()) throw std::invalid_argument(what + ": trailing bytes in checkpoint");
  // The draws so far: one per recorded iteration in every column (fuzz_chain_checkpoint found
  // draws without parameters, read later as a null matrix).
  const int64_t total = o_.num_warmup + o_.num_samples;
  if (iter_ < 0 || iter_ > total)
    throw std::invalid_argument(what + ": iteration " + std::to_string(iter_) + ", expected 0.." + std::to_string(total));
  const auto n = static_cast<size_t>(o_.save_warmup ? iter_ : std::max<int64_t>(0, iter_ - o_.num_warmup));
  const bool consistent = lp_.size() == n && accept_.size() == n && stepsize_.size() == n && energy_.size() == n &&
                          treedepth_.size() == n && n_leapfrog_.size() == n && divergent_.size() == n &&
                          params_.size() == n * static_cast<size_t>(cdim_);
  if (!consistent)
    throw std::invalid_argument(what + ": the stored draws do not match " + std::to_string(n) + " recorded iterations of " +
                                std::to_string(cdim_) + " parameters");
}

void ChainRunner::save(const std::string& path) const {
  ByteWriter w;
  write_state(w);
  io::write_file_atomic(path, w.bytes());
}

void ChainRunner::load(const std::string& path) {
  const std::vector<char> bytes = io::read_file(path);
  ByteReader r(bytes, path);
  try {
    read_state(r);
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(path + ": " + e.what());
  }
}

}  // namespace trusty::mcmc::detail
