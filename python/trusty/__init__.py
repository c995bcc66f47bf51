"""trusty: neural networks physicists can trust.

    import trusty
    d = trusty.fetch("mnist")                       # numpy arrays, cached after the first call
    net = trusty.MLP([784, 128, 64, 10], activation="relu", seed=0)
    tr = trusty.Trainer(net, optimizer="adam", lr=1e-3, epochs=5, batch_size=64)
    history = tr.fit(d["x_train"], d["y_train"], callback=lambda rec: print(rec["train_loss"]))
    print(tr.evaluate(d["x_test"], d["y_test"])["accuracy"])

Posteriors (docs/sample.md):

    import numpy as np, trusty
    def log_density(theta):                          # a 2-D Gaussian with correlation 0.99
        g = -np.linalg.solve(cov, theta)
        return 0.5 * theta @ g, g
    fit = trusty.sample(log_density, dim=2, metric="dense_e", chains=4, seed=1)
    fit["draws"].shape                               # (chains, samples, 2)
    print(fit["summary_table"])                      # R-hat, ESS, MCSE, divergences, E-BFMI

Arrays go in as numpy (float32 for float32 networks, float64 for float64 ones; integer
class labels); `net.parameters` and `net.gradients` are views of the network's one flat
buffer (they keep the network alive). Reports: `python3 -m trusty.report RUN_DIR`.
"""
from . import _trusty
from ._trusty import BayesianNetwork, ConfigError, TrainingDiverged, __version__, cache_dir, fetch, set_threads
from ._trusty import (bias_log_density, bias_parameter_names, default_true_theta, load_catalogue, loss_names,
                      mdn_log_prob, mdn_sample, simulate_catalogue)

__all__ = ["MLP", "Trainer", "sample", "BayesianNetwork", "fetch", "cache_dir", "set_threads", "ConfigError", "TrainingDiverged", "__version__"]


def MLP(widths, activation="relu", output_activation="identity", init="auto", dropout=0.0, batch_norm=False,
        dtype="float32", seed=0):
    """A multilayer perceptron from widths [in, hidden..., out]; dtype "float32" or "float64"."""
    if dtype in ("float32", "f4"):
        cls = _trusty.MLP32
    elif dtype in ("float64", "f8"):
        cls = _trusty.MLP64
    else:
        raise TypeError(f"dtype: expected 'float32' or 'float64', got {dtype!r}")
    return cls(list(widths), activation, output_activation, init, dropout, batch_norm, seed)


def Trainer(net, **options):
    """The training loop for `net`; options as in `trusty train` configs ([train] table).

    loss: any registered loss (trusty.loss_names(): bce, cross_entropy, half_sse, mdn, mse);
    loss_options: its options, as the [loss] table, e.g. {"components": 3} for "mdn"."""
    if options.get("loss_options") is not None:
        options["loss_options"] = {str(k): str(v) for k, v in options["loss_options"].items()}
    if isinstance(net, _trusty.MLP32):
        return _trusty.Trainer32(net, **options)
    if isinstance(net, _trusty.MLP64):
        return _trusty.Trainer64(net, **options)
    raise TypeError(f"net: expected a trusty.MLP, got {type(net).__name__}")


def sample(log_density, dim, names=None, out=None, **options):
    """Draws from exp(log_density) with NUTS (default), static HMC or the HMCLET sampler.

    log_density(theta) takes a float64 vector of length `dim` (unconstrained) and returns
    (log density, gradient). Options as in the [sampler] table of `trusty sample` configs:
    algorithm, chains, warmup, samples, threads, seed, max_depth, delta, step_size, metric,
    init_radius, init, save_warmup, hmc_steps, hmc_int_time, hmclet_eps_max, hmclet_L_max,
    hmclet_window, hmclet_quasi_newton. With out=DIR, Stan CSV files and summary.json go there.
    Returns a dict: draws (chains, samples, dim), lp__, accept_stat__, ..., divergent__
    (chains, samples), names, step_size, inv_metric, summary, summary_table."""
    if not callable(log_density):
        raise TypeError(f"log_density: expected a callable returning (log_density, gradient), got {type(log_density).__name__}")
    if isinstance(dim, bool) or not isinstance(dim, int):
        raise TypeError(f"dim: expected an int, got {type(dim).__name__}")
    return _trusty._sample_callable(log_density, dim, list(names or []), str(out or ""), **options)


def save_catalogue(path, catalogue):
    """Writes a catalogue dict (field, positions, masses, box_size, mass_threshold) as .npz."""
    import numpy as np
    np.savez(path, **{k: np.asarray(v, dtype=np.float64) for k, v in catalogue.items()})


def sample_bias(catalogue, prior_sd=10.0, out=None, **options):
    """Samples the neural bias model's 17 weights (N(0, prior_sd²) priors) on a catalogue .npz.

    The chains start at the MAP (fitted from trusty.default_true_theta()) unless init= is
    given; sampler options as for trusty.sample (algorithm="hmclet" for the HMCLET mode,
    metric="dense_e" recommended). Returns the same dict as trusty.sample."""
    return _trusty._sample_bias(str(catalogue), float(prior_sd), str(out or ""), **options)
