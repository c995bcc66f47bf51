#include "trusty/mcmc/sort_order.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <numeric>
#include <utility>

namespace trusty::mcmc {
namespace {

// Maps a double to an unsigned integer with the same order: flip all bits of negatives, set
// the sign bit of positives.
uint64_t sortable_key(double v) {
  const auto bits = std::bit_cast<uint64_t>(v);
  return (bits >> 63) != 0 ? ~bits : bits | (uint64_t{1} << 63);
}

constexpr int kDigitBits = 11;
constexpr int kPasses = (64 + kDigitBits - 1) / kDigitBits;  // 6
constexpr uint64_t kDigitMask = (uint64_t{1} << kDigitBits) - 1;

}  // namespace

std::vector<uint32_t> ascending_order(std::span<const double> values) {
  const size_t n = values.size();
  if (n < 256) return ascending_order_reference(values);  // histograms cost more than they save
  std::vector<uint64_t> keys(n), keys_out(n);
  std::vector<uint32_t> order(n), order_out(n);
  std::vector<std::array<uint32_t, 1 << kDigitBits>> counts(kPasses);
  for (auto& c : counts) c.fill(0);
  for (size_t i = 0; i < n; ++i) {
    keys[i] = sortable_key(values[i]);
    order[i] = static_cast<uint32_t>(i);
    for (int p = 0; p < kPasses; ++p) ++counts[size_t(p)][(keys[i] >> (p * kDigitBits)) & kDigitMask];
  }
  for (int p = 0; p < kPasses; ++p) {
    auto& count = counts[size_t(p)];
    const int shift = p * kDigitBits;
    if (count[(keys[0] >> shift) & kDigitMask] == n) continue;  // one digit value: nothing to do
    uint32_t sum = 0;
    for (auto& c : count) sum += std::exchange(c, sum);  // exclusive prefix sums: first slots
    for (size_t i = 0; i < n; ++i) {
      const uint32_t slot = count[(keys[i] >> shift) & kDigitMask]++;
      keys_out[slot] = keys[i];
      order_out[slot] = order[i];
    }
    keys.swap(keys_out);
    order.swap(order_out);
  }
  return order;
}

std::vector<uint32_t> ascending_order_reference(std::span<const double> values) {
  std::vector<uint32_t> order(values.size());
  std::iota(order.begin(), order.end(), uint32_t{0});
  std::stable_sort(order.begin(), order.end(), [&](uint32_t a, uint32_t b) {
    return sortable_key(values[a]) < sortable_key(values[b]);
  });
  return order;
}

}  // namespace trusty::mcmc
