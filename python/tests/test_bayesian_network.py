"""trusty.BayesianNetwork from numpy data: gradients, sampling, predictive, MAP and VI."""
import numpy as np
import pytest

import trusty


def gap_data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    u = rng.uniform(-1, 1, (n, 1))
    x = np.where(u < 0, -1 + 0.7 * (u + 1), 0.3 + 0.7 * u)  # no data in (-0.3, 0.3)
    return x, np.sin(3 * x) + 0.1 * rng.normal(size=x.shape)


def test_gradient_matches_finite_differences():
    x, y = gap_data()
    bnn = trusty.BayesianNetwork(x, y, hidden=[6], sample_noise=True)
    assert bnn.dim == 1 * 6 + 6 + 6 + 1 + 1 and bnn.names[-1] == "sigma"
    th = np.random.default_rng(1).normal(size=bnn.dim) * 0.5
    lp, g = bnn.log_density(th)
    eps = 1e-6
    for i in range(bnn.dim):
        e = np.zeros(bnn.dim)
        e[i] = eps
        num = (bnn.log_density(th + e)[0] - bnn.log_density(th - e)[0]) / (2 * eps)
        assert abs(num - g[i]) <= 1e-5 * max(1, abs(g[i]))


def test_predictive_widens_in_the_gap_and_map_has_no_spread():
    x, y = gap_data()
    bnn = trusty.BayesianNetwork(x, y, hidden=[10], noise=0.1)
    fit = bnn.sample(chains=2, warmup=300, samples=300, seed=2)
    assert fit["draws"].shape == (2, 300, bnn.dim)
    inside, outside = np.array([[0.0]]), np.array([[-0.7], [0.7]])
    p_in, p_out = bnn.predict(fit, inside), bnn.predict(fit, outside)
    assert p_in["sd_network"].mean() > 2 * p_out["sd_network"].mean()
    assert np.all(p_in["sd"] >= 0.1)  # predictive sd includes the noise
    assert len(p_in["quantiles"]) == 3 and p_in["quantiles"][0] < p_in["quantiles"][2]
    theta = bnn.fit_map()["theta"]
    p_map = bnn.predict(theta[None, :], np.vstack([inside, outside]))
    assert np.all(p_map["sd_network"] == 0)
    assert np.allclose(p_map["sd"], 0.1)


def test_bad_data_is_named():
    x, y = gap_data()
    with pytest.raises(ValueError, match="y: expected 60 rows"):
        trusty.BayesianNetwork(x, y[:5])
    with pytest.raises(ValueError, match="unknown likelihood 'poisson'"):
        trusty.BayesianNetwork(x, y, likelihood="poisson")
    with pytest.raises(ValueError, match=r"draws: expected draws of shape \(\.\.\., 31\)"):
        trusty.BayesianNetwork(x, y, hidden=[10]).predict(np.zeros((3, 5)), x)
