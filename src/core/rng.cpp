#include "trusty/core/rng.hpp"

#include <Random123/philox.h>

#include <cmath>
#include <numbers>
#include <stdexcept>
#include <string>

namespace trusty::core {

void Rng::refill(uint64_t block) {
  r123::Philox4x32 gen;
  r123::Philox4x32::ctr_type ctr = {{static_cast<uint32_t>(block), static_cast<uint32_t>(block >> 32),
                                     static_cast<uint32_t>(stream_), static_cast<uint32_t>(stream_ >> 32)}};
  r123::Philox4x32::key_type key = {{static_cast<uint32_t>(seed_), static_cast<uint32_t>(seed_ >> 32)}};
  auto r = gen(ctr, key);
  for (int i = 0; i < 4; ++i) buf_[i] = r[i];
}

uint64_t Rng::next_u64() {
  if (avail_ < 2) {
    refill(counter_++);
    avail_ = 4;
  }
  avail_ -= 2;
  return (static_cast<uint64_t>(buf_[avail_ + 1]) << 32) | buf_[avail_];
}

uint32_t Rng::next_u32() {
  if (avail_ < 1) {
    refill(counter_++);
    avail_ = 4;
  }
  return buf_[--avail_];
}

double Rng::uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

double Rng::normal() {
  if (have_spare_) {
    have_spare_ = false;
    return spare_;
  }
  double u1 = uniform(), u2 = uniform();
  if (u1 <= 0) u1 = 0x1.0p-53;
  const double r = std::sqrt(-2.0 * std::log(u1)), t = 2.0 * std::numbers::pi * u2;
  spare_ = r * std::sin(t);
  have_spare_ = true;
  return r * std::cos(t);
}

uint64_t Rng::below(uint64_t n) {
  if (n <= 1) return 0;
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do x = next_u64();
  while (x >= limit);
  return x % n;
}

std::vector<int64_t> Rng::permutation(int64_t n) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[static_cast<size_t>(i)], p[below(static_cast<uint64_t>(i + 1))]);
  return p;
}

void Rng::set_state(const State& s, const std::string& what) {
  if (s.avail < 0 || s.avail > 4)
    throw std::invalid_argument(what + ": " + std::to_string(s.avail) + " buffered words, expected 0 to 4");
  if (s.avail > 0 && s.counter == 0)
    throw std::invalid_argument(what + ": buffered words but block counter 0, expected a counter >= 1");
  if (s.have_spare != 0 && s.have_spare != 1)
    throw std::invalid_argument(what + ": spare flag " + std::to_string(s.have_spare) + ", expected 0 or 1");
  if (!std::isfinite(s.spare)) throw std::invalid_argument(what + ": the spare normal is not finite");
  seed_ = s.seed;
  stream_ = s.stream;
  counter_ = s.counter;
  avail_ = s.avail;
  if (avail_ > 0) refill(counter_ - 1);  // the partly used block
  have_spare_ = s.have_spare != 0;
  spare_ = s.spare;
}

}  // namespace trusty::core
