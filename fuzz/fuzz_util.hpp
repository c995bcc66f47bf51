// Shared by the libFuzzer targets: the input as a temporary file (for readers that take a
// path), and the rule every target checks: a reader either succeeds or throws
// std::invalid_argument / std::runtime_error with a message; anything else (a crash, a
// sanitizer report, another exception type, a huge allocation) is a finding.
#pragma once
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <stdexcept>
#include <string>

namespace trusty::fuzz {

inline std::string temp_file(const uint8_t* data, size_t size, const char* suffix) {
  const char* dir = std::getenv("TMPDIR");
  const std::string path = std::string(dir && *dir ? dir : "/tmp") + "/trusty_fuzz_" + std::to_string(::getpid()) + suffix;
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) std::abort();
  if (size && std::fwrite(data, 1, size, f) != size) std::abort();
  std::fclose(f);
  return path;
}

template <class F>
int expect_clean(F&& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    if (!*e.what()) std::abort();  // an error must say something
  } catch (const std::runtime_error& e) {
    if (!*e.what()) std::abort();
  }
  return 0;
}

}  // namespace trusty::fuzz
