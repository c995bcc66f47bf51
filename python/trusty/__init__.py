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

Information-maximising networks (docs/imnn.md):

    net = trusty.MLP([10, 128, 2], activation="elu", dtype="float64", seed=0)
    imnn = trusty.IMNN(net, "gaussian_mean_variance", theta_fid=[0.0, 1.0], delta_theta=[0.1, 0.1],
                       n_s=1000, n_d=1000)      # or a callable simulator(theta, seed, index), or arrays
    imnn.fit(max_iterations=3000, lr=1e-2, schedule="cosine", validation=5000, validate_every=10)
    imnn.det_fisher, imnn.history["val_det_F"], imnn.estimate(data)

Arrays go in as numpy (float32 for float32 networks, float64 for float64 ones; integer
class labels); `net.parameters` and `net.gradients` are views of the network's one flat
buffer (they keep the network alive). Reports: `python3 -m trusty.report RUN_DIR`.
"""
from . import _trusty
from ._trusty import BayesianNetwork, ConfigError, TrainingDiverged, __version__, cache_dir, fetch, set_threads
from ._trusty import (bias_log_density, bias_parameter_names, default_true_theta, load_catalogue, loss_names,
                      mdn_log_prob, mdn_sample, simulate_catalogue)

__all__ = ["MLP", "Trainer", "IMNN", "sample", "BayesianNetwork", "fetch", "cache_dir", "set_threads", "ConfigError", "TrainingDiverged", "__version__"]


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


def _check_net64(net, who):
    if isinstance(net, _trusty.MLP64):
        return net
    if isinstance(net, _trusty.MLP32):
        raise TypeError(f"{who}: net: expected a float64 network (trusty.MLP(..., dtype='float64')); the IMNN's Fisher "
                        "statistics are computed in double precision")
    raise TypeError(f"{who}: net: expected a trusty.MLP, got {type(net).__name__}")


class IMNN:
    """An information-maximising neural network (Charnock, Lavaux & Wandelt 2018) trained by
    trusty's C++ loop with the regularised loss of Makinen et al. 2021 (docs/imnn.md).

    IMNN(net, simulator, theta_fid, delta_theta, n_s=1000, n_d=None, ...)

    net         a float64 trusty.MLP taking the flattened data and giving n_summaries >= n_params
                outputs; it is trained in place.
    simulator   one of
                - a built-in name: "gaussian_variance", "gaussian_mean_variance" (n_data=10 draws),
                  "gaussian_field", "lognormal_field" (grid=N: an N x N field);
                - a callable f(theta, seed, index) -> array of the data shape: theta a float64
                  vector, seed and index ints. It must be a pure function of (theta, seed,
                  index): seed-matched derivatives re-run index i at theta +- delta_theta/2 and
                  need the same noise, e.g. rng = np.random.default_rng([seed, index]). The
                  data shape is taken from one call at theta_fid unless data_shape= is given;
                - None, with precomputed arrays fiducial=(n_s, *data_shape) and
                  derivatives=(n_d, 2, n_params, *data_shape) (seed-matched: index 0 at
                  theta - delta_theta/2, 1 at theta + delta_theta/2), or
                  gradients=(n_d, *data_shape, n_params) (dd/dtheta, with derivatives="gradient").
    theta_fid, delta_theta   fiducial parameters and full finite-difference spacings.
    n_s, n_d    simulations per step and how many of them have derivatives (n_d defaults to n_s).
    derivatives "seed_matched" (default), "gradient" (the simulator's dd/dtheta chained with
                the network's input Jacobian; every built-in gives it, a callable does not) or
                "autodiff" (dd/dtheta by forward-mode autodiff through a built-in simulator
                written with trusty's ops, chained the same way; delta_theta not needed).
    fresh       True (default for simulators): new simulations every step (step t uses indices
                t*n_s ...); False: one fixed training set.
    lambda_, epsilon   the loss's regularisation coupling and closeness (10, 0.1).
    seed        simulation seed; threads: threads for the simulations; chunk: simulations per
                network pass (as `trusty imnn`).

    fit(max_iterations, min_iterations, patience, optimizer, lr, schedule, validation,
    validate_every, keep, seed, callback) trains; afterwards fisher, det_fisher, inverse_fisher,
    marginal_errors, statistics are those of the validation set (fresh simulations when there
    is none) with the kept weights; history is a dict of numpy arrays per step.
    """

    def __init__(self, net, simulator, theta_fid, delta_theta=None, n_s=1000, n_d=None, *, fiducial=None,
                 derivatives=None, gradients=None, derivatives_mode=None, n_data=10, grid=32, data_shape=None,
                 name=None, fresh=True, lambda_=10.0, epsilon=0.1, seed=0, threads=1, chunk=64):
        self.net = _check_net64(net, "IMNN")
        if simulator is not None and not isinstance(simulator, str) and not callable(simulator):
            raise TypeError("IMNN: simulator: expected a built-in name, a callable f(theta, seed, index) -> array, or None "
                            f"with fiducial/derivatives arrays; got {type(simulator).__name__}")
        mode = derivatives_mode or "seed_matched"
        if derivatives_mode is None and simulator is None and gradients is not None:
            mode = "gradient"
        if isinstance(derivatives, str):            # IMNN(..., derivatives="gradient") reads naturally
            mode, derivatives = derivatives, None
        import numpy as np
        theta_fid = [float(t) for t in np.atleast_1d(np.asarray(theta_fid, dtype=np.float64))]
        delta = [] if delta_theta is None else [float(t) for t in np.atleast_1d(np.asarray(delta_theta, dtype=np.float64))]
        self._h = _trusty._IMNN(net, simulator, theta_fid, delta, int(n_s), int(n_d or 0), fiducial, derivatives, gradients,
                                mode, int(n_data), int(grid), [int(d) for d in (data_shape or [])], str(name or ""),
                                bool(fresh), float(lambda_), float(epsilon), int(seed), int(threads), int(chunk))
        self.theta_fid = np.array(theta_fid)

    def fit(self, max_iterations=None, *, min_iterations=None, patience=None, optimizer=None, lr=None, schedule=None,
            validation=None, validate_every=None, keep=None, seed=None, callback=None, **optimizer_options):
        """Trains until max_iterations (total steps, 1000 by default) or early stopping.

        min_iterations (100), patience (100): stop when the validation det F (the training
        one without a validation set) has not improved for `patience` steps after
        min_iterations; keep="best" (default) or "final" weights. optimizer ("adam"), lr
        (1e-3), beta1, beta2, momentum, weight_decay as in `trusty imnn` configs; the
        optimiser is fixed once training has started (lr may change). schedule: "constant",
        "step", "exponential", "cosine" per step, with t_max (default max_iterations),
        eta_min, step_size, gamma. validation: a number of simulations from the simulator
        (indices from 2**40 on, the fit's seed), (fiducial, derivatives) arrays or a dict
        {fiducial, derivatives|gradients}; kept for later fit() calls. validate_every: steps
        between validations. seed: simulation seed. callback(record) runs after every step
        with that step's dict (det_F, val_det_F, ...); return False to stop. Ctrl-C stops
        after the current step (the kept weights are restored) and raises KeyboardInterrupt.
        A later fit() continues the same run (give a larger max_iterations). Returns self."""
        known = {"beta1", "beta2", "momentum", "weight_decay", "t_max", "eta_min", "step_size", "gamma"}
        unknown = set(optimizer_options) - known
        if unknown:
            raise TypeError(f"IMNN.fit: unknown option(s) {sorted(unknown)} (expected max_iterations, min_iterations, patience, "
                            "optimizer, lr, beta1, beta2, momentum, weight_decay, schedule, t_max, eta_min, step_size, gamma, "
                            "validation, validate_every, keep, seed, callback)")
        if callback is not None and not callable(callback):
            raise TypeError(f"IMNN.fit: callback: expected a callable, got {type(callback).__name__}")
        self._h.fit(max_iterations=max_iterations, min_iterations=min_iterations, patience=patience, optimizer=optimizer,
                    lr=lr, schedule=schedule, validation=validation, validate_every=validate_every, keep=keep, seed=seed,
                    callback=callback, **optimizer_options)
        return self

    history = property(lambda self: self._h.history,
                       doc="Per step, numpy arrays: iteration, det_F, det_C, det_Cinv, Λ2, r, loss, the same with val_ "
                           "(NaN on steps without validation), seconds")
    statistics = property(lambda self: self._h.statistics,
                          doc="After fit(): fisher, det_fisher, mu, cov, inv_cov, dmu_dtheta, Λ2, r, loss")
    fisher = property(lambda self: self._h.fisher, doc="F (n_params, n_params) after fit()")
    det_fisher = property(lambda self: self._h.det_fisher, doc="det F after fit()")
    inverse_fisher = property(lambda self: self._h.inverse_fisher, doc="F⁻¹, the covariance of the Gaussian posterior approximation")
    marginal_errors = property(lambda self: self._h.marginal_errors, doc="sqrt(diag F⁻¹), the Fisher forecast")
    analytic_fisher = property(lambda self: self._h.analytic_fisher, doc="The simulator's own F when known (built-ins), else None")
    iteration = property(lambda self: self._h.iteration, doc="Steps taken")
    best_iteration = property(lambda self: self._h.best_iteration)
    stopped_early = property(lambda self: self._h.stopped_early)
    data_shape = property(lambda self: tuple(self._h.data_shape))

    def evaluate(self, n=None, *, fiducial=None, derivatives=None, gradients=None, seed=None):
        """Fisher statistics with the current weights on a held-out set: n fresh simulations
        (indices from 2**41 on, never used by fit) or arrays in the constructor's layouts."""
        return self._h.evaluate(n, fiducial, derivatives, gradients, seed)

    def summaries(self, data):
        """Network summaries of data (n, *data_shape) -> (n, n_summaries); one data set -> (n_summaries,)."""
        return self._h.summaries(data)

    def estimate(self, data):
        """Quasi-maximum-likelihood estimates theta_fid + F⁻¹ (dmu/dtheta)ᵀ C⁻¹ (x - mu) of data
        (n, *data_shape) -> (n, n_params), or (n_params,) for one data set (after fit())."""
        return self._h.estimate(data)

    def simulate(self, theta=None, n=1, seed=0, first=0):
        """n simulations (indices first...) at theta (default theta_fid) from the simulator, (n, *data_shape)."""
        return self._h.simulate(None if theta is None else [float(t) for t in theta], int(n), int(seed), int(first))

    def save_checkpoint(self, path):
        """Weights, optimiser state, step, early-stopping state and history (.npz, atomic)."""
        self._h.save_checkpoint(str(path))

    def load_checkpoint(self, path, optimizer=None):
        """Restores a checkpoint of the same problem and network; the next fit() continues it."""
        self._h.load_checkpoint(str(path), optimizer)

    def __repr__(self):
        return (f"trusty.IMNN({self._h.simulator_name}, theta_fid={list(self.theta_fid)}, data_shape={self.data_shape}, "
                f"steps={self.iteration})")
