"""Simulated observers: reproducible, and answering with the model's p(correct)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn


def test_same_key_same_study(mvp_model, seed_truth):
    a = pn.simulate_trials(jax.random.PRNGKey(5), mvp_model, seed_truth, 50)
    b = pn.simulate_trials(jax.random.PRNGKey(5), mvp_model, seed_truth, 50)
    c = pn.simulate_trials(jax.random.PRNGKey(6), mvp_model, seed_truth, 50)
    np.testing.assert_array_equal(a.stimuli, b.stimuli)
    np.testing.assert_array_equal(a.responses, b.responses)
    assert not np.array_equal(a.stimuli, c.stimuli)


def test_design_is_uniform_in_angle_and_radius():
    ref, probe = pn.probes_around(jax.random.PRNGKey(0), 20000, (0.3, -0.1), 0.25)
    delta = np.asarray(probe - ref)
    r = np.hypot(*delta.T)
    assert r.max() <= 0.25 + 1e-6
    np.testing.assert_allclose(np.mean(r), 0.125, atol=0.003)
    np.testing.assert_allclose(np.mean(delta, 0), 0.0, atol=0.003)
    np.testing.assert_allclose(np.asarray(ref[0]), [0.3, -0.1], rtol=1e-6)


def test_response_rate_matches_p_correct(mvp_model):
    params = {"log_diag": jnp.log(jnp.array([0.01, 0.01]))}
    n = 20000
    ref = np.zeros((n, 2))
    probe = np.tile([0.1, 0.0], (n, 1))  # d = 1
    y = pn.simulate_responses(jax.random.PRNGKey(1), mvp_model, params, ref, probe)
    p = float(mvp_model.predict_prob(params, (ref[0], probe[0])))
    assert abs(y.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"num_trials": 0}, "num_trials"), ({"max_radius": 0.0}, "max_radius"),
     ({"ref": (0.0, float("nan"))}, "ref")],
)
def test_bad_design_arguments(mvp_model, seed_truth, kwargs, match):
    args = dict(num_trials=10, ref=(0.0, 0.0), max_radius=0.25) | kwargs
    with pytest.raises(ValueError, match=match):
        pn.simulate_trials(jax.random.PRNGKey(0), mvp_model, seed_truth, **args)
