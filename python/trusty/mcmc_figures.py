"""Figures for a run directory written by `trusty sample` (drawn by `python3 -m trusty.report`).

    trace.png       the chains' draws of lp__ and the first parameters, one colour per chain
    rank.png        rank plots (Vehtari et al. 2021): per chain, the histogram of the ranks of its
                    draws among all chains' draws; flat bars mean the chains agree
    pairs.png       pair plot of the first parameters; divergent transitions in red
    predictive.png  posterior predictive mean and 90 % band of a Bayesian network, with the
                    MAP network and variational inference drawn beside HMC (predictive.npz)

read_stan_csv(path) returns (names, draws) for one chain file: numpy only, no Stan needed.
"""
import numpy as np

import matplotlib.pyplot as plt

SAMPLER_COLUMNS = ("lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__")


def read_stan_csv(path):
    """Column names and an array (draws × columns) of one Stan CSV file; warmup rows are kept
    only if the file has them (save_warmup), as CmdStan writes them."""
    names, rows = None, []
    with open(path) as f:
        for line in f:
            if not line.strip() or line.startswith("#"):
                continue
            cells = line.rstrip("\n").split(",")
            if names is None:
                names = cells
                continue
            if len(cells) != len(names):
                raise ValueError(f"{path}: a row has {len(cells)} cells, the header {len(names)}")
            rows.append([float(c) for c in cells])
    if names is None:
        raise ValueError(f"{path}: no header row")
    return names, np.array(rows, dtype=float).reshape(len(rows), len(names))


def load_chains(run):
    files = sorted(run.glob("chain_*.csv"), key=lambda p: int(p.stem.split("_")[1]))
    chains = [read_stan_csv(p) for p in files]
    if not chains:
        return None, None
    names = chains[0][0]
    n = min(c[1].shape[0] for c in chains)
    return names, np.stack([c[1][-n:] for c in chains])  # chains × draws × columns


def shown_columns(names, k):
    params = [i for i, n in enumerate(names) if n not in SAMPLER_COLUMNS]
    return params[:k]


def fig_trace(run, res, hist, out, save):
    names, d = load_chains(run)
    if names is None:
        return None
    cols = [names.index("lp__")] + shown_columns(names, 5)
    fig, axes = plt.subplots(len(cols), 1, figsize=(8, 1.6 * len(cols) + 0.6), sharex=True, squeeze=False)
    for ax, j in zip(axes[:, 0], cols):
        for c in range(d.shape[0]):
            ax.plot(d[c, :, j], lw=0.5, alpha=0.8, label=f"chain {c + 1}")
        ax.set_ylabel(names[j], fontsize=8)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("draw (after warmup)")
    axes[0, 0].legend(fontsize=7, ncol=min(4, d.shape[0]), loc="upper right")
    axes[0, 0].set_title("Trace of each chain")
    return save(fig, out / "trace.png")


def fig_rank(run, res, hist, out, save):
    names, d = load_chains(run)
    if names is None or d.shape[0] < 2:
        return None
    cols = shown_columns(names, 4)
    if not cols:
        return None
    nc, nd = d.shape[0], d.shape[1]
    bins = 20
    fig, axes = plt.subplots(len(cols), nc, figsize=(2.2 * nc, 1.7 * len(cols) + 0.6), squeeze=False, sharey=True)
    for r, j in enumerate(cols):
        x = d[:, :, j].ravel()
        ranks = np.empty(x.size)
        ranks[np.argsort(x, kind="stable")] = np.arange(x.size)
        ranks = ranks.reshape(nc, nd)
        for c in range(nc):
            ax = axes[r, c]
            ax.hist(ranks[c], bins=bins, range=(0, x.size), color=f"C{c}", alpha=0.8)
            ax.axhline(nd / bins, color="k", ls="--", lw=0.8)
            ax.set_xticks([])
            if c == 0:
                ax.set_ylabel(names[j], fontsize=8)
            if r == 0:
                ax.set_title(f"chain {c + 1}", fontsize=9)
    fig.suptitle("Rank plots: uniform (dashed line) when the chains mix", fontsize=10)
    return save(fig, out / "rank.png")


def fig_pairs(run, res, hist, out, save):
    names, d = load_chains(run)
    if names is None:
        return None
    cols = shown_columns(names, 4)
    if len(cols) < 2:
        return None
    flat = d.reshape(-1, d.shape[2])
    div = flat[:, names.index("divergent__")] > 0 if "divergent__" in names else np.zeros(len(flat), bool)
    k = len(cols)
    fig, axes = plt.subplots(k, k, figsize=(2.3 * k, 2.3 * k), squeeze=False)
    for a, ja in enumerate(cols):
        for b, jb in enumerate(cols):
            ax = axes[a, b]
            if a == b:
                ax.hist(flat[:, ja], bins=40, color="C0", alpha=0.8)
            elif a > b:
                ax.plot(flat[~div, jb], flat[~div, ja], ".", ms=1, alpha=0.3, color="C0")
                if div.any():
                    ax.plot(flat[div, jb], flat[div, ja], ".", ms=3, color="red", label="divergent")
            else:
                ax.axis("off")
                continue
            if a == k - 1:
                ax.set_xlabel(names[jb], fontsize=8)
            if b == 0 and a != b:
                ax.set_ylabel(names[ja], fontsize=8)
            ax.tick_params(labelsize=6)
    fig.suptitle(f"Pair plot, {len(flat)} draws, {int(div.sum())} divergent (red)", fontsize=10)
    return save(fig, out / "pairs.png")


def fig_predictive(run, res, hist, out, save):
    p = run / "predictive.npz"
    if not p.exists():
        return None
    z = np.load(p)
    if "x" not in z:  # not a network's predictive (the bias model's: density_figures.py)
        return None
    x = z["x"].reshape(len(z["x"]), -1)
    if x.shape[1] != 1:
        return None
    order = np.argsort(x[:, 0])
    xs = x[order, 0]
    fig, ax = plt.subplots(figsize=(7, 4.5))

    def band(prefix, colour, label):
        if prefix + "mean" not in z:
            return
        m = z[prefix + "mean"].reshape(len(x), -1)[order, 0]
        ax.plot(xs, m, color=colour, lw=1.5, label=f"{label} mean")
        if prefix + "q05" in z:
            lo = z[prefix + "q05"].reshape(len(x), -1)[order, 0]
            hi = z[prefix + "q95"].reshape(len(x), -1)[order, 0]
            ax.fill_between(xs, lo, hi, color=colour, alpha=0.2, label=f"{label} 90 % interval")

    band("", "C0", "HMC posterior predictive")
    band("vi_", "C2", "variational (mean field)")
    if "map_mean" in z:
        ax.plot(xs, z["map_mean"].reshape(len(x), -1)[order, 0], color="C3", ls="--", lw=1.2,
                label="MAP network (no spread)")
    if "truth" in z:
        ax.plot(xs, z["truth"].reshape(len(x), -1)[order, 0], color="k", lw=0.8, ls=":", label="true function")
    if "x_train" in z:
        ax.plot(z["x_train"].reshape(-1), z["y_train"].reshape(-1), "k.", ms=3, label="training data")
    ax.set_xlabel("input x")
    ax.set_ylabel("target t")
    ax.set_title("Posterior predictive of the Bayesian network")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save(fig, out / "predictive.png")
