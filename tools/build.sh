#!/usr/bin/env bash
# Configures and builds trusty into build/ (Release). Idempotent and incremental.
set -euo pipefail
cd "$(dirname "$0")/.."
GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
if [ ! -f build/CMakeCache.txt ]; then
  cmake -S . -B build "${GEN[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
fi
cmake --build build --parallel "$(nproc)"
