#include <cstdio>
#include <exception>

#include "commands.hpp"

int main(int argc, char** argv) {
  CLI::App app{"trusty: neural networks physicists can trust"};
  app.require_subcommand(1);
  trusty::apps::register_demo(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : trusty::apps::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trusty: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
