#!/usr/bin/env bash
# Builds trusty with AddressSanitizer + UndefinedBehaviorSanitizer into build-asan/ and runs
# the GoogleTest suite (CTest) there; any sanitizer report fails the test that triggered it.
# Arguments go to ctest, e.g. `tools/sanitize.sh -L io` or `-R BadInput` for a subset; a full
# run builds and runs everything (slow: allow an hour on two cores).
# The Python extension is left out (an ASan runtime cannot be loaded into /usr/bin/python3).
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
LAUNCHER=(); command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan "${GEN[@]}" "${LAUNCHER[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DTRUSTY_SANITIZE=address,undefined -DTRUSTY_BUILD_BENCH=OFF -DTRUSTY_BUILD_PYTHON=OFF >/dev/null
fi
# TRUSTY_SANITIZE_TARGETS limits the build (e.g. "test_io test_apps trusty_cli"); default all.
read -r -a targets <<<"${TRUSTY_SANITIZE_TARGETS:-all}"
cmake --build build-asan --parallel "$(nproc)" --target "${targets[@]}"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure --timeout 1800 -j "$(nproc)" "$@"
