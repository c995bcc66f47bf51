// Turning a `trusty sample` TOML config into a log density and sampler options
// (docs/sample.md lists the keys).
#pragma once
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "trusty/io/config.hpp"
#include "trusty/mcmc/chain.hpp"
#include "trusty/mcmc/log_density.hpp"
#include "trusty/mcmc/sampler.hpp"

namespace trusty::apps {

struct SampleSpec {
  std::string config_path;
  std::string target_kind;              // gaussian, multi_normal, funnel, linear_regression, bnn, bias
  mcmc::SamplerOptions sampler;
  std::shared_ptr<const io::Config> root;  // the config, for the target's own tables
};

// A density and what to do with the draws afterwards (a Bayesian network writes its
// posterior predictive; a target with a closed form reports it beside the estimates).
struct SampleModel {
  std::shared_ptr<mcmc::LogDensity> density;
  std::function<nlohmann::json(const std::vector<mcmc::ChainDraws>&, const std::string& out)> after;
  std::vector<double> init;  // the chains' initial θ when [sampler] gives none (the bias model's MAP)
  Eigen::MatrixXd inv_metric{};  // an initial inverse metric (d × d) for dense_e / diag_e, if known
};

SampleSpec parse_sample(const io::Config& root);
// Samples what `spec` describes into `out` (chain_*.csv, summary.json, results.json, and
// predictive.npz for a Bayesian network) and returns results.json's content.
nlohmann::json run_sample(const SampleSpec& spec, const std::string& out, bool resume, bool verbose);
void parse_sampler(const io::Config& t, mcmc::SamplerOptions& o);
SampleModel build_target(const SampleSpec& spec, bool verbose);
// [target] kind = "bnn": a Bayesian network on [data] with the [model] of `trusty train`
// (sample_bnn.cpp).
SampleModel build_bnn(const SampleSpec& spec, bool verbose);
// [target] kind = "bias": the neural bias model on a [catalogue] (sample_bias.cpp).
SampleModel build_bias(const SampleSpec& spec, bool verbose);

}  // namespace trusty::apps
