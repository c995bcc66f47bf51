#pragma once
// Where the tests find the source tree and the trusty binary. The paths are compiled into one
// small library (test_paths.cpp), not into every test file, so that the test objects are the
// same in any clone of the repository and a compiler cache can share them between clones.
namespace trusty_test_paths {
const char* source_dir();
const char* binary();
}  // namespace trusty_test_paths

#define TRUSTY_SOURCE_DIR (::trusty_test_paths::source_dir())
#define TRUSTY_BINARY (::trusty_test_paths::binary())
