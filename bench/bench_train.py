#!/usr/bin/env python3
"""Issue-3 benchmark: training throughput of trusty beside PyTorch, one run, median of repeats.

  mlp_small: 784-128-64-10, batch 64, Adam, float32, 1 thread            (target >= 1.8x)
  mlp_large: 784-512-256-10, batch 128, 2 cores: trusty with 2 OpenBLAS threads against
             PyTorch's best setting of (ATen threads, OpenBLAS threads)  (target >= 1.5x)
  xor_step:  2-16-1 on XOR, batch 4, one Adam step, 1 thread              (target >= 100x)
  cnn:       examples/mnist_cnn.toml's network, batch 64, AdamW, 2 cores, against PyTorch's
             best thread setting                                          (target >= 1.5x)
  conv3d:    forward + backward of a 3x3x3 convolution on a 64^3 periodic field, 1 channel,
             1 thread; PyTorch pads with F.pad(mode="circular")          (target >= 1.5x)

Usage: /usr/bin/python3 bench/bench_train.py [--repeats 5] [--seconds 2] [--build build]
Writes bench/results/train.json.
"""
import argparse, json, os, statistics, subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, env_extra):
    env = dict(os.environ, **env_extra)
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])["rate"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", nargs="*", help="cases to run (default: all)")
    a = ap.parse_args()
    exe = str(ROOT / a.build / "bench" / "train_bench")
    py = "/usr/bin/python3"
    peer = str(ROOT / "bench" / "torch_train.py")
    s = str(a.seconds)
    cases = {
        "mlp_small": ([exe, "mlp_small", "1", s], [[py, peer, "mlp_small", "1", s, ], {"OPENBLAS_NUM_THREADS": "1"}]),
        "mlp_large": ([exe, "mlp_large", "2", s], None),
        "xor_step": ([exe, "xor_step", "1", s], [[py, peer, "xor_step", "1", s], {"OPENBLAS_NUM_THREADS": "1"}]),
        "cnn": ([exe, "cnn", "2", s], None),
        "conv3d": ([exe, "conv3d", "1", s], [[py, peer, "conv3d", "1", s], {"OPENBLAS_NUM_THREADS": "1"}]),
    }
    if a.only:
        cases = {k: v for k, v in cases.items() if k in a.only}
    # PyTorch thread settings tried for mlp_large; the best one is the peer.
    large_settings = [("1", "1"), ("1", "2"), ("2", "1"), ("2", "2")]
    results = {k: {"trusty": [], "torch": [], "ratio": [], "torch_setting": []} for k in cases}
    for r in range(a.repeats):
        for name, (tcmd, peer_spec) in cases.items():
            tr = run(tcmd, {})
            if name in ("mlp_large", "cnn"):
                best, best_set = 0, None
                for aten, blas in large_settings:
                    v = run([py, peer, name, aten, s], {"OPENBLAS_NUM_THREADS": blas})
                    if v > best:
                        best, best_set = v, f"aten={aten},openblas={blas}"
                tp = best
                results[name]["torch_setting"].append(best_set)
            else:
                tp = run(peer_spec[0], peer_spec[1])
            results[name]["trusty"].append(tr)
            results[name]["torch"].append(tp)
            results[name]["ratio"].append(tr / tp)
            print(f"repeat {r + 1}: {name:9s} trusty {tr:12,.0f}/s  torch {tp:12,.0f}/s  ratio {tr / tp:6.2f}x", flush=True)
    print(f"\nmedian of {a.repeats}:")
    targets = {"mlp_small": 1.8, "mlp_large": 1.5, "xor_step": 100, "cnn": 1.5, "conv3d": 1.5}
    summary = {}
    for name, v in results.items():
        m = {k: statistics.median(v[k]) for k in ("trusty", "torch", "ratio")}
        summary[name] = m
        print(f"  {name:9s} trusty {m['trusty']:12,.0f}/s  torch {m['torch']:12,.0f}/s  ratio {m['ratio']:6.2f}x  (target >= {targets[name]}x)")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / "train.json").write_text(json.dumps({"median": summary, "runs": results}, indent=1))


if __name__ == "__main__":
    main()
