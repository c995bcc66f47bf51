#!/usr/bin/env python3
"""IMNN benchmark: wall time to reach 95 % of the analytic det F on the Gaussian mean-and-variance
problem, trusty (Python bindings, the C++ loop) beside the same algorithm in PyTorch
(bench/torch_imnn.py), in one run, median of repeats.

Problem (Charnock, Lavaux & Wandelt 2018, docs/imnn.md): 10 draws from N(mu, Sigma),
theta_fid = (0, 1), delta_theta = (0.1, 0.1) (seed-matched central differences), analytic
F = diag(10, 5), det F = 50, target 0.95 x 50 = 47.5.

Both sides: network 10-128-2 ELU (weights N(0, 2/fan_in), biases U(+-1/sqrt(fan_in))), float64,
loss -ln|F| + r(Lambda2) Lambda2 with lambda = 10, epsilon = 0.1, Adam lr 1e-2 with cosine decay
over max_iterations = 5000 steps, n_s = n_d = 1000 fresh simulations per step (5,000 network
rows: 1,000 fiducial + 4,000 seed-matched), simulated inside the timed loop. Every
validate_every = 25 steps (and at step 0) the det F of ONE fixed validation set of 10,000
simulations (+ 40,000 seed-matched), the same numbers for both sides (drawn here with numpy and
given to both), with the current weights; the clock stops at the first check with det F >= 47.5.
The weights that reached it are then evaluated (untimed) on a held-out set of 50,000 simulations
(+ 200,000 seed-matched), again the same numbers for both.

  trusty   trusty.IMNN(net, "gaussian_mean_variance", ...).fit(..., validation=(fid, der),
           callback=stop at the target): the built-in simulator, the C++ loop (fixed chunks
           of 64 simulations, the layout that gives the same bits under MPI). Seconds from
           the call of fit() to the callback of the step whose check reached the target.
  PyTorch  bench/torch_imnn.py: the same loop in eager PyTorch, one batch of 5,000 rows per step,
           torch.randn for the simulations. Seconds from the first step to the check.

Repeat r uses seed r for the training simulations and initial weights of both sides (their
random streams differ: trusty's Philox by (seed, index), torch's generator), so each repeat
is one draw of each side's time-to-target; the medians and the median ratio are reported.

Environment, for every side and in this command alone: OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset; OMP/OPENBLAS/MKL_NUM_THREADS=1 (and torch.set_num_threads(1),
trusty.set_threads(1)); glibc's MALLOC_MMAP_THRESHOLD_ and MALLOC_TRIM_THRESHOLD_ raised.

Usage: /usr/bin/python3 bench/bench_imnn.py [--repeats 3] [--build build] [--only trusty,torch]
           [--json PATH]
Writes bench/results/imnn.json (unless --only or --json says otherwise).
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

from bench_env import peer_env

ROOT = Path(__file__).resolve().parent.parent
PY = "/usr/bin/python3"
SETTINGS = {
    "widths": [10, 128, 2], "theta_fid": [0.0, 1.0], "delta_theta": [0.1, 0.1], "n_data": 10,
    "n_s": 1000, "n_d": 1000, "lambda": 10.0, "epsilon": 0.1, "lr": 1e-2, "schedule": "cosine",
    "max_iterations": 5000, "validate_every": 25, "n_validation": 10000, "n_held_out": 50000,
    "analytic_det_F": 50.0, "target": 0.95 * 50.0,
}
TARGET_RATIO = 3.0


def make_set(n, seed, s):
    """n fiducial simulations (n, 10) and their seed-matched copies (n, 2, 2, 10) (index 0 at
    theta - delta/2, 1 at theta + delta/2, per parameter): the layouts of docs/imnn.md."""
    z = np.random.default_rng(seed).standard_normal((n, s["n_data"]))
    th, dth = np.array(s["theta_fid"]), np.array(s["delta_theta"])
    fid = th[0] + np.sqrt(th[1]) * z
    der = np.empty((n, 2, 2, s["n_data"]))
    for side, sign in ((0, -0.5), (1, 0.5)):
        for a in range(2):
            t = th.copy()
            t[a] += sign * dth[a]
            der[:, side, a] = t[0] + np.sqrt(t[1]) * z
    return fid, der


def trusty_worker(settings_path, build):
    """The trusty side, in its own process (bench_env), like the PyTorch side."""
    s = json.load(open(settings_path))
    sys.path.insert(0, str(ROOT / build / "python"))
    import trusty
    trusty.set_threads(1)
    val = (np.load(s["val_fiducial"]), np.load(s["val_derivatives"]))
    net = trusty.MLP(s["widths"], activation="elu", dtype="float64", seed=1000 + s["seed"])
    imnn = trusty.IMNN(net, "gaussian_mean_variance", s["theta_fid"], s["delta_theta"], n_s=s["n_s"], n_d=s["n_d"],
                       n_data=s["n_data"], lambda_=s["lambda"], epsilon=s["epsilon"], seed=s["seed"])
    hit = {}

    def on_step(rec):
        if rec["val_det_F"] >= s["target"]:  # NaN on steps without a check: False
            hit.update(seconds=time.perf_counter() - t0, steps=rec["iteration"] + 1, val=rec["val_det_F"])
            return False
        return True

    t0 = time.perf_counter()
    imnn.fit(max_iterations=s["max_iterations"], min_iterations=s["max_iterations"], patience=s["max_iterations"],
             optimizer="adam", lr=s["lr"], schedule=s["schedule"], validation=val, validate_every=s["validate_every"],
             callback=on_step)
    total = time.perf_counter() - t0
    r = {"reached": bool(hit), "seconds": total}
    if hit:
        r.update(seconds_to_target=hit["seconds"], steps=hit["steps"], val_det_F=hit["val"])
        held = imnn.evaluate(fiducial=np.load(s["held_fiducial"]), derivatives=np.load(s["held_derivatives"]))
        r["held_out_det_F"] = held["det_fisher"]
    r["seconds_per_step"] = (hit["seconds"] if hit else total) / max(1, hit.get("steps", imnn.iteration))
    print(json.dumps(r))


def run_side(cmd, env):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n--- stdout ---\n{p.stdout[-3000:]}\n"
                 f"--- stderr ---\n{p.stderr[-3000:]}")
    return json.loads(p.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--build", default="build")
    ap.add_argument("--only", default="trusty,torch")
    ap.add_argument("--json", default=None)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--settings", default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker == "trusty":
        return trusty_worker(a.settings, a.build)
    sides = [x for x in a.only.split(",") if x]
    env = peer_env()
    with tempfile.TemporaryDirectory() as tmp:
        s = dict(SETTINGS)
        for name, n, seed in (("val", s["n_validation"], 777), ("held", s["n_held_out"], 888)):
            fid, der = make_set(n, seed, s)
            s[f"{name}_fiducial"], s[f"{name}_derivatives"] = f"{tmp}/{name}_fid.npy", f"{tmp}/{name}_der.npy"
            np.save(s[f"{name}_fiducial"], fid)
            np.save(s[f"{name}_derivatives"], der)
        runs = {k: [] for k in sides}
        for r in range(a.repeats):
            s["seed"] = r + 1
            path = f"{tmp}/settings_{r}.json"
            Path(path).write_text(json.dumps(s))
            for side in sides:
                cmd = ([PY, str(Path(__file__).resolve()), "--worker", "trusty", "--settings", path, "--build", a.build]
                       if side == "trusty" else [PY, str(ROOT / "bench" / "torch_imnn.py"), path])
                res = run_side(cmd, env)
                runs[side].append(res)
                if res["reached"]:
                    print(f"repeat {r + 1}: {side:6s} {res['seconds_to_target']:7.2f} s to det F >= {s['target']} "
                          f"({res['steps']} steps, {1e3 * res['seconds_per_step']:.2f} ms/step; validation {res['val_det_F']:.2f}, "
                          f"held out {res['held_out_det_F']:.2f})", flush=True)
                else:
                    print(f"repeat {r + 1}: {side:6s} did NOT reach {s['target']} in {s['max_iterations']} steps "
                          f"({res['seconds']:.1f} s)", flush=True)
    summary = {}
    for side, rs in runs.items():
        ok = [x for x in rs if x["reached"]]
        summary[side] = {
            "reached": f"{len(ok)}/{len(rs)}",
            "seconds_to_target": statistics.median(x["seconds_to_target"] for x in ok) if ok else None,
            "steps": statistics.median(x["steps"] for x in ok) if ok else None,
            "ms_per_step": 1e3 * statistics.median(x["seconds_per_step"] for x in rs),
            "held_out_det_F": statistics.median(x["held_out_det_F"] for x in ok) if ok else None,
        }
    if "trusty" in runs and "torch" in runs:
        ratios = [b["seconds_to_target"] / t["seconds_to_target"] for t, b in zip(runs["trusty"], runs["torch"])
                  if t["reached"] and b["reached"]]
        step_ratios = [b["seconds_per_step"] / t["seconds_per_step"] for t, b in zip(runs["trusty"], runs["torch"])]
        summary["ratio_time_to_target"] = statistics.median(ratios) if ratios else None
        summary["ratio_time_to_target_runs"] = ratios
        summary["ratio_of_medians"] = (summary["torch"]["seconds_to_target"] / summary["trusty"]["seconds_to_target"]
                                       if ratios else None)
        summary["ratio_per_step"] = statistics.median(step_ratios)
    print(f"\nmedian of {a.repeats}:")
    for side in sides:
        m = summary[side]
        print(f"  {side:6s} reached {m['reached']}, {m['seconds_to_target'] or float('nan'):.2f} s, "
              f"{m['steps'] or float('nan'):.0f} steps, {m['ms_per_step']:.2f} ms/step, held-out det F "
              f"{m['held_out_det_F'] or float('nan'):.2f}")
    if "ratio_time_to_target" in summary and summary["ratio_time_to_target"]:
        print(f"  PyTorch time / trusty time: median of per-repeat ratios {summary['ratio_time_to_target']:.2f}x, "
              f"ratio of medians {summary['ratio_of_medians']:.2f}x, per step {summary['ratio_per_step']:.2f}x "
              f"(target >= {TARGET_RATIO}x)")
    out = {"settings": {k: v for k, v in SETTINGS.items()}, "median": summary, "runs": runs,
           "load_average_at_end": os.getloadavg(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    path = Path(a.json) if a.json else (ROOT / "bench" / "results" / "imnn.json" if set(sides) == {"trusty", "torch"} else None)
    if path:
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(out, indent=1) + "\n")
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
