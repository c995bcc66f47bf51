#!/usr/bin/env bash
# Installs the Debian packages trusty needs, only those that are missing.
# Fast when nothing is missing (one dpkg query); uses sudo when not root. Prints one line
# per step; apt's own output goes to a log that is shown only when a step fails.
set -euo pipefail
PKGS=(
  build-essential cmake ninja-build pkg-config
  zlib1g-dev libopenblas-dev libeigen3-dev librandom123-dev libfftw3-dev
  libcli11-dev libtomlplusplus-dev nlohmann-json3-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  pybind11-dev python3-dev python3-numpy python3-matplotlib python3-pytest python3-pip
  python3-setuptools python3-wheel python3-venv python3-mpmath
  libopenmpi-dev openmpi-bin
  clang libclang-rt-14-dev ccache
  nodejs npm
)
# The peers (PyTorch; rstan, posterior and Boost's headers for bench/bench_sample.py) are
# only for golden tests and benchmarks: opt in with TRUSTY_PEERS=1.
if [ "${TRUSTY_PEERS:-0}" = 1 ]; then PKGS+=(python3-torch r-cran-rstan r-cran-posterior libboost-dev); fi

missing=()
for p in "${PKGS[@]}"; do
  st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$st" = "install ok installed" ] || missing+=("$p")
done
# npm may come from another source (e.g. a preinstalled Node.js); accept it.
if command -v npm >/dev/null 2>&1; then
  missing=("${missing[@]/#npm/}"); missing=("${missing[@]/#nodejs/}")
fi
pk=(); for p in "${missing[@]}"; do [ -n "$p" ] && pk+=("$p"); done
if [ ${#pk[@]} -eq 0 ]; then echo "trusty: install_deps: all ${#PKGS[@]} Debian packages present" >&2; exit 0; fi

SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
log=$(mktemp -t trusty-install-deps.XXXXXX.log)
step() {  # step "what" command...: one line, the log only on failure
  local what=$1; shift
  printf 'trusty: install_deps: %s ... ' "$what" >&2
  if "$@" >>"$log" 2>&1; then
    echo "ok" >&2
  else
    echo "FAILED (apt's output follows; log kept at $log)" >&2
    cat "$log" >&2
    exit 1
  fi
}
step "apt-get update" $SUDO apt-get update -qq
step "installing ${pk[*]}" env DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${pk[@]}"
rm -f "$log"
