"""The Python bindings: numpy in and out, gradients, lifetimes, errors, callbacks."""
import gc
import json

import numpy as np
import pytest

import trusty
from conftest import run_cli


def test_mnist_from_numpy_matches_the_cli(trusty_bin, root, tmp_path):
    """Same config and seed through the CLI and through numpy: the same accuracy, exactly."""
    r = run_cli(trusty_bin, "train", root / "examples" / "mnist_mlp_small.toml", "--out", tmp_path / "cli", "--quiet")
    assert r.returncode == 0, r.stderr
    cli = json.loads((tmp_path / "cli" / "results.json").read_text())
    d = trusty.fetch("mnist")
    assert d["x_train"].shape == (8000, 28, 28) and d["x_train"].dtype == np.float32
    net = trusty.MLP([784, 128, 64, 10], activation="relu", init="torch_linear", seed=0)
    tr = trusty.Trainer(net, optimizer="adam", lr=1e-3, epochs=5, batch_size=64, seed=0)
    tr.fit(d["x_train"], d["y_train"])
    ev = tr.evaluate(d["x_test"], d["y_test"])
    assert ev["accuracy"] == pytest.approx(cli["test_accuracy"], abs=1e-12)
    assert ev["accuracy"] > 0.9


def test_gradients_match_finite_differences():
    rng = np.random.default_rng(0)
    net = trusty.MLP([3, 5, 4], activation="tanh", dtype="float64", seed=1)
    x = rng.normal(size=(6, 3))
    y = rng.integers(0, 4, size=6)
    loss, grad = net.loss_and_grad(x, y)
    theta = net.parameters  # a view: perturbing it perturbs the network
    eps = 1e-6
    for i in range(net.num_parameters):
        t0 = theta[i]
        theta[i] = t0 + eps
        fp, _ = net.loss_and_grad(x, y)
        theta[i] = t0 - eps
        fm, _ = net.loss_and_grad(x, y)
        theta[i] = t0
        assert grad[i] == pytest.approx((fp - fm) / (2 * eps), rel=1e-6, abs=1e-8)
    # regression losses too
    yr = rng.normal(size=(6, 4))
    l2, g2 = net.loss_and_grad(x, yr, loss="mse")
    theta[0] += eps
    lp, _ = net.loss_and_grad(x, yr, loss="mse")
    theta[0] -= 2 * eps
    lm, _ = net.loss_and_grad(x, yr, loss="mse")
    assert g2[0] == pytest.approx((lp - lm) / (2 * eps), rel=1e-6)


def test_arrays_outlive_the_network():
    net = trusty.MLP([4, 3], seed=2)
    params = net.parameters          # a view that keeps the network alive
    out = net.forward(np.ones((2, 4), np.float32))  # a copy
    expected = params.copy()
    del net
    gc.collect()
    np.testing.assert_array_equal(params, expected)
    out[:] = 0  # writing a returned copy is harmless
    assert out.sum() == 0


def test_parameters_are_a_writable_view():
    net = trusty.MLP([2, 1], output_activation="identity", seed=0)
    net.parameters[:] = [2.0, -1.0, 0.5]  # W = [[2], [-1]], b = 0.5
    np.testing.assert_allclose(net.forward(np.array([[1, 1], [3, 0]], np.float32)), [[1.5], [6.5]])
    names = net.named_parameters()
    assert names == [("0.weight", (2, 1), 0), ("0.bias", (1,), 2)]


def test_wrong_dtype_and_shape_name_the_argument():
    net = trusty.MLP([4, 8, 3])
    tr = trusty.Trainer(net, epochs=1)
    x = np.zeros((5, 4), np.float32)
    with pytest.raises(TypeError, match=r"x: expected a float32 array of shape \(n, 4\)"):
        tr.fit(x.astype(np.float64), np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"x: expected shape \(n, 4\).*got \(5, 3\)"):
        tr.fit(np.zeros((5, 3), np.float32), np.zeros(5, np.int64))
    with pytest.raises(ValueError, match=r"y: expected 5 rows"):
        tr.fit(x, np.zeros(4, np.int64))
    with pytest.raises(ValueError, match=r"y: label 3 outside \[0, 3\)"):
        tr.fit(x, np.array([0, 1, 2, 3, 0]))
    with pytest.raises(TypeError, match=r"y: expected regression targets of dtype float32"):
        tr.fit(x, np.zeros((5, 3), np.float64))
    with pytest.raises(ValueError, match=r"x_val: expected shape \(n, 4\)"):
        tr.fit(x, np.zeros(5, np.int64), x_val=np.zeros((2, 2), np.float32), y_val=np.zeros(2, np.int64))
    with pytest.raises(TypeError, match=r"x: expected a numpy array"):
        net.forward([[0, 0, 0, 0]])
    with pytest.raises(TypeError, match="dtype"):
        trusty.MLP([2, 2], dtype="float16")


def test_callbacks_see_every_epoch_and_can_stop():
    x = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], np.float32)
    y = np.array([0, 1, 1, 0])
    seen = []

    def cb(rec):
        seen.append(rec)
        return rec["epoch"] < 7  # stop after epoch 7

    tr = trusty.Trainer(trusty.MLP([2, 8, 2], activation="tanh"), lr=0.05, epochs=50, batch_size=4)
    hist = tr.fit(x, y, callback=cb)
    assert [r["epoch"] for r in seen] == list(range(1, 8))
    assert len(hist) == 7 and tr.epoch == 7
    assert set(seen[0]["grad_norms"]) == {"0.weight", "0.bias", "2.weight", "2.bias"}


def test_regression_and_checkpoints(tmp_path):
    rng = np.random.default_rng(3)
    x = rng.uniform(-1, 1, size=(200, 2))
    y = (x[:, :1] ** 2 + 3 * x[:, :1] * x[:, 1:] + x[:, 1:] ** 2 + 5)
    net = trusty.MLP([2, 32, 1], activation="tanh", dtype="float64", seed=1)
    tr = trusty.Trainer(net, lr=0.01, epochs=300, batch_size=20)
    tr.fit(x, y)
    assert tr.evaluate(x, y)["r2"] > 0.99
    ck = tmp_path / "ck.npz"
    tr.save_checkpoint(str(ck))
    z = np.load(ck)
    np.testing.assert_array_equal(z["param/0.weight"].ravel(), net.parameters[:64])
