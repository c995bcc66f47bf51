#!/usr/bin/env python3
"""Generates tests/optim/golden/optimizers.json: PyTorch optimiser trajectories on a small MLP.

A 3-5-2 tanh MLP, MSE loss on 8 fixed points, float64, identical initial weights; 20 steps
of each optimiser. Parameters are stored in trusty's flat layout (per Dense layer: weight
[in, out] row-major, then bias [out]) so the C++ test compares vectors directly.
Run with Debian's interpreter: /usr/bin/python3 tools/gen_optim_golden.py
"""
import json
from pathlib import Path

import torch

torch.manual_seed(1234)
torch.set_default_dtype(torch.float64)
X = torch.randn(8, 3)
Y = torch.randn(8, 2)
base = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))


def flat(model):
    parts = []
    for layer in (model[0], model[2]):
        parts += layer.weight.detach().t().reshape(-1).tolist()  # [out,in] -> [in,out]
        parts += layer.bias.detach().reshape(-1).tolist()
    return parts


CONFIGS = [
    ("sgd", "SGD", dict(lr=0.1)),
    ("momentum", "SGD", dict(lr=0.05, momentum=0.9, weight_decay=0.01)),
    ("nesterov", "SGD", dict(lr=0.05, momentum=0.9, nesterov=True)),
    ("adagrad", "Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.001)),
    ("rmsprop", "RMSprop", dict(lr=0.01)),
    ("rmsprop_centered", "RMSprop", dict(lr=0.01, centered=True, momentum=0.5, weight_decay=0.01)),
    ("adam", "Adam", dict(lr=0.01)),
    ("adam_amsgrad", "Adam", dict(lr=0.01, amsgrad=True, weight_decay=0.01)),
    ("adamw", "AdamW", dict(lr=0.01, weight_decay=0.1)),
    ("lbfgs", "LBFGS", dict(lr=0.5, max_iter=2, history_size=5)),
    ("lbfgs_wolfe", "LBFGS", dict(lr=1, max_iter=2, history_size=5, line_search_fn="strong_wolfe")),
]


def run(cls, opts):
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.Tanh(), torch.nn.Linear(5, 2))
    model.load_state_dict(base.state_dict())
    opt = getattr(torch.optim, cls)(model.parameters(), **opts)
    traj, losses = [], []

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(X), Y)
        loss.backward()
        return loss

    for _ in range(20):
        loss = opt.step(closure) if cls == "LBFGS" else None
        if cls != "LBFGS":
            loss = closure()
            opt.step()
        losses.append(float(loss))
        traj.append(flat(model))
    return traj, losses


out = {"x": X.reshape(-1).tolist(), "y": Y.reshape(-1).tolist(), "widths": [3, 5, 2], "activation": "tanh",
       "theta0": flat(base), "torch_version": torch.__version__, "runs": []}
for name, cls, opts in CONFIGS:
    traj, losses = run(cls, opts)
    out["runs"].append({"name": name, "torch_class": cls, "options": opts, "trajectory": traj, "losses": losses})
path = Path(__file__).resolve().parent.parent / "tests" / "optim" / "golden" / "optimizers.json"
path.write_text(json.dumps(out, indent=0))
print(f"wrote {path}: {len(CONFIGS)} optimisers x 20 steps")
for r in out["runs"]:
    print(f"  {r['name']:18s} loss {r['losses'][0]:.4f} -> {r['losses'][-1]:.4f}")
