#!/usr/bin/env bash
# The README's first command: install what is missing, build, run the flagship demo, and
# draw its report.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/build.sh
OUT="${1:-runs/demo}"
build/bin/trusty demo --out "$OUT"
for run in "$OUT"/mnist "$OUT"/quadratic "$OUT"/bnn_gap; do
  PYTHONPATH="$PWD/build/python" /usr/bin/python3 -m trusty.report "$run" > /dev/null
done
echo
echo "Look at: $OUT/mnist/report/index.html, $OUT/quadratic/report/index.html"
echo "         (figures: loss, accuracy, per-layer gradient norms, confusion matrix, predictions)"
echo "    and: $OUT/bnn_gap/report/index.html"
echo "         (posterior predictive of a Bayesian network beside MAP and VI; traces, rank plots, pairs)"
