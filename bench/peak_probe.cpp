// The machine's FMA peak (core/peak.hpp): f32 and f64, 512-bit and 256-bit vectors, one
// core and all cores, the clock from a dependent add chain, and the sgemm rate OpenBLAS
// reaches on a 128x784 . 784x512 product as a fraction of the f32 peak, with the machine
// description (core/machine.hpp). Prints one JSON object, like the other benchmarks.
// Usage: peak_probe [SECONDS]   (default 3; `trusty info --probe --seconds S` is the same probe)
#include <cstdio>
#include <cstdlib>
#include <string>

#include "trusty/core/machine.hpp"
#include "trusty/core/peak.hpp"

using namespace trusty;

int main(int argc, char** argv) {
  const double seconds = argc > 1 ? std::atof(argv[1]) : 3.0;
  if (!(seconds > 0)) {
    std::fprintf(stderr, "usage: peak_probe [SECONDS > 0]\n");
    return 2;
  }
  const auto m = core::machine_info();
  for (const auto& w : m.warnings) std::fprintf(stderr, "peak_probe: warning: %s\n", w.c_str());
  const auto p = core::probe_peak(seconds * 0.75);
  nlohmann::json j = {{"machine", core::to_json(m)}, {"probe", core::to_json(p)}, {"sgemm", nlohmann::json::array()}};
  j["sgemm"].push_back(core::to_json(core::probe_sgemm(128, 512, 784, 1, seconds / 8, p)));
  if (m.cores > 1) j["sgemm"].push_back(core::to_json(core::probe_sgemm(128, 512, 784, 2, seconds / 8, p)));
  std::printf("%s\n", j.dump(2).c_str());
  return 0;
}
