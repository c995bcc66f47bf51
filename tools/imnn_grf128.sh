#!/usr/bin/env bash
# The IMNN on the 128×128 Gaussian random field (examples/imnn_grf128.toml): trains, then
# prints det F / det F_analytic on the validation set and on the 10,000 held-out simulations
# (results.json: det_fisher, test_det_fisher, det_fisher_analytic). Too long for the test
# suite; the 64×64 case is tests/imnn/imnn_field_test.cpp.
#   tools/imnn_grf128.sh [OUT_DIR]      (default runs/imnn_grf128)
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-runs/imnn_grf128}
start=$(date +%s)
build/bin/trusty imnn examples/imnn_grf128.toml --out "$out"
end=$(date +%s)
/usr/bin/python3 - "$out/results.json" "$((end - start))" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
a = r["det_fisher_analytic"]
print(f"det F_analytic = {a:.6g}")
print(f"validation: det F = {r['det_fisher']:.6g}, ratio {r['det_fisher'] / a:.4f}")
print(f"held out ({r['test_simulations']} simulations): det F = {r['test_det_fisher']:.6g}, ratio {r['test_det_fisher'] / a:.4f}")
print(f"wall time {sys.argv[2]} s (training {r['history']['seconds']:.0f} s)")
PY
