#!/usr/bin/env bash
# The README's second command: install what is missing, build, run every test
# (GoogleTest through CTest, then the Python tests with Debian's interpreter, then the
# venv install of docs/python.md, then a short fuzzing run of every reader).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
ctest --test-dir build --output-on-failure --timeout 900 -j "$(nproc)"
(cd python/tests && TRUSTY_BUILD="$PWD/../../build" /usr/bin/python3 -m pytest -q -p no:cacheprovider)
# The documented install route (a venv over Debian's packages); ~15 s with ccache warm.
tools/check_venv_install.sh
# A short libFuzzer run of every reader (Clang + ASan + UBSan; 6 s each by default).
if command -v clang++ >/dev/null 2>&1; then tools/fuzz.sh; else echo "trusty: clang++ missing: fuzzing skipped" >&2; fi
