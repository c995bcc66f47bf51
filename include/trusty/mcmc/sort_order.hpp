// The permutation that sorts a vector of doubles: the one sort every rank-based diagnostic
// needs, done as a least-significant-digit radix sort on the IEEE-754 bits (about 3x faster
// than std::sort for the few thousand draws of a chain set), with the comparison sort kept as
// its reference.
#pragma once
#include <cstdint>
#include <span>
#include <vector>

namespace trusty::mcmc {

// Positions of `values` in ascending order; equal values keep their original order (stable);
// −0 sorts before +0. The values must not be NaN (checked by the callers, not here).
std::vector<uint32_t> ascending_order(std::span<const double> values);

// The same permutation by std::stable_sort (the reference in tests).
std::vector<uint32_t> ascending_order_reference(std::span<const double> values);

}  // namespace trusty::mcmc
