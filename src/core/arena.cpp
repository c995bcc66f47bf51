#include "trusty/core/arena.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace trusty::core {

void Arena::Free::operator()(std::byte* p) const { std::free(p); }

void* Arena::allocate_slow(size_t bytes, size_t align) {
  // Move to the next block that fits, or append a new one.
  while (!blocks_.empty() && cur_ + 1 < blocks_.size()) {
    ++cur_;
    used_ = 0;
    if (bytes + align <= blocks_[cur_].size) return allocate(bytes, align);
  }
  size_t size = (std::max(next_size_, bytes + align) + 63) / 64 * 64;
  next_size_ = size * 2;
  auto* p = static_cast<std::byte*>(std::aligned_alloc(64, size));
  if (!p) throw std::bad_alloc();
  blocks_.push_back({std::unique_ptr<std::byte, Free>(p), size});
  cur_ = blocks_.size() - 1;
  used_ = 0;
  return allocate(bytes, align);
}

size_t Arena::capacity() const {
  size_t c = 0;
  for (const auto& b : blocks_) c += b.size;
  return c;
}

}  // namespace trusty::core
