#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <exception>
#include <new>

#include "commands.hpp"
#include "trusty/density/mdn_loss.hpp"
#include "trusty/dist/world.hpp"
#include "trusty/io/config.hpp"
#include "trusty/optim/trainer.hpp"

namespace {
// glibc gives blocks above 128 KiB their own mmap and returns them to the kernel on free, so
// every checkpoint, optimiser-state copy or batch buffer of a training run pays one page
// fault per 4 KiB again (about 14 µs each on some virtual machines). trusty keeps such
// memory in its heap for reuse instead (the thresholds PyTorch users set through
// MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_); a user's own settings of those win.
void keep_freed_memory() {
  if (!std::getenv("MALLOC_MMAP_THRESHOLD_")) mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's largest on 64-bit
  if (!std::getenv("MALLOC_TRIM_THRESHOLD_")) mallopt(M_TRIM_THRESHOLD, 256 << 20);
}

int run(int argc, char** argv) {
  keep_freed_memory();
  trusty::density::register_losses();  // "mdn" beside the built-in losses
  CLI::App app{"trusty: neural networks physicists can trust"};
  app.require_subcommand(1);
  trusty::apps::register_demo(app);
  trusty::apps::register_train(app);
  trusty::apps::register_predict(app);
  trusty::apps::register_search(app);
  trusty::apps::register_data(app);
  trusty::apps::register_sample(app);
  trusty::apps::register_imnn(app);
  trusty::apps::register_info(app);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : trusty::apps::kExitBadInput;
  } catch (const trusty::io::ConfigError& e) {
    std::fprintf(stderr, "trusty: error: %s\n", e.what());
    return trusty::apps::kExitBadInput;
  } catch (const trusty::optim::TrainingDiverged& e) {
    std::fprintf(stderr, "trusty: training stopped: %s\n", e.what());
    return 1;
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "trusty: error: out of memory: the data, the network or the batch is too large for this machine\n");
    return 1;
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "trusty: error: %s\n", e.what());
    return trusty::apps::kExitBadInput;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "trusty: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
}  // namespace

// Under mpirun a rank that fails ends the whole job (dist::World::finish) instead of leaving
// the others waiting.
int main(int argc, char** argv) { return trusty::dist::world().finish(run(argc, argv)); }
