// Bump-pointer arena: allocation is a pointer increment, reset is O(1) and runs no
// destructors (stan math's stack_alloc). Memory is kept across resets and reused.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace trusty::core {

class Arena {
 public:
  struct Mark {
    size_t block = 0;
    size_t used = 0;
  };
  explicit Arena(size_t first_block_bytes = size_t{1} << 20) : next_size_(first_block_bytes) {}
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  void* allocate(size_t bytes, size_t align = 64) {
    if (!blocks_.empty()) {
      Block& b = blocks_[cur_];
      size_t p = (used_ + align - 1) & ~(align - 1);
      if (p + bytes <= b.size) {
        used_ = p + bytes;
        return b.data.get() + p;
      }
    }
    return allocate_slow(bytes, align);
  }
  template <class T>
  T* allocate_array(int64_t n) {
    return static_cast<T*>(allocate(static_cast<size_t>(n) * sizeof(T), n * sizeof(T) >= 64 ? 64 : alignof(T)));
  }
  Mark mark() const { return {cur_, used_}; }
  void rewind(Mark m) {
    cur_ = m.block;
    used_ = m.used;
  }
  void reset() { rewind({}); }
  size_t capacity() const;

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  struct Block {
    std::unique_ptr<std::byte, Free> data;  // 64-byte aligned, so offsets align addresses
    size_t size;
  };
  void* allocate_slow(size_t bytes, size_t align);
  std::vector<Block> blocks_;
  size_t cur_ = 0, used_ = 0, next_size_;
};

}  // namespace trusty::core
