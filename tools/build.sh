#!/usr/bin/env bash
# Configures and builds trusty into build/ (Release). Idempotent and incremental.
# With ccache installed (tools/install_deps.sh installs it) compilations are cached, keyed on
# paths relative to the clone, so a fresh clone on the same machine rebuilds in about a minute;
# CMakeLists.txt spells out -march=native's flags under a cache, so a cached object never
# reaches a CPU it was not built for.
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
LAUNCHER=()
if command -v ccache >/dev/null 2>&1 && [ "${TRUSTY_CCACHE:-1}" = 1 ]; then
  LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
fi
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${GEN[@]}" "${LAUNCHER[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --parallel "$(nproc)"
