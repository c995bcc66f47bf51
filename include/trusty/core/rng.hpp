// Counter-based random numbers (Random123 Philox4x32-10): a stream is a pure function of
// (seed, stream id, counter), so results do not depend on threads or ranks, and the whole
// state is two integers — checkpoints save it and a resumed run continues bit-identically.
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace trusty::core {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0, uint64_t stream = 0) : seed_(seed), stream_(stream) {}

  uint64_t next_u64();
  uint32_t next_u32();              // a quarter of a Philox block
  double uniform();                 // [0, 1), 53 random bits
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  double normal();                  // N(0, 1), Box–Muller
  uint64_t below(uint64_t n);       // uniform integer in [0, n), unbiased
  std::vector<int64_t> permutation(int64_t n);

  // Everything needed to continue the stream exactly (buffered words included).
  struct State {
    uint64_t seed = 0, stream = 0, counter = 0;
    int64_t avail = 0;
    int64_t have_spare = 0;
    double spare = 0;
  };
  State state() const { return {seed_, stream_, counter_, avail_, have_spare_ ? 1 : 0, spare_}; }
  // Refuses a state no Rng can be in (avail outside 0..4, have_spare not 0/1, a partly used
  // block 0, a non-finite spare), naming `what`: states come from checkpoint files.
  void set_state(const State& s, const std::string& what = "RNG state");

 private:
  uint64_t seed_, stream_, counter_ = 0;
  void refill(uint64_t block);
  uint32_t buf_[4] = {};
  int64_t avail_ = 0;
  bool have_spare_ = false;
  double spare_ = 0;
};

}  // namespace trusty::core
