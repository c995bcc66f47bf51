"""Figures and an HTML page for a run directory written by a `trusty` command.

    python3 -m trusty.report RUN_DIR [--out DIR]

Reads RUN_DIR/results.json, history.csv and predictions.npz (whichever exist) and writes
PNG figures plus index.html into RUN_DIR/report/ (or --out):
  loss.png         training and validation loss per epoch
  accuracy.png     training and validation accuracy per epoch (classifiers)
  grad_norms.png   mean L2 norm of each layer's gradient per epoch (log scale): vanishing
                   and exploding gradients show here
  confusion.png    confusion matrix on the test set (classifiers)
  predictions.png  predicted against true values on the test set (regression)
A `trusty sample` run adds trace.png, rank.png, pairs.png and predictive.png (see
trusty/mcmc_figures.py); a neural bias model run adds mass_function.png
(trusty/density_figures.py). Later commands add their own figures through the same FIGURES registry.
"""
import argparse
import csv
import html
import json
import os
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import matplotlib.ticker  # noqa: E402
import numpy as np  # noqa: E402

from . import density_figures, mcmc_figures  # noqa: E402

LOSS_UNITS = {
    "cross_entropy": "cross-entropy (nats per sample)",
    "bce": "binary cross-entropy (nats per output)",
    "mse": "mean squared error (target units²)",
    "half_sse": "½ Σ squared error (target units²)",
}


def read_history(run):
    path = run / "history.csv"
    if not path.exists():
        return None
    with open(path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return None
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def fig_loss(run, res, hist, out):
    if hist is None:
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hist["epoch"], hist["train_loss"], "o-", ms=3, label="training")
    if (hist["val_loss"] >= 0).any():
        ax.plot(hist["epoch"], hist["val_loss"], "s-", ms=3, label="validation")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss: " + LOSS_UNITS.get(res.get("loss", ""), "loss"))
    ax.set_title("Loss per epoch")
    if hist["train_loss"].min() > 0 and hist["train_loss"].max() / hist["train_loss"].min() > 30:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, out / "loss.png")


def fig_accuracy(run, res, hist, out):
    if hist is None or not (hist["train_accuracy"] >= 0).any():
        return None
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(hist["epoch"], 100 * hist["train_accuracy"], "o-", ms=3, label="training")
    if (hist["val_accuracy"] >= 0).any():
        ax.plot(hist["epoch"], 100 * hist["val_accuracy"], "s-", ms=3, label="validation")
    if "test_accuracy" in res:
        ax.axhline(100 * res["test_accuracy"], color="k", ls="--", lw=1, label=f"test {100 * res['test_accuracy']:.2f} %")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy (%)")
    ax.set_title("Classification accuracy per epoch")
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, out / "accuracy.png")


def fig_grad_norms(run, res, hist, out):
    if hist is None:
        return None
    keys = [k for k in hist if k.startswith("grad_norm/")]
    if not keys:
        return None
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for k in keys:
        v = hist[k]
        if (v > 0).any():
            ax.plot(hist["epoch"], np.where(v > 0, v, np.nan), "o-", ms=2, label=k[len("grad_norm/"):])
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("‖∂loss/∂θ‖₂ per tensor (mean over steps)")
    ax.set_title("Per-layer gradient norms")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=7, ncol=2)
    return save(fig, out / "grad_norms.png")


def load_predictions(run):
    p = run / "predictions.npz"
    if not p.exists():
        return None
    z = np.load(p)
    return z["y_true"], z["y_pred"]


def fig_confusion(run, res, hist, out):
    pred = load_predictions(run)
    if pred is None or pred[0].dtype.kind not in "iu":
        return None
    y, logits = pred
    k = logits.shape[1]
    yhat = logits.argmax(1)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (y, yhat), 1)
    fig, ax = plt.subplots(figsize=(5.5, 5))
    im = ax.imshow(cm, cmap="Blues")
    for i in range(k):
        for j in range(k):
            if cm[i, j]:
                ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_title(f"Confusion matrix, test set\n{len(y)} samples, {100 * (yhat == y).mean():.2f} % correct", fontsize=11)
    fig.colorbar(im, ax=ax, label="samples")
    return save(fig, out / "confusion.png")


def fig_predictions(run, res, hist, out):
    pred = load_predictions(run)
    if pred is None or pred[0].dtype.kind not in "f":
        return None
    y, yhat = pred[0].reshape(len(pred[0]), -1), pred[1].reshape(len(pred[1]), -1)
    fig, ax = plt.subplots(figsize=(5, 5))
    for j in range(y.shape[1]):
        ax.plot(y[:, j], yhat[:, j], ".", ms=3, alpha=0.6, label=f"output {j}" if y.shape[1] > 1 else None)
    lo, hi = float(min(y.min(), yhat.min())), float(max(y.max(), yhat.max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=1, label="y = ŷ")
    ax.set_xlabel("true value (target units)")
    ax.set_ylabel("predicted value (target units)")
    r2 = res.get("test_r2")
    ax.set_title("Predictions against truth, test set" + (f" (R² = {r2:.4f})" if r2 is not None else ""))
    ax.grid(alpha=0.3)
    ax.legend()
    return save(fig, out / "predictions.png")


def save(fig, path):
    for ax in fig.axes:
        if ax.get_xlabel() == "epoch":
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
    fig.tight_layout()
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=110)
    plt.close(fig)
    os.replace(tmp, path)
    return path


# name -> function(run_dir, results, history, out_dir) -> path or None. Later features add theirs.
FIGURES = {
    "loss": fig_loss,
    "accuracy": fig_accuracy,
    "grad_norms": fig_grad_norms,
    "confusion": fig_confusion,
    "predictions": fig_predictions,
    "trace": lambda *a: mcmc_figures.fig_trace(*a, save),
    "rank": lambda *a: mcmc_figures.fig_rank(*a, save),
    "pairs": lambda *a: mcmc_figures.fig_pairs(*a, save),
    "predictive": lambda *a: mcmc_figures.fig_predictive(*a, save),
    "mass_function": lambda *a: density_figures.fig_mass_function(*a, save),
}


def write_index(run, res, figs, out):
    rows = "".join(f"<tr><th>{html.escape(str(k))}</th><td>{html.escape(json.dumps(v) if not isinstance(v, str) else v)}</td></tr>"
                   for k, v in res.items() if not isinstance(v, (list, dict)))
    imgs = "".join(f'<figure><img src="{html.escape(p.name)}" alt="{html.escape(n)}"><figcaption>{html.escape(n)}</figcaption></figure>'
                   for n, p in figs)
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>trusty report: {html.escape(run.name)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left}}
figure{{display:inline-block;margin:1em}}img{{max-width:640px}}</style></head><body>
<h1>trusty report: {html.escape(str(run))}</h1><h2>Results</h2><table>{rows}</table><h2>Figures</h2>{imgs}</body></html>"""
    tmp = out / "index.html.tmp"
    tmp.write_text(page)
    os.replace(tmp, out / "index.html")
    return out / "index.html"


def report(run_dir, out_dir=None):
    """Draws every figure the run's files allow; returns {name: path} and the index path."""
    run = Path(run_dir)
    if not (run / "results.json").exists():
        raise FileNotFoundError(f"{run}: no results.json (is this a directory written by a trusty command?)")
    res = json.loads((run / "results.json").read_text())
    out = Path(out_dir) if out_dir else run / "report"
    out.mkdir(parents=True, exist_ok=True)
    hist = read_history(run)
    figs = []
    for name, fn in FIGURES.items():
        p = fn(run, res, hist, out)
        if p is not None:
            figs.append((name, p))
    index = write_index(run, res, figs, out)
    return dict(figs), index


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python3 -m trusty.report", description=__doc__.split("\n\n")[0])
    ap.add_argument("run_dir")
    ap.add_argument("--out", help="output directory (default RUN_DIR/report)")
    a = ap.parse_args(argv)
    try:
        figs, index = report(a.run_dir, a.out)
    except FileNotFoundError as e:
        print(f"trusty.report: error: {e}", file=sys.stderr)
        return 2
    for name, p in figs.items():
        print(f"{name}: {p}")
    print(f"open {index}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
