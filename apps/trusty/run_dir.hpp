// What a run writes into its --out directory: results.json, history.csv, model.npz,
// config.toml (a copy), checkpoint.npz. All writes are atomic.
#pragma once
#include <nlohmann/json.hpp>
#include <string>

#include "trusty/nn/module.hpp"

namespace trusty::apps {

void write_json(const std::string& path, const nlohmann::json& j);

// DIR/results.json of any command: `j` with the short machine description added as
// "machine" (core/machine.hpp: CPU, SIMD width, cores, BLAS and the kernels it chose, threads,
// environment overrides, warnings), so that figures can be compared across machines.
void write_results(const std::string& dir, nlohmann::json j);

template <class T>
void save_model(const std::string& path, nn::Module<T>& net);
template <class T>
void load_model(const std::string& path, nn::Module<T>& net);

}  // namespace trusty::apps
