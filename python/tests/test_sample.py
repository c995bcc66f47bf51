"""trusty.sample on Python callables: draws as numpy, the known answer, clear errors."""
import json
import subprocess
import sys

import numpy as np
import pytest

import trusty
from conftest import BUILD, run_cli

COV = np.array([[1.0, 0.99], [0.99, 1.0]])
PREC = np.linalg.inv(COV)


def correlated(theta):
    g = -PREC @ theta
    return 0.5 * theta @ g, g


def test_correlated_gaussian_with_a_dense_metric(tmp_path):
    fit = trusty.sample(correlated, dim=2, metric="dense_e", chains=4, warmup=500, samples=1000, seed=3,
                        out=tmp_path / "run")
    d = fit["draws"]
    assert d.shape == (4, 1000, 2)
    assert fit["names"] == ["theta.1", "theta.2"]
    s = {p["name"]: p for p in fit["summary"]["parameters"]}
    for i, name in enumerate(["theta.1", "theta.2"]):
        assert abs(s[name]["mean"]) < 4 * s[name]["mcse_mean"]          # exact mean 0
        assert abs(s[name]["sd"] - 1) < 4 * s[name]["mcse_sd"] + 0.02   # exact sd 1
        assert s[name]["rhat"] < 1.01
    assert abs(np.corrcoef(d.reshape(-1, 2).T)[0, 1] - 0.99) < 0.005
    assert fit["inv_metric"][0].shape == (2, 2)
    assert fit["divergent__"].shape == (4, 1000) and fit["divergent__"].sum() == 0
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "chain_1.csv", "chain_2.csv", "chain_3.csv", "chain_4.csv", "summary.json"]
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["parameters"][1]["name"] == "theta.1"


def test_hmclet_with_a_learned_path_length():
    # HMCLET's default: the path length comes from U-turn probes in burn-in (docs/sample.md).
    fit = trusty.sample(correlated, dim=2, algorithm="hmclet", metric="dense_e", chains=4, warmup=500, samples=1000,
                        seed=4)
    s = {p["name"]: p for p in fit["summary"]["parameters"]}
    for name in ["theta.1", "theta.2"]:
        assert abs(s[name]["mean"]) < 4 * s[name]["mcse_mean"]
        assert abs(s[name]["sd"] - 1) < 4 * s[name]["mcse_sd"] + 0.02
        assert s[name]["rhat"] < 1.01
    assert fit["n_leapfrog__"].max() > 1


def test_same_seed_same_draws_any_thread_count():
    a = trusty.sample(correlated, dim=2, chains=2, warmup=100, samples=100, seed=5, threads=1)
    b = trusty.sample(correlated, dim=2, chains=2, warmup=100, samples=100, seed=5, threads=2)
    assert np.array_equal(a["draws"], b["draws"])


@pytest.mark.parametrize("fn,err,words", [
    (lambda th: (0.0, np.zeros(3)), ValueError, "gradient of shape (2,), got (3,)"),
    (lambda th: "nope", TypeError, "(log_density, gradient) tuple"),
    (lambda th: ("x", np.zeros(2)), TypeError, "number as the first element"),
    (lambda th: (float("nan"), np.zeros(2)), ValueError, "no initial point with a finite log density"),
])
def test_bad_callables_are_named(fn, err, words):
    with pytest.raises(err) as e:
        trusty.sample(fn, dim=2, chains=1, warmup=5, samples=5)
    assert words in str(e.value)


def test_bad_options_are_named():
    with pytest.raises(TypeError, match="unknown option 'chain'"):
        trusty.sample(correlated, dim=2, chain=2)
    with pytest.raises(ValueError, match="chains"):
        trusty.sample(correlated, dim=2, chains=0)
    with pytest.raises(ValueError, match="metric"):
        trusty.sample(correlated, dim=2, metric="full")
    with pytest.raises(TypeError, match="log_density"):
        trusty.sample(3, dim=2)


def test_a_python_exception_reaches_the_caller():
    def boom(theta):
        raise KeyError("inside the model")
    with pytest.raises(KeyError, match="inside the model"):
        trusty.sample(boom, dim=2, chains=2, warmup=5, samples=5)


def test_report_draws_sampler_figures(trusty_bin, root, tmp_path):
    run = tmp_path / "reg"
    r = run_cli(trusty_bin, "sample", root / "examples" / "sample_regression.toml", "--out", run, "--quiet")
    assert r.returncode == 0, r.stderr
    out = subprocess.run([sys.executable, "-m", "trusty.report", str(run)], capture_output=True, text=True,
                         env={"PYTHONPATH": str(BUILD / "python"), "PATH": "/usr/bin:/bin"})
    assert out.returncode == 0, out.stderr
    assert {p.stem for p in (run / "report").glob("*.png")} == {"trace", "rank", "pairs"}
