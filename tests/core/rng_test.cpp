#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>

#include "trusty/core/rng.hpp"

using trusty::core::Rng;

// A state saved partway through a block (and with a spare normal pending) continues the stream
// exactly: what checkpoints rely on.
TEST(Rng, StateRoundTripContinuesTheStream) {
  Rng a(7, 3);
  a.next_u32();
  a.normal();  // leaves a spare
  const auto s = a.state();
  Rng b(0);
  b.set_state(s);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(a.next_u32(), b.next_u32());
    EXPECT_EQ(a.normal(), b.normal());
  }
}

// Found by fuzz_chain_checkpoint: a checkpoint's buffered-word count indexed the 4-word block
// out of bounds. Every impossible state is refused with the caller's name in the message.
TEST(Rng, ImpossibleStatesAreRefusedByName) {
  Rng r(1);
  auto refuses = [&](Rng::State s, const std::string& expect) {
    try {
      r.set_state(s, "run/chain_1.ckpt: RNG state");
      ADD_FAILURE() << "accepted: " << expect;
    } catch (const std::invalid_argument& e) {
      const std::string m = e.what();
      EXPECT_NE(m.find("run/chain_1.ckpt: RNG state"), std::string::npos) << m;
      EXPECT_NE(m.find(expect), std::string::npos) << m;
    }
  };
  refuses({.seed = 1, .counter = 3, .avail = 16187393}, "expected 0 to 4");
  refuses({.seed = 1, .counter = 3, .avail = -1}, "expected 0 to 4");
  refuses({.seed = 1, .counter = 0, .avail = 2}, "expected a counter >= 1");
  refuses({.seed = 1, .counter = 3, .avail = 2, .have_spare = 2}, "expected 0 or 1");
  refuses({.seed = 1, .counter = 3, .avail = 2, .have_spare = 1, .spare = std::numeric_limits<double>::quiet_NaN()},
          "not finite");
  EXPECT_NO_THROW(r.set_state({.seed = 1, .counter = 3, .avail = 4}));
}
