"""The Laplace core: laplace_approximation, fisher_precision and friends.

The Laplace approximation of any NumPyro model (a conjugate normal), the Fisher
precision written out by hand, gaussian_from_precision's null directions and
indefinite curvature, and the embedding's rotation directions.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from psyphy_numpyro.core.infer.laplace import (
    fisher_precision,
    gaussian_from_precision,
    laplace_approximation,
    rotation_directions,
)
from psyphy_numpyro.core.links import oddity_mvp_logits
from psyphy_numpyro.posterior.laplace import LaplacePosterior

SCALE, SLOPE = 0.5, 1.5  # the conftest model's prior sd and task slope


def test_fisher_precision_is_prior_plus_fisher_information(mvp_model, seed_map_fit,
                                                           seed_data):
    trials = mvp_model.trials(seed_data)
    x = jnp.asarray(seed_map_fit.params["log_diag"])

    def logits(v):
        d = jnp.sqrt(jnp.sum((trials.probe - trials.ref) ** 2 / (jnp.exp(v) + 1e-6), -1))
        return oddity_mvp_logits(d, SLOPE)

    J, p = np.asarray(jax.jacfwd(logits)(x)), np.asarray(jax.nn.sigmoid(logits(x)))
    want = np.eye(2) / SCALE**2 + (J.T * (p * (1 - p))) @ J
    got = fisher_precision(mvp_model, seed_map_fit.params, trials)
    np.testing.assert_allclose(got, want, rtol=1e-3)


def test_laplace_of_any_numpyro_model_uses_its_log_density():
    import numpyro
    import numpyro.distributions as dist

    def model(y=None):
        mu = numpyro.sample("mu", dist.Normal(0.0, 2.0))
        numpyro.sample("y", dist.Normal(mu, 1.0).expand([3]).to_event(1), obs=y)

    y = jnp.array([0.5, 1.0, 2.0])
    res = laplace_approximation(model, {"mu": jnp.array(1.0)}, y)
    # conjugate normal: precision 1/4 + 3, whatever the expansion point
    np.testing.assert_allclose(res.precision, [[3.25]], rtol=1e-5)
    np.testing.assert_allclose(res.cov, [[1 / 3.25]], rtol=1e-5)


def test_gaussian_from_precision_null_directions_and_indefinite():
    mean = {"x": jnp.zeros(3)}
    res = gaussian_from_precision(mean, np.diag([1.0, 2.0, 3.0]),
                                  null_directions=np.array([[0.0], [0.0], [1.0]]))
    np.testing.assert_allclose(res.cov, np.diag([1.0, 0.5, 0.0]), atol=1e-12)
    np.testing.assert_allclose(res.scale @ res.scale.T, res.cov, atol=1e-12)
    with pytest.warns(RuntimeWarning, match="not a local maximum"):
        bad = gaussian_from_precision({"x": jnp.zeros(2)}, np.diag([1.0, -1.0]))
    assert bad.scale is None
    post = LaplacePosterior(bad, None, None, {})
    with pytest.raises(ValueError, match="not positive definite"):
        post.sample(3, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="precision must have shape"):
        gaussian_from_precision(mean, np.eye(2))


def test_rotation_directions_span_the_embedding_rotations():
    W = np.asarray(jax.random.normal(jax.random.PRNGKey(0), (3, 3, 2, 3)))
    Q = rotation_directions({"W": W})
    assert Q.shape == (W.size, 3)  # e (e - 1) / 2 with e = 3
    np.testing.assert_allclose(Q.T @ Q, np.eye(3), atol=1e-10)
    # the tangent of a small rotation lies in their span
    A = np.array([[0.0, 0.3, -0.2], [-0.3, 0.0, 0.5], [0.2, -0.5, 0.0]])
    t = (W @ A).ravel()
    np.testing.assert_allclose(Q @ (Q.T @ t), t, atol=1e-10)
    assert rotation_directions({"W": np.zeros((3, 3, 2, 3))}).shape == (W.size, 0)
