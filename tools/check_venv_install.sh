#!/usr/bin/env bash
# The install route docs/python.md gives for Debian 12 (where `pip install` into the system
# interpreter is refused, PEP 668): a venv that sees Debian's numpy/matplotlib/pybind11
# (--system-site-packages), `pip install --no-build-isolation .` into it, and an import
# from outside the source tree. The venv lives in a temporary directory removed after.
# Uses ccache when present (the extension's CMake build is then mostly cache hits).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
tmp=$(mktemp -d -t trusty-venv.XXXXXX)
# The extension's CMake build goes to build-venv/ in the clone (ignored by git, removed after):
# beside build/, its compile lines name the sources by the same relative paths, so ccache
# serves it the objects tools/build.sh already made.
venv_build="$ROOT/build-venv"
trap 'rm -rf "$tmp" "$venv_build"' EXIT
start=$(date +%s)
/usr/bin/python3 -m venv --system-site-packages "$tmp/venv"
if command -v ccache >/dev/null 2>&1; then export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR="$ROOT"; fi
rm -rf "$venv_build"
export TRUSTY_SETUP_BUILD_DIR="$venv_build"
if ! (cd "$ROOT" && "$tmp/venv/bin/python" -m pip install --quiet --no-build-isolation . >"$tmp/pip.log" 2>&1); then
  echo "trusty: venv install FAILED; pip's output:" >&2
  cat "$tmp/pip.log" >&2
  exit 1
fi
cd "$tmp"
"$tmp/venv/bin/python" - <<'PY'
import numpy as np
import trusty
assert trusty.__file__.startswith(__import__("sys").prefix), trusty.__file__  # the venv's copy, not the build tree
net = trusty.MLP([2, 4, 2], seed=0)
tr = trusty.Trainer(net, epochs=2, batch_size=4)
tr.fit(np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32), np.array([0, 1, 1, 0]))
print("trusty: venv install ok:", trusty.__file__)
PY
echo "trusty: venv install check took $(( $(date +%s) - start )) s" >&2
