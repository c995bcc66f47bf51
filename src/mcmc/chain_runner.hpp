// One Markov chain: initialisation, the warmup/sampling loop, the recorded draws and the
// checkpoint of its whole state. Internal to sample().
#pragma once
#include <atomic>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "trusty/core/rng.hpp"
#include "trusty/mcmc/adaptation.hpp"
#include "trusty/mcmc/chain.hpp"
#include "trusty/mcmc/hmclet.hpp"
#include "trusty/mcmc/nuts.hpp"
#include "trusty/mcmc/sampler.hpp"
#include "trusty/mcmc/static_hmc.hpp"
#include "serialize.hpp"

namespace trusty::mcmc::detail {

class ChainRunner {
 public:
  ChainRunner(const LogDensity& density, const SamplerOptions& options, int chain);
  ChainRunner(const ChainRunner&) = delete;
  ChainRunner& operator=(const ChainRunner&) = delete;

  // Fresh start: initial point, initial step size, adaptation state.
  void start();
  // Continue from a checkpoint file (validated against the options).
  void load(const std::string& path);
  void save(const std::string& path) const;
  // Iterates until done (true) or stopped (false).
  bool run(const ProgressFn& progress, std::atomic<bool>& stop);
  ChainDraws result() const;

 private:
  void initialize_point();
  void end_warmup();
  void adapt(const Transition& t);
  void record(const Transition& t, double eps);
  void write_state(ByteWriter& w) const;
  void read_state(ByteReader& r);

  const LogDensity& density_;
  const SamplerOptions& o_;
  int chain_;
  int64_t dim_, cdim_, total_;
  core::Rng rng_;
  Metric metric_;
  Hamiltonian ham_;
  PhasePoint z_;
  double eps_ = 1;
  StepSizeAdaptation da_;
  WindowedAdaptation wa_;
  std::optional<Nuts> nuts_;
  std::optional<StaticHmc> hmc_;
  std::optional<Hmclet> hmclet_;
  int64_t iter_ = 0;
  double seconds_warmup_ = 0, seconds_sampling_ = 0;
  // Recorded draws.
  std::vector<double> lp_, accept_, stepsize_, energy_, params_;
  std::vector<int> treedepth_, n_leapfrog_, divergent_;
  std::vector<double> constrained_;
};

}  // namespace trusty::mcmc::detail
