#!/usr/bin/env python3
"""The PyTorch peer for MLP training on trusty's cached data sets (same split, same network).

Usage: python3 bench/torch_mlp.py --data mnist --hidden 128 64 --epochs 5 --batch 64 --lr 1e-3
       [--optimizer adam|adamw] [--dropout 0.3] [--cosine] [--threads 1] [--interop 1] [--seed 0]
Prints JSON: test_accuracy, train_samples_per_second.
"""
import argparse, json, os, time
from pathlib import Path

import numpy as np
import torch

from bench_env import cache_dir


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--hidden", type=int, nargs="+", default=[128, 64])
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--optimizer", default="adam")
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--dropout", type=float, default=0.0)
    ap.add_argument("--cosine", action="store_true")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-steps", type=int, default=0, help="stop after this many steps (timing runs)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    z = {k: np.load(cache_dir() / a.data / "v3" / f"{k}.npy") for k in ("x_train", "y_train", "x_test", "y_test")}
    xtr = torch.tensor(z["x_train"].reshape(len(z["x_train"]), -1))
    ytr = torch.tensor(z["y_train"])
    xte = torch.tensor(z["x_test"].reshape(len(z["x_test"]), -1))
    yte = torch.tensor(z["y_test"])
    layers, w = [], xtr.shape[1]
    for h in a.hidden:
        layers += [torch.nn.Linear(w, h), torch.nn.ReLU()]
        if a.dropout > 0:
            layers.append(torch.nn.Dropout(a.dropout))
        w = h
    layers.append(torch.nn.Linear(w, 10))
    net = torch.nn.Sequential(*layers)
    Opt = torch.optim.AdamW if a.optimizer == "adamw" else torch.optim.Adam
    opt = Opt(net.parameters(), lr=a.lr, weight_decay=a.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, a.epochs) if a.cosine else None
    lossf = torch.nn.CrossEntropyLoss()
    n, seen, t_train, steps = len(xtr), 0, 0.0, 0
    for epoch in range(a.epochs):
        net.train()
        perm = torch.randperm(n)
        t0 = time.perf_counter()
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            opt.zero_grad()
            loss = lossf(net(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            seen += len(idx)
            steps += 1
            if a.max_steps and steps >= a.max_steps:
                break
        t_train += time.perf_counter() - t0
        if sched:
            sched.step()
        if a.max_steps and steps >= a.max_steps:
            break
    net.eval()
    with torch.no_grad():
        acc = (net(xte).argmax(1) == yte).float().mean().item()
    print(json.dumps({"test_accuracy": acc, "train_samples_per_second": seen / t_train, "epochs": a.epochs}))


if __name__ == "__main__":
    main()
