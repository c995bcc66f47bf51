#!/usr/bin/env python3
"""Issue-14 benchmark: the neural bias model's Poisson log-likelihood, value and gradient with
respect to its 17 parameters, on a 64³ grid with about 50,000 halos, float64: trusty beside
PyTorch in one run, each side with 1 and 2 threads; the ratio is of the two sides' best.
trusty evaluates the fused kernel of trusty/density/bias_likelihood.hpp; the composite of
tape ops it replaced is timed beside it (1 thread) for reference.

Usage: python3 bench/bench_bias.py [--seconds 2] [--repeats 3] [--build build]
The C++ side simulates the catalogue and writes it; PyTorch reads the same file and computes
the same function (their values are compared). Both sides run in the fair-peer environment of
bench/bench_env.py (BLAS variables unset, glibc's malloc thresholds raised; the script re-runs
itself with it), each repeat times trusty and PyTorch with 1 and 2 threads, and the ratio is
the median over repeats of trusty's best / PyTorch's best. Prints a table, writes
bench/results/bias.json.
"""
import argparse, json, math, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_env import peer_env  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
THETA = [0.05, 0.1, 0.2, 0.5, 0.0, 0.8, 6.9, 0.4, 0.0, 0.1, -6.4, 0.5, 5.9, 0.3, 1.5, -0.1, -7.2]  # default_true_theta


def torch_rate(cat, seconds, threads):
    import torch
    import torch.nn.functional as F
    torch.set_num_threads(threads)
    n = cat["field"].shape[0]
    field = torch.tensor(cat["field"], dtype=torch.float64).view(1, 1, n, n, n)
    side = float(cat["box_size"]) / n
    vol = side ** 3
    idx = np.minimum((cat["positions"] / side).astype(np.int64), n - 1)
    vox = torch.tensor((idx[:, 0] * n + idx[:, 1]) * n + idx[:, 2])
    u = torch.tensor(np.log(cat["masses"]), dtype=torch.float64)
    lth = math.log(float(cat["mass_threshold"]))
    # ℓ = 0 group of each kernel entry: 3 − squared distance (corner 0, edge 1, face 2, centre 3).
    grp = torch.tensor([3 - ((i // 9 - 1) ** 2 + ((i // 3) % 3 - 1) ** 2 + (i % 3 - 1) ** 2) for i in range(27)])
    off = torch.tensor([math.log(1e-3), math.log(2e12), math.log(1e3), math.log(1e-3), 0.0, math.log(1e3)], dtype=torch.float64)
    theta = torch.tensor(THETA, dtype=torch.float64, requires_grad=True)
    c = 0.5 * math.log(2 * math.pi)

    def lnl(th):
        k = th[:4][grp].view(1, 1, 3, 3, 3)
        psi = F.softplus(F.conv3d(F.pad(field, (1, 1, 1, 1, 1, 1), mode="circular"), k, th[4:5])).view(-1, 1)
        h = th[5:].view(2, 3, 2)                        # component, (alpha, mu, sigma), (w, b)
        pre = psi * h[:, :, 0].reshape(1, 6) + h[:, :, 1].reshape(1, 6) + off  # [V, 6]
        alpha = F.softplus(pre[:, [0, 3]])
        sigma = F.softplus(pre[:, [2, 5]])
        mu0 = pre[:, 1:2]
        mu = torch.cat([mu0, mu0 + F.relu(pre[:, 4:5])], 1)
        s2 = sigma * sigma
        lam = vol * (0.5 * alpha * torch.exp(0.5 * s2) * torch.erfc((lth - mu - s2) / (math.sqrt(2) * sigma))).sum()
        a, m, s = alpha[vox], mu[vox], sigma[vox]
        t = torch.log(a) - m - torch.log(s) - c - 0.5 * ((u[:, None] - m) / s) ** 2
        return torch.logsumexp(t, 1).sum() - lam

    def step():
        v = lnl(theta)
        (g,) = torch.autograd.grad(v, theta)
        return v, g

    v, g = step()
    for _ in range(2):
        step()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        step()
        calls += 1
    return calls / (time.perf_counter() - t0), float(v), float(g.norm())


def main():
    if os.environ.get("TRUSTY_BENCH_ENV") != "1":  # malloc settings act at process start: re-run
        env = peer_env()
        env["TRUSTY_BENCH_ENV"] = "1"
        os.execve(sys.executable, [sys.executable] + sys.argv, env)
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--build", default=str(ROOT / "build"))
    a = ap.parse_args()
    reps = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "catalogue.npz"
        for r in range(a.repeats):
            out = subprocess.run([str(Path(a.build) / "bench" / "bias_bench"), str(path), str(a.seconds)],
                                 capture_output=True, text=True, check=True).stdout
            ours = json.loads(out)
            cat = dict(np.load(path))
            rows = {}
            for t in (1, 2):
                rate, v, gn = torch_rate(cat, a.seconds, t)
                rows[t] = rate
                assert abs(v - ours["log_likelihood"]) < 1e-8 * abs(v), (v, ours["log_likelihood"])
                assert abs(gn - ours["gradient_norm"]) < 1e-6 * gn, (gn, ours["gradient_norm"])
            mine = {int(t): v for t, v in ours["evals_per_second"].items()}
            reps.append({"trusty": mine, "trusty_composite": ours["composite_evals_per_second"], "torch": rows,
                         "ratio": max(mine.values()) / max(rows.values())})
            print(f"repeat {r + 1}/{a.repeats}: trusty {mine[1]:.2f}/s (1 thread), {mine[2]:.2f} (2 threads), "
                  f"composite {ours['composite_evals_per_second']:.2f}; PyTorch "
                  f"{rows[1]:.2f} (1 thread), {rows[2]:.2f} (2 threads): {reps[-1]['ratio']:.2f}x", flush=True)
    med = lambda xs: statistics.median(xs)
    res = {"halos": ours["halos"], "voxels": ours["voxels"], "repeats": reps,
           "trusty_evals_per_second": {str(t): med([x["trusty"][t] for x in reps]) for t in (1, 2)},
           "trusty_composite_evals_per_second": med([x["trusty_composite"] for x in reps]),
           "torch_evals_per_second": {str(t): med([x["torch"][t] for x in reps]) for t in (1, 2)},
           "ratio_to_torch_best": med([x["ratio"] for x in reps]),
           "environment": "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset, MALLOC_MMAP_THRESHOLD_/MALLOC_TRIM_THRESHOLD_ raised"}
    print(f"{ours['halos']} halos on {ours['voxels']} voxels, value + gradient per second (float64), "
          f"medians of {a.repeats} repeats:")
    for k, v in res["trusty_evals_per_second"].items():
        print(f"  trusty ({k} thread{'s' if k != '1' else ''})   {v:8.2f}")
    print(f"  trusty composite    {res['trusty_composite_evals_per_second']:8.2f}  (tape ops, 1 thread)")
    for k, v in res["torch_evals_per_second"].items():
        print(f"  PyTorch ({k} thread{'s' if k != '1' else ''})  {v:8.2f}")
    print(f"  ratio to PyTorch's best (median of per-repeat ratios): {res['ratio_to_torch_best']:.2f} (target >= 2)")
    (ROOT / "bench" / "results").mkdir(exist_ok=True)
    (ROOT / "bench" / "results" / "bias.json").write_text(json.dumps(res, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
