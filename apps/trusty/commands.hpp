// The `trusty` subcommands: each registers itself on the CLI11 app (one file per subcommand).
#pragma once
#include <CLI/CLI.hpp>

namespace trusty::apps {

void register_demo(CLI::App& app);
void register_train(CLI::App& app);
void register_predict(CLI::App& app);
void register_search(CLI::App& app);
void register_data(CLI::App& app);
void register_sample(CLI::App& app);
void register_imnn(CLI::App& app);
void register_info(CLI::App& app);

// Reads and checks a `trusty imnn` config (every key, type, range and choice) without running
// it; throws std::invalid_argument naming the file and key (for the fuzz target).
void check_imnn_config(const std::string& config);

// Exit codes: 0 success, 1 run-time failure, 2 bad input (config, data, arguments).
inline constexpr int kExitBadInput = 2;

}  // namespace trusty::apps
