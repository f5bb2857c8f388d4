"""Procrustes alignment of W draws leaves the field unchanged and undoes rotations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.gauge import align_embedding


def random_orthogonal(key, n, count):
    return jax.random.orthogonal(key, n, (count,))


def test_alignment_undoes_random_rotations_and_keeps_the_field():
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=3, extra_embedding_dims=1))
    W = model.init_params(jax.random.PRNGKey(0))["W"]
    R = random_orthogonal(jax.random.PRNGKey(1), 3, 6)
    R = R.at[0].multiply(jnp.array([1.0, 1.0, -1.0]))  # a reflection too
    noise = 1e-3 * jax.random.normal(jax.random.PRNGKey(2), (6, *W.shape))
    draws = jnp.einsum("...e,kef->k...f", W, R) + noise  # rotated, slightly perturbed
    aligned = align_embedding(draws.reshape(2, 3, *W.shape), W).reshape(draws.shape)
    assert float(jnp.max(jnp.abs(draws - W))) > 0.1  # the rotations moved W a lot
    np.testing.assert_allclose(aligned, jnp.broadcast_to(W, aligned.shape), atol=3e-2 * float(jnp.max(jnp.abs(W))))
    x = pn.reference_grid(4)
    np.testing.assert_allclose(pn.covariance_field(model, {"W": aligned}, x),
                               pn.covariance_field(model, {"W": draws}, x), rtol=1e-4,
                               atol=1e-8)


def test_shapes_are_checked():
    with pytest.raises(ValueError, match="shape"):
        align_embedding(jnp.zeros((4, 3, 3, 2, 3)), jnp.zeros((3, 3, 2, 2)))
