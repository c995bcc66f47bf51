#!/usr/bin/env python3
"""PyTorch side of bench/bench_imnn.py: the IMNN loop of trusty (src/imnn/imnn_trainer.cpp,
src/imnn/fisher.cpp, docs/imnn.md) written in PyTorch, float64, one thread.

Per step t: n_s fresh simulations of 10 draws from N(mu, Sigma) at theta_fid, d = mu + sqrt(Sigma) z,
and for the first n_d of them the seed-matched copies (the same z) at theta_fid -+ delta_theta_a/2 e_a;
all rows through the network in one batch; then
  mu_x = mean, C = unbiased covariance, dmu/dtheta = mean of (x+ - x-)/delta_theta,
  F = dmu C^-1 dmu^T through the Cholesky factor of C (F = Y^T Y, Y = L^-1 dmu^T),
  Lambda2 = ||C - I||_F + ||C^-1 - I||_F, r = lambda Lambda2 / (Lambda2 + exp(-alpha Lambda2)),
  alpha = -ln(eps (lambda - 1) + eps^2/(1 + eps)) / eps, loss = r Lambda2 - ln det F
(r is not detached: trusty differentiates through it too). Adam (PyTorch's, the same update as
trusty's), learning rate set per step from the schedule before the step (cosine: eta_min +
(lr - eta_min)(1 + cos(pi min(t, t_max)/t_max))/2). Every validate_every steps (and at step 0) the
statistics of the fixed validation set with the current weights (no gradient), before the step.
Initialisation as trusty.MLP's "auto" for ELU: weights N(0, 2/fan_in), biases U(+-1/sqrt(fan_in)).

Usage: torch_imnn.py SETTINGS.json   (written by bench_imnn.py; validation/held-out .npy paths in it)
Prints one JSON line: seconds_to_target (wall, from the first step to the validation check that
reached the target, simulations included), steps, val_det_F at that check, held-out det F of the
weights that reached it, seconds per step.
"""
import json, math, sys, time

import numpy as np
import torch


def net_of(widths, gen):
    layers = []
    for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
        lin = torch.nn.Linear(a, b, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.normal_(0.0, math.sqrt(2.0 / a), generator=gen)
            lin.bias.uniform_(-1 / math.sqrt(a), 1 / math.sqrt(a), generator=gen)
        layers.append(lin)
        if i + 2 < len(widths):
            layers.append(torch.nn.ELU())
    return torch.nn.Sequential(*layers)


def statistics(x_fid, x_der, delta, lam, alpha):
    """x_fid [n_s, m], x_der [n_d, 2, p, m] -> (loss, det F)."""
    n_s, m = x_fid.shape
    mu = x_fid.mean(0)
    xc = x_fid - mu
    cov = xc.T @ xc / (n_s - 1)
    dmu = (x_der[:, 1] - x_der[:, 0]).mean(0) / delta[:, None]  # [p, m]
    chol = torch.linalg.cholesky(cov)
    y = torch.linalg.solve_triangular(chol, dmu.T, upper=False)
    fisher = y.T @ y
    logdet_f = 2 * torch.log(torch.diagonal(torch.linalg.cholesky(fisher))).sum()
    inv_cov = torch.cholesky_inverse(chol)
    eye = torch.eye(m, dtype=torch.float64)
    lam2 = torch.linalg.norm(cov - eye) + torch.linalg.norm(inv_cov - eye)
    r = lam * lam2 / (lam2 + torch.exp(-alpha * lam2))
    return r * lam2 - logdet_f, torch.exp(logdet_f)


def set_stats(net, fid, der, delta, lam, alpha, chunk=20000):
    """det F of a fixed set (numpy arrays), no gradient, the network run in chunks."""
    with torch.no_grad():
        f = torch.from_numpy(fid)
        d = torch.from_numpy(der)
        xf = torch.cat([net(f[i:i + chunk]) for i in range(0, len(f), chunk)])
        flat = d.reshape(-1, d.shape[-1])
        xd = torch.cat([net(flat[i:i + chunk]) for i in range(0, len(flat), chunk)]).reshape(d.shape[0], 2, d.shape[2], -1)
        return float(statistics(xf, xd, delta, lam, alpha)[1])


def main():
    s = json.load(open(sys.argv[1]))
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)
    gen = torch.Generator().manual_seed(1000 + s["seed"])
    net = net_of(s["widths"], gen)
    theta = torch.tensor(s["theta_fid"], dtype=torch.float64)
    delta = torch.tensor(s["delta_theta"], dtype=torch.float64)
    p, n_data, n_s, n_d = len(s["theta_fid"]), s["n_data"], s["n_s"], s["n_d"]
    lam, eps = s["lambda"], s["epsilon"]
    alpha = -math.log(eps * (lam - 1) + eps * eps / (1 + eps)) / eps
    val_fid, val_der = np.load(s["val_fiducial"]), np.load(s["val_derivatives"])
    # Parameter sets for the seed-matched copies, (2, p, p): side, which parameter moved.
    shifted = theta.repeat(2, p, 1)
    for side, sign in ((0, -0.5), (1, 0.5)):
        for a in range(p):
            shifted[side, a, a] += sign * delta[a]
    opt = torch.optim.Adam(net.parameters(), lr=s["lr"])
    base, t_max, eta_min = s["lr"], s["max_iterations"], 0.0
    target = s["target"]

    result = {"reached": False}
    t0 = time.perf_counter()
    for it in range(s["max_iterations"]):
        lr = eta_min + (base - eta_min) * (1 + math.cos(math.pi * min(it, t_max) / max(1, t_max))) / 2 \
            if s["schedule"] == "cosine" else base
        for g in opt.param_groups:
            g["lr"] = lr
        z = torch.randn(n_s, n_data, dtype=torch.float64, generator=gen)
        fid = theta[0] + torch.sqrt(theta[1]) * z  # d = mu + sqrt(Sigma) z
        zd = z[:n_d, None, None, :]  # [n_d, 1, 1, n]
        der = shifted[None, :, :, 0:1] + torch.sqrt(shifted[None, :, :, 1:2]) * zd  # [n_d, 2, p, n]
        x = net(torch.cat([fid, der.reshape(-1, n_data)]))
        loss, det_f = statistics(x[:n_s], x[n_s:].reshape(n_d, 2, p, -1), delta, lam, alpha)
        opt.zero_grad()
        loss.backward()
        if it % s["validate_every"] == 0 or it + 1 == s["max_iterations"]:
            v = set_stats(net, val_fid, val_der, delta, lam, alpha)
            if v >= target:
                result = {"reached": True, "seconds_to_target": time.perf_counter() - t0, "steps": it + 1, "val_det_F": v}
                break
        opt.step()
    total = time.perf_counter() - t0
    steps = result.get("steps", s["max_iterations"])
    result["seconds_per_step"] = total / steps
    result["seconds"] = total
    if result["reached"]:
        result["held_out_det_F"] = set_stats(net, np.load(s["held_fiducial"]), np.load(s["held_derivatives"]), delta, lam, alpha)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
