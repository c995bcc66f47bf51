"""Figures for a neural bias model run (`trusty sample` with [target] kind = "bias").

  mass_function.png  the halo mass function per environment-density bin: observed counts
                     (points, √N bars), the posterior's expected counts (95 % band, every kept
                     draw), the Poisson posterior predictive 95 % band, the MAP and, for a
                     simulated catalogue, the truth (dashed)
"""
import numpy as np


def fig_mass_function(run, res, hist, out, save):
    import matplotlib.pyplot as plt

    p = run / "predictive.npz"
    if not p.exists():
        return None
    z = np.load(p)
    if "log_mass_edges" not in z:
        return None
    edges = z["log_mass_edges"].copy()
    if not np.isfinite(edges[-1]):  # the last bin is open above: draw it one bin wide
        edges[-1] = edges[-2] + (edges[-2] - edges[-3] if len(edges) > 2 else 1.0)
    centre = np.exp(0.5 * (edges[:-1] + edges[1:]))
    d_edges = z["density_edges"]
    nd = z["observed"].shape[0]
    fig, axes = plt.subplots(1, nd, figsize=(3.2 * nd, 3.4), sharey=True, squeeze=False)
    for d, ax in enumerate(axes[0]):
        obs = z["observed"][d]
        ax.fill_between(centre, z["predictive_lo"][d], z["predictive_hi"][d], color="C0", alpha=0.15, step=None,
                        label="posterior predictive 95 %")
        ax.fill_between(centre, z["expected_lo"][d], z["expected_hi"][d], color="C0", alpha=0.4, label="posterior 95 %")
        ax.plot(centre, z["expected_map"][d], "C3-", lw=1, label="MAP")
        if "expected_truth" in z:
            ax.plot(centre, z["expected_truth"][d], "k--", lw=1, label="truth")
        err = np.sqrt(np.maximum(obs, 1))
        ax.errorbar(centre, obs, yerr=[np.minimum(err, obs), err], fmt="o", ms=3, color="k", label="catalogue")
        ax.set_xscale("log")
        ax.set_yscale("symlog", linthresh=1)
        lo, hi = d_edges[d], d_edges[d + 1]
        ax.set_title(f"δ in [{lo:.2f}, {hi:.2f})" if np.isfinite(lo) and np.isfinite(hi)
                     else (f"δ < {hi:.2f}" if np.isfinite(hi) else f"δ ≥ {lo:.2f}"), fontsize=9)
        ax.set_xlabel("halo mass M (units of the catalogue)")
    top = max(z["predictive_hi"].max(), z["observed"].max(), z["expected_hi"].max())
    axes[0][0].set_ylim(0, 2 * top)  # shared: set once, after every panel is drawn
    axes[0][0].set_ylabel("halos per mass bin")
    axes[0][0].legend(fontsize=7)
    if "chi2" in res:
        fig.suptitle(f"χ² = {res['chi2']:.1f} on {res.get('chi2_dof', res.get('chi2_bins'))} dof, p = {res['chi2_p']:.3f}",
                     fontsize=9)
    return save(fig, out / "mass_function.png")
