#!/usr/bin/env python3
"""Issue-2 benchmark: trusty beside PyTorch in one run, median of several repeats.

(a) value and gradient of the log-posterior of a 1-20-20-1 tanh network on 100 points
    (Gaussian likelihood sigma = 0.1, N(0,1) prior on all 481 weights), float64, 1 thread;
(b) forward + backward of 784-512-256-10 on a batch of 128, float32: trusty's achieved
    GEMM GFLOP/s against OpenBLAS sgemm on the same shapes, 1 and 2 threads.

Usage: python3 bench/bench_autodiff.py [--repeats 5] [--seconds 1.0] [--slices 4] [--build build]
In (a) each repeat alternates PyTorch and trusty in --slices short runs (seconds/slices each)
and compares their mean rates; in (b) trusty and sgemm alternate inside autodiff_bench.
Prints a table and writes bench/results/autodiff.json.
"""
import argparse, json, os, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def torch_logpost_rate(seconds):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(0)
    N, H = 100, 20
    x = torch.randn(N, 1, dtype=torch.float64)
    y = torch.randn(N, 1, dtype=torch.float64)
    theta = (0.3 * torch.randn(481, dtype=torch.float64)).requires_grad_(True)
    inv_var = 1.0 / 0.1 ** 2

    def logpost(th):
        o = 0
        def take(n, shape):
            nonlocal o
            v = th[o:o + n].view(*shape)
            o += n
            return v
        w1, b1 = take(H, (1, H)), take(H, (H,))
        w2, b2 = take(H * H, (H, H)), take(H, (H,))
        w3, b3 = take(H, (H, 1)), take(1, (1,))
        h = torch.tanh(x @ w1 + b1)
        h = torch.tanh(h @ w2 + b2)
        f = h @ w3 + b3
        return -0.5 * inv_var * ((f - y) ** 2).sum() - 0.5 * (th * th).sum()

    def step():
        lp = logpost(theta)
        (g,) = torch.autograd.grad(lp, theta)
        return g

    for _ in range(20):
        step()
    calls, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for _ in range(50):
            step()
        calls += 50
    return calls / (time.perf_counter() - t0)


def trusty_run(build, threads, seconds, which):
    exe = ROOT / build / "bench" / "autodiff_bench"
    out = subprocess.run([str(exe), str(threads), str(seconds), which], check=True, capture_output=True, text=True)
    return json.loads(out.stdout)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--slices", type=int, default=4, help="(a): alternations of PyTorch and trusty per repeat")
    ap.add_argument("--build", default="build")
    a = ap.parse_args()

    rows = {"torch_logpost": [], "trusty_logpost": [], "ratio_logpost": []}
    for t in (1, 2):
        rows[f"mlp_vs_sgemm_{t}t"] = []
    for r in range(a.repeats):
        # The two sides alternate in short slices, so that both see the same machine: the
        # clock and the load of this shared host change within seconds (rates move by 1.5x).
        tp_s, tr_s = [], []
        for _ in range(a.slices):
            tp_s.append(torch_logpost_rate(a.seconds / a.slices))
            tr_s.append(trusty_run(a.build, 1, a.seconds / a.slices, "logpost")["logpost_per_s"])
        tp, tr = statistics.fmean(tp_s), statistics.fmean(tr_s)
        rows["torch_logpost"].append(tp)
        rows["trusty_logpost"].append(tr)
        rows["ratio_logpost"].append(tr / tp)
        for t in (1, 2):
            m = trusty_run(a.build, t, a.seconds, "mlp")
            rows[f"mlp_vs_sgemm_{t}t"].append(m["mlp_gflops"] / m["sgemm_gflops"])
        print(f"repeat {r + 1}/{a.repeats}: torch {tp:,.0f}/s trusty {tr:,.0f}/s ratio {tr / tp:.1f}x; "
              f"mlp/sgemm 1t {rows['mlp_vs_sgemm_1t'][-1]:.2f} 2t {rows['mlp_vs_sgemm_2t'][-1]:.2f}", flush=True)
    med = {k: statistics.median(v) for k, v in rows.items()}
    print("\nmedian of", a.repeats)
    print(f"  (a) BNN log-posterior value+grad, float64, 1 thread: trusty {med['trusty_logpost']:,.0f}/s, "
          f"PyTorch {med['torch_logpost']:,.0f}/s, ratio {med['ratio_logpost']:.1f}x (target >= 25x)")
    print(f"  (b) 784-512-256-10 fwd+bwd batch 128 float32, GFLOP/s as a fraction of OpenBLAS sgemm: "
          f"1 thread {med['mlp_vs_sgemm_1t']:.2f}, 2 threads {med['mlp_vs_sgemm_2t']:.2f} (target >= 0.80)")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "autodiff.json").write_text(json.dumps({"median": med, "runs": rows}, indent=1))


if __name__ == "__main__":
    sys.exit(main())
