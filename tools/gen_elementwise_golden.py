#!/usr/bin/env python3
"""Generates tests/core/golden/elementwise_grads.json: derivatives of tanh, sigmoid and ELU
(alpha = 1 and 0.5) at arguments from -700 to 700, computed with mpmath at 60 significant
digits and rounded to double. The C++ test asks each element-wise op's backward for the same
derivative and requires it relatively accurate, including where the derivative is tiny
(tanh'(20) = 1.7e-17, ELU'(-40) = 4.2e-18): formulas like 1 - y^2 or y + alpha lose every
digit there. Run with Debian's interpreter: /usr/bin/python3 tools/gen_elementwise_golden.py
"""
import json
from pathlib import Path

import mpmath as mp

mp.mp.dps = 60
XS = sorted({s * v for v in [0, 1e-8, 0.001, 0.1, 0.5, 0.9, 1, 2, 3.5, 5, 8, 8.5, 10, 15, 20, 30, 40, 80, 200, 350, 700]
             for s in (1, -1)})


def tanh_d(x):
    return mp.sech(x) ** 2


def sigmoid_d(x):
    # s(1 - s) cancels even at 60 digits for x > 140; this form is exact.
    e = mp.exp(-abs(x))
    return e / (1 + e) ** 2


def elu_d(alpha):
    return lambda x: mp.mpf(1) if x > 0 else alpha * mp.exp(x)


FUNCS = {"tanh": tanh_d, "sigmoid": sigmoid_d, "elu_1": elu_d(mp.mpf(1)), "elu_0.5": elu_d(mp.mpf("0.5"))}

out = {"x": XS, "derivative": {name: [float(f(mp.mpf(x))) for x in XS] for name, f in FUNCS.items()}}
path = Path(__file__).resolve().parents[1] / "tests" / "core" / "golden" / "elementwise_grads.json"
path.write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote {path}: {len(XS)} arguments x {len(FUNCS)} functions")
