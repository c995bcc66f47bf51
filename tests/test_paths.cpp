#include "test_paths.hpp"

namespace trusty_test_paths {
const char* source_dir() { return TRUSTY_TEST_SOURCE_DIR; }
const char* binary() { return TRUSTY_TEST_BINARY; }
}  // namespace trusty_test_paths
