#!/usr/bin/env bash
# Builds the libFuzzer targets (fuzz/*.cpp: the train, sample and imnn configs, CSV, .npy, .npz,
# .tgz, training, IMNN and MCMC checkpoints, models, catalogues, Stan CSV, IMNN simulation sets)
# with Clang + ASan + UBSan into build-fuzz/ and runs each for
# TRUSTY_FUZZ_SECONDS (default 6) over its seed corpus fuzz/corpus/<target>. New inputs
# found go to a scratch directory, not the repository. A crash, a sanitizer report or a
# reader throwing anything but a named error fails the script and leaves the input as
# build-fuzz/crash-<target>-*. Usage: tools/fuzz.sh [TARGET ...] (default: every target).
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_EACH=${TRUSTY_FUZZ_SECONDS:-6}
GEN=(); command -v ninja >/dev/null 2>&1 && GEN=(-G Ninja)
# ccache with paths relative to the clone, so a fresh clone elsewhere reuses the objects (no
# -march=native here: a cached object is right for any CPU). NOHASHDIR: with -g, ccache would
# otherwise hash the working directory and never hit across clones.
LAUNCHER=(); command -v ccache >/dev/null 2>&1 && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache) && export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f build-fuzz/CMakeCache.txt ]; then
  cmake -S . -B build-fuzz "${GEN[@]}" "${LAUNCHER[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_COMPILER=clang++ \
    -DTRUSTY_FUZZ=ON -DTRUSTY_NATIVE=OFF -DTRUSTY_BUILD_TESTS=OFF -DTRUSTY_BUILD_BENCH=OFF -DTRUSTY_BUILD_PYTHON=OFF >/dev/null
fi
targets=(npy npz csv tgz config checkpoint model catalogue stan_csv simset imnn_checkpoint sample_config chain_checkpoint imnn_config)
# Arguments name targets to run (default: all), e.g. tools/fuzz.sh chain_checkpoint simset.
if [ $# -gt 0 ]; then targets=("$@"); fi
scratch=$(mktemp -d -t trusty-fuzz.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
# Quiet when it builds; the compiler's errors when it does not.
if ! cmake --build build-fuzz --parallel "$(nproc)" --target "${targets[@]/#/fuzz_}" >"$scratch/build.log" 2>&1; then
  echo "trusty: building the fuzz targets (Clang) FAILED:" >&2
  grep -E "error" -A3 "$scratch/build.log" | head -60 >&2
  exit 1
fi
for t in "${targets[@]}"; do
  mkdir -p "$scratch/$t"
  if build-fuzz/fuzz/fuzz_$t -max_total_time="$SECONDS_EACH" -max_len=65536 -rss_limit_mb=2048 -malloc_limit_mb=1024 \
       -artifact_prefix="build-fuzz/crash-$t-" "$scratch/$t" "fuzz/corpus/$t" >"$scratch/$t.log" 2>&1; then
    echo "trusty: fuzz_$t: $(grep -oE 'Done [0-9]+ runs' "$scratch/$t.log" | tail -1 || echo ok), no findings" >&2
  else
    echo "trusty: fuzz_$t FAILED:" >&2
    tail -40 "$scratch/$t.log" >&2
    exit 1
  fi
done
