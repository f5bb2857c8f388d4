"""Task mappings: log-odds against the tanh formulas, stability, inverses."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn

D = jnp.linspace(0.0, 3.0, 31)


@pytest.mark.parametrize(
    "task, formula",
    [
        (pn.OddityTask(slope=1.5), lambda d: 1 / 3 + (2 / 3) * 0.5 * (np.tanh(1.5 * d) + 1)),
        (pn.TwoAFC(slope=2.0), lambda d: 0.5 + 0.5 * np.tanh(2.0 * d)),
    ],
    ids=["oddity", "2afc"],
)
def test_sigmoid_of_logits_is_the_tanh_mapping(task, formula):
    np.testing.assert_allclose(jax.nn.sigmoid(task.logits(D)), formula(np.asarray(D)),
                               rtol=1e-6)
    # inverse mapping recovers d
    p = formula(np.asarray(D[1:20]))
    np.testing.assert_allclose(task.discriminability(p), D[1:20], rtol=1e-4)


@pytest.mark.parametrize("task", [pn.OddityTask(), pn.TwoAFC()], ids=["oddity", "2afc"])
def test_log_probabilities_stay_finite_where_tanh_saturates(task):
    d = jnp.array([5.0, 20.0, 100.0])
    logits = task.logits(d)
    assert jnp.all(jnp.isfinite(logits))
    # log(1 - p) = -softplus(logits) must be very negative but finite, with a gradient
    grad = jax.grad(lambda x: -jax.nn.softplus(task.logits(x)).sum())(d)
    assert jnp.all(jnp.isfinite(grad))
