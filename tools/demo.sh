#!/usr/bin/env bash
# The README's first command: install what is missing, build, run the flagship demo.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
exec build/bin/trusty demo "$@"
