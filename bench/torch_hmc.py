#!/usr/bin/env python3
"""PyTorch side of bench/bench_sample.py: gradient evaluations per second inside an HMC sampler.

The same log posterior as bench/bnn.stan and trusty's `kind = "bnn"` target (1-H-H-1 tanh
network, N(0, prior_scale) on every weight and bias, Gaussian likelihood with fixed sigma),
float64, one thread, autograd for the gradient. The sampler is static HMC (identity metric,
--leapfrog steps per iteration, step size tuned by Stan's dual averaging during warmup): the
simplest loop around the gradient, so that the rate is the peer's gradient at its best plus
the least sampler overhead. Everything from the first sampler iteration to the last is timed;
a few gradients are evaluated before, untimed, to warm up. Afterwards the same number of bare
gradients (no sampler) is timed, for reference: the difference is the sampler's overhead. Wall-clock seconds (seconds) and
CPU seconds of the process (cpu_seconds) are both reported.

Usage: torch_hmc.py DATA_DIR [--warmup 50] [--iterations 200] [--leapfrog 16] [--seed 1]
DATA_DIR holds x.npy (N, 1), y.npy (N, 1) and settings.json (hidden, noise, prior_scale).
Prints one JSON line.
"""
import argparse, json, math, time
from pathlib import Path

import numpy as np
import torch


def make_logpost(x, y, hidden, noise, prior_scale):
    widths = [x.shape[1]] + list(hidden) + [y.shape[1]]
    shapes = []
    for a, b in zip(widths[:-1], widths[1:]):
        shapes += [(a, b), (b,)]
    sizes = [math.prod(s) for s in shapes]
    inv_var = 1.0 / noise ** 2
    inv_prior = 1.0 / prior_scale ** 2

    def logpost(th):
        parts = torch.split(th, sizes)
        h = x
        for l in range(len(widths) - 1):
            w, b = parts[2 * l].view(shapes[2 * l]), parts[2 * l + 1]
            h = torch.addmm(b, h, w)
            if l < len(widths) - 2:
                h = torch.tanh(h)
        return -0.5 * inv_var * ((h - y) ** 2).sum() - 0.5 * inv_prior * (th * th).sum()

    return logpost, sum(sizes)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--iterations", type=int, default=200)
    ap.add_argument("--leapfrog", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    torch.manual_seed(a.seed)
    d = Path(a.data)
    s = json.loads((d / "settings.json").read_text())
    x = torch.from_numpy(np.load(d / "x.npy")).to(torch.float64)
    y = torch.from_numpy(np.load(d / "y.npy")).to(torch.float64)
    logpost, P = make_logpost(x, y, s["hidden"], s["noise"], s["prior_scale"])

    def value_and_grad(th):
        th = th.detach().requires_grad_(True)
        lp = logpost(th)
        (g,) = torch.autograd.grad(lp, th)
        return lp.item(), g

    theta = torch.rand(P, dtype=torch.float64) * 4 - 2  # Stan's default init, uniform(-2, 2)
    for _ in range(20):  # warm up the allocator and autograd, untimed
        value_and_grad(theta)

    # Dual averaging of the step size (Hoffman & Gelman 2014, Stan's constants), target 0.8.
    eps, mu, hbar, log_eps_bar = 0.01, math.log(10 * 0.01), 0.0, 0.0
    gamma, t0_, kappa, delta = 0.05, 10.0, 0.75, 0.8
    grads, accepted = 0, 0
    t0, c0 = time.perf_counter(), time.process_time()
    lp, g = value_and_grad(theta)
    grads += 1
    for it in range(a.warmup + a.iterations):
        with torch.no_grad():
            p = torch.randn(P, dtype=torch.float64)
            h0 = -lp + 0.5 * float(p.dot(p))
            th, pn = theta.clone(), p + 0.5 * eps * g
        ok = True
        for i in range(a.leapfrog):
            with torch.no_grad():
                th = th + eps * pn
            lpn, gn = value_and_grad(th)
            grads += 1
            if not math.isfinite(lpn):
                ok = False
                break
            with torch.no_grad():
                pn = pn + (eps if i + 1 < a.leapfrog else 0.5 * eps) * gn
        if ok:
            h1 = -lpn + 0.5 * float(pn.dot(pn))
            acc = min(1.0, math.exp(min(0.0, h0 - h1))) if math.isfinite(h1) else 0.0
        else:
            acc = 0.0
        if torch.rand(()).item() < acc:
            theta, lp, g = th.detach(), lpn, gn
            if it >= a.warmup:
                accepted += 1
        if it < a.warmup:
            m = it + 1
            hbar = (1 - 1 / (m + t0_)) * hbar + (delta - acc) / (m + t0_)
            log_eps = mu - math.sqrt(m) / gamma * hbar
            log_eps_bar = m ** -kappa * log_eps + (1 - m ** -kappa) * log_eps_bar
            eps = math.exp(log_eps)
            if it + 1 == a.warmup:
                eps = math.exp(log_eps_bar)
    secs, cpu = time.perf_counter() - t0, time.process_time() - c0
    # For reference: the bare gradient (no sampler around it), as many calls, same process.
    t1 = time.perf_counter()
    for _ in range(grads):
        value_and_grad(theta)
    bare = grads / (time.perf_counter() - t1)
    print(json.dumps({"gradient_evaluations": grads, "seconds": secs, "cpu_seconds": cpu,
                      "gradient_evaluations_per_second": grads / secs,
                      "bare_gradient_evaluations_per_second": bare, "step_size": eps,
                      "accept_rate": accepted / max(1, a.iterations), "parameters": P}))


if __name__ == "__main__":
    main()
