"""Wishart covariance field against psyphy 0.0.5's WPPM."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from psyphy_numpyro.core.covariance import (
    covariance_from_sqrt,
    lower_solve,
    small_cholesky,
    wishart_covariance,
    wishart_sqrt,
)

psyphy_model = pytest.importorskip("psyphy.model")

DEGREE = 3
DIAG = 1e-6


def _psyphy_model(input_dim):
    prior = psyphy_model.Prior(input_dim=input_dim, basis_degree=DEGREE)
    model = psyphy_model.WPPM(
        prior,
        psyphy_model.OddityTask(),
        psyphy_model.GaussianNoise(),
        input_dim=input_dim,
        diag_term=DIAG,
    )
    return model, prior.sample_params(jax.random.PRNGKey(0))["W"]


def _points(shape):
    return jax.random.uniform(jax.random.PRNGKey(1), shape, minval=-1.0, maxval=1.0)


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_matches_psyphy_local_covariance(input_dim):
    model, W = _psyphy_model(input_dim)
    x = _points((32, input_dim))
    # psyphy evaluates one point at a time; vmap is how its own code batches it
    def psyphy_field(xi):
        return model.local_covariance({"W": W}, xi), model._compute_sqrt({"W": W}, xi)

    expected, expected_U = jax.jit(jax.vmap(psyphy_field))(x)
    got = wishart_covariance(W, x, DEGREE, DIAG)
    assert got.shape == (32, input_dim, input_dim)
    # both are float32 sums of at most 64 products: agree to float rounding
    scale = np.abs(expected).max()
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * scale)
    np.testing.assert_allclose(
        wishart_sqrt(W, x, DEGREE), expected_U, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_symmetric_positive_definite(input_dim):
    _, W = _psyphy_model(input_dim)
    sigma = wishart_covariance(W, _points((500, input_dim)), DEGREE, DIAG)
    np.testing.assert_array_equal(sigma, jnp.swapaxes(sigma, -1, -2))
    assert float(jnp.linalg.eigvalsh(sigma).min()) > 0.0
    assert bool(jnp.all(jnp.isfinite(jnp.linalg.cholesky(sigma))))


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_batched_jit_and_vmap_agree(input_dim):
    _, W = _psyphy_model(input_dim)
    x = _points((2, 3, input_dim))
    eager = wishart_covariance(W, x, DEGREE, DIAG)
    assert eager.shape == (2, 3, input_dim, input_dim)
    jitted = jax.jit(wishart_covariance, static_argnums=2)(W, x, DEGREE, DIAG)
    mapped = jax.vmap(lambda xi: wishart_covariance(W, xi, DEGREE, DIAG))(x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-5, atol=1e-9)
    np.testing.assert_allclose(mapped, eager, rtol=1e-5, atol=1e-9)
    assert wishart_sqrt(W, x[0, 0], DEGREE).shape == (input_dim, input_dim + 1)


def test_constant_weights_give_constant_field():
    W0 = jax.random.normal(jax.random.PRNGKey(0), (2, 3))
    W = jnp.zeros((DEGREE + 1, DEGREE + 1, 2, 3)).at[0, 0].set(W0)
    sigma = wishart_covariance(W, _points((10, 2)), DEGREE, 0.5)
    expected = W0 @ W0.T + 0.5 * jnp.eye(2)
    np.testing.assert_allclose(sigma, jnp.broadcast_to(expected, (10, 2, 2)), rtol=1e-6)


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_gradient_is_finite_and_linear_in_W(input_dim):
    _, W = _psyphy_model(input_dim)
    x = _points((50, input_dim))

    def total(W):
        return jnp.sum(wishart_covariance(W, x, DEGREE, DIAG))

    grad = jax.grad(total)(W)
    assert grad.shape == W.shape
    assert bool(jnp.all(jnp.isfinite(grad)))
    # Sigma - eps I is quadratic in W, so <grad, W> = 2 (total - eps * d * n)
    offset = DIAG * input_dim * 50
    np.testing.assert_allclose(
        jnp.vdot(grad, W), 2 * (total(W) - offset), rtol=1e-4
    )


def test_covariance_from_sqrt_is_u_ut_plus_eps():
    U = jax.random.normal(jax.random.PRNGKey(0), (4, 2, 3))
    expected = U @ jnp.swapaxes(U, -1, -2) + 0.1 * jnp.eye(2)
    np.testing.assert_allclose(covariance_from_sqrt(U, 0.1), expected, rtol=1e-6)


def test_mismatched_weights_raise():
    W = jnp.zeros((DEGREE + 1, DEGREE + 1, 2, 3))
    with pytest.raises(ValueError, match="degree"):
        wishart_sqrt(W, jnp.zeros((5, 2)), DEGREE + 1)
    with pytest.raises(ValueError):
        wishart_sqrt(W, jnp.zeros((5, 3)), DEGREE)


@pytest.mark.parametrize("d", [1, 2, 3])
def test_unrolled_cholesky_and_solve_equal_lapacks(d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(50, d, d + 1))
    S = X @ np.swapaxes(X, -1, -2) + 1e-3 * np.eye(d)
    L = small_cholesky(jnp.asarray(S))
    np.testing.assert_allclose(L, np.linalg.cholesky(S), rtol=1e-4, atol=1e-5)
    B = rng.normal(size=(50, d, 3))
    np.testing.assert_allclose(lower_solve(L, jnp.asarray(B)),
                               np.linalg.solve(np.linalg.cholesky(S), B),
                               rtol=1e-3, atol=1e-4)
