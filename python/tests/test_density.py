"""The density layer from Python: an MDN trained with the Trainer's "mdn" loss against the known
conditional density, MDN sampling, the loss registry, and the neural bias model on a simulated
catalogue (log density, gradient, expected count, sampling)."""
import numpy as np
import pytest

import trusty


def true_log_density(x, y):
    pi = 1 / (1 + np.exp(-2 * x))
    m1, s1, m2, s2 = 1.5 * x + 0.5, 0.15 + 0.1 * (x + 1), 0.5 - x * x, 0.3
    n = lambda m, s: np.exp(-0.5 * ((y - m) / s) ** 2) / (s * np.sqrt(2 * np.pi))
    return np.log(pi * n(m1, s1) + (1 - pi) * n(m2, s2))


def draw(n, seed):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, n)
    pi = 1 / (1 + np.exp(-2 * x))
    first = rng.uniform(size=n) < pi
    y = np.where(first, 1.5 * x + 0.5 + (0.15 + 0.1 * (x + 1)) * rng.normal(size=n), 0.5 - x * x + 0.3 * rng.normal(size=n))
    return x[:, None], y[:, None]


def test_loss_registry_lists_mdn():
    assert {"bce", "cross_entropy", "half_sse", "mdn", "mse"} <= set(trusty.loss_names())
    net = trusty.MLP([1, 8, 6], dtype="float64", seed=1)
    with pytest.raises(ValueError, match="unknown option 'component'"):
        trusty.Trainer(net, loss="mdn", loss_options={"component": 2})


def test_mdn_trains_from_python_to_the_true_density():
    # 10,000 pairs, a 1-32-32-6 tanh MDN, 30 epochs: held-out NLL within 0.02 nats of the truth's
    # (the paired difference's Monte Carlo error on 5,000 points is ~0.003).
    x, y = draw(10000, 1)
    xt, yt = draw(5000, 2)
    net = trusty.MLP([1, 32, 32, 6], activation="tanh", dtype="float64", seed=1)
    tr = trusty.Trainer(net, loss="mdn", loss_options={"components": 2}, lr=3e-3, epochs=30, batch_size=128,
                        schedule="cosine", seed=1)
    tr.fit(x, y)
    ev = tr.evaluate(xt, yt)
    truth = -np.mean(true_log_density(xt[:, 0], yt[:, 0]))
    assert ev["loss"] - truth < 0.02, (ev["loss"], truth)
    out = net.forward(xt)
    lp = trusty.mdn_log_prob(out, yt, components=2)
    assert abs(-lp.mean() - ev["loss"]) < 1e-10
    # Draws from the fitted MDN at x = 0.5 have the true conditional mean within 4 standard errors.
    ys = trusty.mdn_sample(np.tile(net.forward(np.array([[0.5]])), (20000, 1)), components=2, seed=3)
    grid = np.linspace(-3, 3, 6001)
    p = np.exp(true_log_density(0.5, grid))
    mean = np.sum(grid * p) / np.sum(p)
    sd = np.sqrt(np.sum((grid - mean) ** 2 * p) / np.sum(p))
    assert abs(ys.mean() - mean) < 4 * sd / np.sqrt(20000) + 0.02, (ys.mean(), mean)


def test_bias_model_on_a_simulated_catalogue(tmp_path):
    cat = trusty.simulate_catalogue(grid=8, seed=4)
    assert cat["field"].shape == (8, 8, 8) and cat["positions"].shape[1] == 3
    assert np.all(cat["masses"] >= cat["mass_threshold"])
    path = tmp_path / "cat.npz"
    trusty.save_catalogue(path, cat)
    back = trusty.load_catalogue(str(path))
    assert np.array_equal(back["masses"], cat["masses"])
    theta = trusty.default_true_theta()
    lp, grad, expected = trusty.bias_log_density(str(path), theta)
    assert np.isfinite(lp) and len(grad) == 17
    n = len(cat["masses"])
    assert abs(n - expected) < 4 * np.sqrt(expected)
    cat["masses"][0] = 0.5 * cat["mass_threshold"]
    trusty.save_catalogue(tmp_path / "bad.npz", cat)
    with pytest.raises(ValueError, match=r"masses\[0\]"):
        trusty.load_catalogue(str(tmp_path / "bad.npz"))
    r = trusty.sample_bias(str(path), chains=2, warmup=50, samples=50, metric="dense_e", seed=1)
    assert r["draws"].shape == (2, 50, 17)
    assert trusty.bias_parameter_names()[3] == "kernel.centre"
