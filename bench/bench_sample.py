#!/usr/bin/env python3
"""Sampler benchmark ("Samplers you can trust"): trusty's NUTS beside rstan's NUTS and a
PyTorch HMC loop, in one run, median of several repeats.

Target: the 1-20-20-1 tanh network on 100 points (x uniform on [-1, 1], y = sin(3x) + 0.1 eps,
fixed seed), Gaussian likelihood sigma = 0.1, N(0, 1) priors on every weight and bias
(481 parameters), float64, one thread, one chain of 500 warmup + 2,000 draws.

  rstan    bench/bnn.stan through bench/stan_bnn.R (Rscript): rstan's defaults (diag_e metric,
           adapt_delta 0.8, max_treedepth 10), compiled once with Debian's R flags (-O2) and
           Boost from /usr/include (see stan_bnn.R); compile time reported apart.
  PyTorch  bench/torch_hmc.py: static HMC around autograd, a few thousand gradients, warmed up.
  trusty   build/bin/trusty sample CONFIG.toml --out DIR (kind = "bnn", algorithm = "nuts").

Measured per repeat (each repeat runs trusty, PyTorch, rstan one after the other; seeds 1, 2, ...):
  gradient evaluations per second inside the sampler, warmup + sampling, wall clock:
      rstan: sum of n_leapfrog__ over all iterations (get_sampler_params, warmup included) /
      wall seconds of the sampling() call; PyTorch: gradients / wall seconds of the sampler
      loop; trusty: gradient_evaluations / warmup + sampling seconds (the chain CSV's
      "Elapsed Time", steady_clock; else results.json's wall_seconds).
      Also per CPU second: rstan 2.21's get_elapsed_time is CPU time (Stan 2.21 times with
      clock()), so on a loaded host it reads lower than the wall clock; PyTorch's loop is
      timed with process_time too; for trusty the CPU time of its whole process is taken
      (start and output included). The wall-clock figures are the result; the CPU-second
      ratios are printed beside them, in brackets, as a check on host load.
  ESS per second of f(0.5), the network output at x = 0.5 (NUTS sides): posterior::ess_bulk
      of the post-warmup draws / the same seconds; rstan's and trusty's draws go through the
      same R call, so both use one estimator.
And over all repeats (each repeat one chain): the posterior predictive mean and sd of f(0.5)
of trusty and rstan, agreeing when |difference| <= 4 sqrt(mcse_a^2 + mcse_b^2) (mcse_mean,
mcse_sd from posterior).

Targets: trusty's gradient evaluations per second >= 25x PyTorch's and rstan's; trusty's
ESS/s of f(0.5) >= 25x rstan's.

Environment, for every side and in this command alone: OPENBLAS_CORETYPE and
OPENBLAS_L2_SIZE unset; OMP/OPENBLAS/MKL_NUM_THREADS=1; glibc's MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ raised (memory is not handed back to the kernel between calls).

Usage: /usr/bin/python3 bench/bench_sample.py [--repeats 3] [--only stan,torch,trusty]
           [--quick] [--build build] [--warmup 500] [--samples 2000] [--keep DIR] [--json PATH]
--quick: 50 warmup + 50 draws and a short PyTorch loop, to check that everything runs; its
figures mean nothing and bench/results/sample.json is not written (unless --json).
The compiled Stan model is cached in $TRUSTY_CACHE or ~/.cache/trusty (bench_sample/), keyed
by the Stan program and rstan's version; --recompile rebuilds it.
"""
import argparse, csv, hashlib, json, math, os, resource, shutil, statistics, subprocess, sys, tempfile, time
from pathlib import Path

import numpy as np

from bench_env import cache_dir, peer_env

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
PY = "/usr/bin/python3"
TARGET = 25.0
# The issue's last measurement of the peers on this machine, for reference only.
ISSUE_REFERENCE = {"torch_grad_per_s": 5700.0, "stan_grad_per_s": 3600.0, "stan_ess_per_s": 3.3}
SIDES = ("stan", "torch", "trusty")
NAMES = {"stan": "rstan NUTS", "torch": "PyTorch HMC", "trusty": "trusty NUTS"}


# ---------------------------------------------------------------------------------------------
# Setup


def write_data(d, seed, n, hidden, noise, prior_scale, x_pred):
    """x (n, 1) uniform on [-1, 1], y = sin(3x) + noise * eps: .npy for trusty and PyTorch,
    the same numbers as CSV (17 significant digits, exact round trip) for R."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, (n, 1))
    y = np.sin(3.0 * x) + noise * rng.standard_normal((n, 1))
    xp = np.asarray(x_pred, dtype=np.float64).reshape(-1, 1)
    np.save(d / "x.npy", x)
    np.save(d / "y.npy", y)
    for name, a in (("x", x), ("y", y), ("x_pred", xp)):
        np.savetxt(d / f"{name}.csv", a, fmt="%.17g", delimiter=",")
    settings = {"hidden": list(hidden), "noise": noise, "prior_scale": prior_scale}
    (d / "settings.json").write_text(json.dumps(settings))
    assert len(set(hidden)) == 1 and len(hidden) == 2, "bnn.stan is a 1-H-H-1 network"
    (d / "settings.csv").write_text(f"hidden,noise,prior_scale\n{hidden[0]},{noise!r},{prior_scale!r}\n")
    return x, y


def run(cmd, env, what, cwd=None):
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cwd)
    if p.returncode != 0:
        sys.exit(f"{what} failed (exit {p.returncode}): {' '.join(map(str, cmd))}\n"
                 f"--- stdout ---\n{p.stdout[-3000:]}\n--- stderr ---\n{p.stderr[-3000:]}")
    return p.stdout


def read_rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


# ---------------------------------------------------------------------------------------------
# rstan


def stan_model(env, recompile):
    """The compiled model, cached by the hash of bnn.stan and rstan's version."""
    if not shutil.which("Rscript"):
        sys.exit("Rscript not found: install r-base and r-cran-rstan (and r-cran-posterior)")
    ver = run(["Rscript", "-e", "cat(as.character(packageVersion('rstan')))"], env, "rstan version check")
    key = hashlib.sha256((BENCH / "bnn.stan").read_bytes() + ver.encode()).hexdigest()[:16]
    c = cache_dir() / "bench_sample"
    c.mkdir(parents=True, exist_ok=True)
    rds, meta = c / f"bnn-{key}.rds", c / f"bnn-{key}.json"
    cached = not (recompile or not (rds.exists() and meta.exists()))
    if not cached:
        print(f"compiling bench/bnn.stan with rstan {ver} (Debian's -O2; a minute or two) ...", flush=True)
        with tempfile.TemporaryDirectory() as t:
            cenv = dict(env, R_MAKEVARS_USER=str(Path(t) / "Makevars.empty"), TMPDIR=t)
            (Path(t) / "Makevars.empty").write_text("")
            out = run(["Rscript", str(BENCH / "stan_bnn.R"), "compile", str(BENCH / "bnn.stan"), str(rds)],
                      cenv, "rstan compile")
        secs = float(out.split("compile_seconds")[-1].split()[0])
        meta.write_text(json.dumps({"compile_seconds": secs, "rstan": ver, "compiled": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}))
    m = json.loads(meta.read_text())
    m["rds"] = str(rds)
    m["cached"] = cached
    return m


def run_stan(model, data, out, warmup, samples, seed, env):
    out.mkdir(parents=True, exist_ok=True)
    run(["Rscript", str(BENCH / "stan_bnn.R"), "sample", model["rds"], str(data), str(out),
         str(warmup), str(samples), str(seed)], env, "rstan sampling")
    sp = read_rows(out / "stan_sampler.csv")
    t = read_rows(out / "stan_time.csv")[0]
    cpu, secs = float(t["warmup"]) + float(t["sample"]), float(t["wall"])
    grads = sum(int(float(r["n_leapfrog__"])) for r in sp)
    post = sp[warmup:]
    f = np.loadtxt(out / "stan_f.csv", delimiter=",", ndmin=2)  # draws x points
    return {
        "gradient_evaluations": grads, "seconds": secs, "cpu_seconds": cpu,
        "sampling_call_cpu_seconds": float(t["call_cpu"]),
        "cpu_seconds_warmup": float(t["warmup"]), "cpu_seconds_sampling": float(t["sample"]),
        "grad_per_s": grads / secs, "grad_per_cpu_s": grads / cpu,
        "mean_treedepth": statistics.fmean(float(r["treedepth__"]) for r in post),
        "max_treedepth_hits": sum(float(r["treedepth__"]) >= 10 for r in post),
        "divergences": sum(float(r["divergent__"]) > 0 for r in post),
        "step_size": float(post[-1]["stepsize__"]),
        "f": f[:, 0],
    }


def check_target(model, data, env, work, points=3):
    """The same log posterior on both peers: PyTorch's (torch_hmc.py) against Stan's
    log_prob and grad_log_prob (bnn.stan) at random points; returns the largest relative
    differences of the value and the gradient."""
    import torch
    sys.path.insert(0, str(BENCH))
    from torch_hmc import make_logpost
    s = json.loads((data / "settings.json").read_text())
    x = torch.from_numpy(np.load(data / "x.npy"))
    y = torch.from_numpy(np.load(data / "y.npy"))
    logpost, P = make_logpost(x, y, s["hidden"], s["noise"], s["prior_scale"])
    w = [1] + s["hidden"] + [1]
    shapes = [sh for a_, b_ in zip(w[:-1], w[1:]) for sh in ((a_, b_), (b_,))]
    rng = np.random.default_rng(7)
    th = rng.uniform(-2, 2, (points, P))

    def to_stan(v):  # torch's row-major blocks -> Stan's column-major matrices
        out, o = [], 0
        for sh in shapes:
            n = math.prod(sh)
            out.append(v[o:o + n].reshape(sh).flatten(order="F"))
            o += n
        return np.concatenate(out)

    lp_t, g_t = [], []
    for v in th:
        t = torch.tensor(v, requires_grad=True)
        lp = logpost(t)
        (g,) = torch.autograd.grad(lp, t)
        lp_t.append(lp.item())
        g_t.append(to_stan(g.numpy()))
    np.savetxt(work / "theta.csv", np.array([to_stan(v) for v in th]), fmt="%.17g", delimiter=",")
    run(["Rscript", str(BENCH / "stan_bnn.R"), "logprob", model["rds"], str(data), str(work / "theta.csv"),
         str(work / "logprob.csv")], env, "Stan log_prob")
    st = np.loadtxt(work / "logprob.csv", delimiter=",", ndmin=2)
    dv = max(abs(a_ - b_) / abs(b_) for a_, b_ in zip(lp_t, st[:, 0]))
    dg = max(np.max(np.abs(g - r)) / np.max(np.abs(r)) for g, r in zip(g_t, st[:, 1:]))
    return dv, dg


# ---------------------------------------------------------------------------------------------
# PyTorch


def run_torch(data, a, seed, env):
    cmd = [PY, str(BENCH / "torch_hmc.py"), str(data), "--seed", str(seed), "--leapfrog", str(a.torch_leapfrog),
           "--warmup", str(a.torch_warmup), "--iterations", str(a.torch_iterations)]
    r = json.loads(run(cmd, env, "PyTorch HMC").strip().splitlines()[-1])
    return {"gradient_evaluations": r["gradient_evaluations"], "seconds": r["seconds"],
            "cpu_seconds": r["cpu_seconds"], "grad_per_s": r["gradient_evaluations_per_second"],
            "grad_per_cpu_s": r["gradient_evaluations"] / r["cpu_seconds"], "step_size": r["step_size"],
            "accept_rate": r["accept_rate"], "bare_grad_per_s": r["bare_gradient_evaluations_per_second"]}


# ---------------------------------------------------------------------------------------------
# trusty


def trusty_exe(build):
    exe = ROOT / build / "bin" / "trusty"
    if not exe.exists():
        sys.exit(f"trusty side: {exe} not found. Build it (tools/build.sh), or run the peers alone "
                 f"with --only stan,torch.")
    return exe


def trusty_config(cfg, data, hidden, noise, prior_scale, x_pred, warmup, samples, seed):
    rel = lambda p: os.path.relpath(p, cfg.parent)
    cfg.write_text(f"""# bench/bench_sample.py: trusty's side (the Stan program is bench/bnn.stan)
dtype = "float64"
[target]
kind = "bnn"
[data]
x = "{rel(data / 'x.npy')}"
y = "{rel(data / 'y.npy')}"
task = "regression"
[model]
hidden = {json.dumps(list(hidden))}
activation = "tanh"
[bayes]
likelihood = "gaussian"
noise = {noise!r}
prior_scale = {prior_scale!r}
[predictive]
x = {json.dumps(list(x_pred))}
[map]
enabled = false            # no MAP or variational fit after sampling: not benchmarked, and
[vi]                       # the process's CPU seconds should be the sampler's
enabled = false
[sampler]
algorithm = "nuts"
chains = 1
warmup = {warmup}
samples = {samples}
seed = {seed}
threads = 1
""")


def read_stan_csv(path):
    """Comments (key = value pairs and the elapsed times) and rows of a Stan CSV file."""
    comments, rows, header = [], [], None
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if line.startswith("#"):
                comments.append(line[1:].strip())
            elif line.strip():
                cells = line.split(",")
                if header is None:
                    header = cells
                else:
                    rows.append(dict(zip(header, map(float, cells))))
    elapsed = {}
    for c in comments:
        for kind in ("Warm-up", "Sampling"):
            if c.endswith(f"seconds ({kind})"):
                elapsed[kind] = float(c.split(":")[-1].split()[0])
    grads = None
    for c in comments:
        if c.replace(" ", "").startswith("gradient_evaluations="):
            grads = int(c.split("=")[1])
    return {"rows": rows, "elapsed": elapsed, "gradient_evaluations": grads}


def run_trusty(exe, data, out, a, seed, env):
    out.mkdir(parents=True, exist_ok=True)
    cfg = out / "config.toml"
    trusty_config(cfg, data, a.hidden, a.noise, a.prior_scale, a.x_pred, a.warmup, a.samples, seed)
    res_dir = out / "run"
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run([str(exe), "sample", str(cfg), "--out", str(res_dir)], env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"trusty side: `{exe} sample {cfg} --out {res_dir}` failed (exit {p.returncode}). "
                 f"Does this build's `trusty sample` know [target] kind = \"bnn\"? The peers alone: --only stan,torch.\n"
                 f"--- stdout ---\n{p.stdout[-3000:]}\n--- stderr ---\n{p.stderr[-3000:]}")
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds of the whole process (start, data, output included): an upper bound.
    cpu = (ru1.ru_utime + ru1.ru_stime) - (ru0.ru_utime + ru0.ru_stime)
    res = json.loads((res_dir / "results.json").read_text())
    chain = read_stan_csv(res_dir / "chain_1.csv")
    # Seconds inside the sampler: the chain's Elapsed Time (warmup + sampling, as Stan's
    # get_elapsed_time), else results.json's wall_seconds (which may include I/O).
    el = chain["elapsed"]
    if "Warm-up" in el and "Sampling" in el:
        secs, secs_from = el["Warm-up"] + el["Sampling"], "chain_1.csv Elapsed Time"
    else:
        secs, secs_from = float(res["wall_seconds"]), "results.json wall_seconds"
    grads = res.get("gradient_evaluations", chain["gradient_evaluations"])
    if grads is None:
        sys.exit("trusty side: no gradient_evaluations in results.json nor chain_1.csv")
    z = np.load(res_dir / "predictive.npz")
    draws_f = z["draws_f"]  # (chains, samples, points, outputs)
    if draws_f.ndim != 4 or draws_f.shape[0] != 1 or draws_f.shape[1] != a.samples:
        sys.exit(f"trusty side: predictive.npz draws_f has shape {draws_f.shape}, "
                 f"expected (1, {a.samples}, {len(a.x_pred)}, 1)")
    post = chain["rows"][-a.samples:]
    return {
        "gradient_evaluations": int(grads), "seconds": secs, "seconds_from": secs_from,
        "grad_per_s": int(grads) / secs, "cpu_seconds": cpu, "grad_per_cpu_s": int(grads) / cpu,
        "reported_grad_per_s": res.get("gradient_evaluations_per_second"),
        "wall_seconds": res.get("wall_seconds"),
        "mean_treedepth": statistics.fmean(r["treedepth__"] for r in post) if post else None,
        "max_treedepth_hits": sum(r["treedepth__"] >= 10 for r in post),
        "divergences": sum(r["divergent__"] > 0 for r in post),
        "step_size": post[-1]["stepsize__"] if post else None,
        "npz_mean": float(np.ravel(z["mean"])[0]), "npz_sd": float(np.ravel(z["sd"])[0]),
        "f": draws_f[0, :, 0, 0].astype(np.float64),
    }


# ---------------------------------------------------------------------------------------------
# Diagnostics: one Rscript call, posterior's estimators for every draw set


def diagnose(sets, work, env):
    """sets: name -> array (iterations x chains). Returns name -> dict of posterior's numbers."""
    if not sets:
        return {}
    args = []
    for name, d in sets.items():
        p = work / f"diag_{name}.csv"
        np.savetxt(p, np.asarray(d).reshape(len(d), -1), fmt="%.17g", delimiter=",")
        args.append(f"{name}={p}")
    out = work / "diag.csv"
    run(["Rscript", str(BENCH / "stan_bnn.R"), "diag", str(out)] + args, env, "posterior diagnostics")
    res = {}
    for r in read_rows(out):
        res[r["name"]] = {k: (float(v) if k != "name" else v) for k, v in r.items()}
    return res


# ---------------------------------------------------------------------------------------------


def fmt(v, spec):
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


LABELS = {"grad_per_s_vs_torch": "gradients/s, trusty / PyTorch",
          "grad_per_s_vs_stan": "gradients/s, trusty / rstan",
          "ess_per_s_vs_stan": "ESS/s of f(0.5), trusty / rstan"}


def print_table(a, sides, med, diag, ratios, agreement):
    note = " (--quick: checks the script, measures nothing)" if a.quick else ""
    print(f"\nmedian of {a.repeats} repeat(s), wall-clock seconds{note}")
    print(f"  {'side':12s} {'gradients/s':>12s} {'ESS/s f(0.5)':>13s} {'f(0.5) mean ± MCSE':>20s} "
          f"{'sd':>7s} {'ESS':>6s}   (mean, sd, ESS: all repeats pooled, one chain each)")
    for s in sides:
        e = diag.get(f"{s}_all")
        pred = f"{e['mean']:+.4f} ± {e['mcse_mean']:.4f}" if e else "—"
        print(f"  {NAMES[s]:12s} {med[s]['grad_per_s']:12,.0f} {fmt(med[s].get('ess_per_s'), '.3f'):>13s} "
              f"{pred:>20s} {fmt(e['sd'] if e else None, '7.4f'):>7s} {fmt(e['ess_bulk'] if e else None, '6.0f'):>6s}")
    if ratios:
        print("  ratios, median of the per-repeat ratios (CPU seconds instead of wall-clock in brackets):")
        for k, label in LABELS.items():
            if k in ratios:
                v, c = ratios[k]["median"], ratios[k.replace("_per_s", "_per_cpu_s")]["median"]
                ok = "met" if v >= TARGET else "NOT met"
                print(f"    {label:34s} {v:7.1f}x  [{c:.1f}x]  (target >= {TARGET:.0f}x: {ok})")
    else:
        print("  no ratios (trusty and a peer were not both run)." + (" For 25x these peers, trusty needs:"
              if "stan" in sides or "torch" in sides else ""))
        if "torch" in sides:
            print(f"    gradients/s >= {TARGET * med['torch']['grad_per_s']:,.0f} (25x PyTorch)")
        if "stan" in sides:
            print(f"    gradients/s >= {TARGET * med['stan']['grad_per_s']:,.0f} (25x rstan), "
                  f"ESS/s of f(0.5) >= {TARGET * med['stan']['ess_per_s']:,.2f} (25x rstan)")
    cpu = ", ".join(f"{NAMES[s]} {med[s]['grad_per_cpu_s']:,.0f}" for s in sides)
    print(f"  gradients per CPU second: {cpu}")
    r = ISSUE_REFERENCE
    print(f"  the issue's last measurement of the peers: PyTorch {r['torch_grad_per_s']:,.0f}/s, "
          f"rstan {r['stan_grad_per_s']:,.0f}/s and {r['stan_ess_per_s']} ESS/s")
    if agreement:
        print("  trusty vs rstan, posterior predictive f(0.5), all repeats pooled:")
        for q, v in agreement.items():
            print(f"    {q:4s}: trusty {v['trusty']:.4f}, rstan {v['rstan']:.4f}, difference {v['difference']:+.4f}"
                  f" = {v['in_mcse']:.2f} combined MCSE ({'agree' if v['agree'] else 'DISAGREE'}: limit 4)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", default="stan,torch,trusty", help="comma-separated sides: stan, torch, trusty")
    ap.add_argument("--quick", action="store_true", help="50 warmup + 50 draws; checks the script, measures nothing")
    ap.add_argument("--warmup", type=int, default=500)
    ap.add_argument("--samples", type=int, default=2000)
    ap.add_argument("--build", default="build")
    ap.add_argument("--keep", help="keep the run's files (data, configs, draws) in this directory")
    ap.add_argument("--json", help="write the results here (default: bench/results/sample.json, "
                    "not written for --quick)")
    ap.add_argument("--recompile", action="store_true", help="recompile the Stan model")
    ap.add_argument("--check-target", action="store_true",
                    help="only check that PyTorch's and Stan's log posteriors and gradients agree")
    ap.add_argument("--data-seed", type=int, default=20261201)
    ap.add_argument("--torch-leapfrog", type=int, default=16)
    ap.add_argument("--torch-warmup", type=int, default=50, help="PyTorch HMC warmup iterations")
    ap.add_argument("--torch-iterations", type=int, default=200, help="PyTorch HMC iterations after warmup")
    a = ap.parse_args()
    a.hidden, a.noise, a.prior_scale, a.x_pred = [20, 20], 0.1, 1.0, [0.5]
    if a.quick:
        a.warmup, a.samples, a.torch_warmup, a.torch_iterations = 50, 50, 10, 40
    asked = [s.strip() for s in a.only.split(",") if s.strip()]
    bad = [s for s in asked if s not in SIDES]
    # Fastest first: a trusty build without `sample` fails before rstan's minutes.
    sides = [s for s in ("trusty", "torch", "stan") if s in asked]
    if a.check_target:
        sides = ["stan"]
    if bad or not sides:
        sys.exit(f"--only: unknown side(s) {bad}; choose from {', '.join(SIDES)}")

    env = peer_env()
    exe = trusty_exe(a.build) if "trusty" in sides else None
    model = stan_model(env, a.recompile) if "stan" in sides else None
    if model:
        print(f"rstan model: compiled in {model['compile_seconds']:.1f} s (rstan {model['rstan']}, "
              f"{model['compiled']}; cache {model['rds']}), not counted", flush=True)

    work = Path(a.keep).resolve() if a.keep else Path(tempfile.mkdtemp(prefix="trusty-bench-sample-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        data = work / "data"
        write_data(data, a.data_seed, 100, a.hidden, a.noise, a.prior_scale, a.x_pred)
        if a.check_target:
            dv, dg = check_target(model, data, env, work)
            print(f"PyTorch vs Stan log posterior at 3 points uniform in [-2, 2]^481: largest relative "
                  f"difference {dv:.1e} in the value, {dg:.1e} in the gradient (max-norm)")
            return 0 if dv < 1e-10 and dg < 1e-10 else 1
        print(f"1-20-20-1 tanh BNN, 100 points, float64, 1 thread, {a.warmup} warmup + {a.samples} draws, "
              f"{a.repeats} repeat(s), sides: {', '.join(sides)}; files in {work}", flush=True)

        runs = {s: [] for s in sides}
        for r in range(a.repeats):
            seed = r + 1
            for s in sides:
                t0 = time.perf_counter()
                if s == "stan":
                    res = run_stan(model, data, work / f"stan_{seed}", a.warmup, a.samples, seed, env)
                elif s == "torch":
                    res = run_torch(data, a, seed, env)
                else:
                    res = run_trusty(exe, data, work / f"trusty_{seed}", a, seed, env)
                res["seed"] = seed
                runs[s].append(res)
                extra = f"; bare gradient {res['bare_grad_per_s']:,.0f}/s" if s == "torch" else ""
                if "mean_treedepth" in res:
                    extra = (f", tree depth {res['mean_treedepth']:.2f} ({res['max_treedepth_hits']} at 10), "
                             f"step {res['step_size']:.3g}, {res['divergences']} divergent")
                print(f"repeat {r + 1}/{a.repeats} {NAMES[s]:12s}: {res['grad_per_s']:12,.0f} gradients/s "
                      f"({res['gradient_evaluations']:,} in {res['seconds']:.2f} s{extra}; "
                      f"{time.perf_counter() - t0:.0f} s with process start)", flush=True)

        # ESS and predictive: one estimator (posterior, in R) for both NUTS sides.
        nuts = [s for s in ("stan", "trusty") if s in sides]
        sets = {}
        for s in nuts:
            for i, res in enumerate(runs[s]):
                sets[f"{s}_{i + 1}"] = res["f"][:, None]
            sets[f"{s}_all"] = np.stack([res["f"] for res in runs[s]], axis=1)  # iterations x chains
        diag = diagnose(sets, work, env) if sets else {}
        for s in nuts:
            for i, res in enumerate(runs[s]):
                d = diag[f"{s}_{i + 1}"]
                res["ess_bulk"] = d["ess_bulk"]
                res["ess_per_s"] = d["ess_bulk"] / res["seconds"]
                res["ess_per_cpu_s"] = d["ess_bulk"] / res["cpu_seconds"]
                res["f_mean"], res["f_sd"], res["f_mcse_mean"] = d["mean"], d["sd"], d["mcse_mean"]

        keys = ("grad_per_s", "grad_per_cpu_s", "ess_per_s", "ess_per_cpu_s")
        med = {s: {k: statistics.median(r[k] for r in runs[s]) for k in keys if k in runs[s][0]} for s in sides}
        ratios = {}
        if "trusty" in sides:
            for s, key in (("torch", "grad_per_s"), ("stan", "grad_per_s"), ("stan", "ess_per_s"),
                           ("torch", "grad_per_cpu_s"), ("stan", "grad_per_cpu_s"), ("stan", "ess_per_cpu_s")):
                if s in sides:
                    per = [t[key] / p[key] for t, p in zip(runs["trusty"], runs[s])]
                    ratios[f"{key}_vs_{s}"] = {"median": statistics.median(per), "repeats": per}

        agreement = None
        if "stan" in sides and "trusty" in sides:
            st, tr = diag["stan_all"], diag["trusty_all"]
            agreement = {}
            for q, m in (("mean", "mcse_mean"), ("sd", "mcse_sd")):
                diff = tr[q] - st[q]
                comb = math.hypot(tr[m], st[m])
                agreement[q] = {"trusty": tr[q], "rstan": st[q], "difference": diff, "combined_mcse": comb,
                                "in_mcse": abs(diff) / comb if comb > 0 else math.inf,
                                "agree": abs(diff) <= 4 * comb}

        print_table(a, sides, med, diag, ratios, agreement)

        result = {
            "setup": {"network": "1-20-20-1 tanh", "points": 100, "noise": a.noise, "prior_scale": a.prior_scale,
                      "x_pred": a.x_pred, "warmup": a.warmup, "samples": a.samples, "repeats": a.repeats,
                      "quick": a.quick, "data_seed": a.data_seed, "sides": sides,
                      "torch_hmc": {"leapfrog": a.torch_leapfrog, "warmup": a.torch_warmup,
                                    "iterations": a.torch_iterations},
                      "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())},
            "stan_model": {k: v for k, v in (model or {}).items() if k != "rds"},
            "median": med, "ratios": ratios, "targets": {"ratio": TARGET}, "agreement": agreement,
            "diagnostics": diag, "issue_reference": ISSUE_REFERENCE,
            "runs": {s: [{k: v for k, v in r.items() if k != "f"} for r in runs[s]] for s in sides},
        }
        path = Path(a.json) if a.json else (None if a.quick else BENCH / "results" / "sample.json")
        if path:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(result, indent=1))
            print(f"wrote {path}")
    finally:
        if not a.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
