"""Chebyshev tensor-product basis against numpy.polynomial.chebyshev."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpy.polynomial import chebyshev as npcheb

from psyphy_numpyro.core.basis import basis_functions, chebyshev_basis, total_degree

VANDER = {
    1: lambda x, deg: npcheb.chebvander(x[..., 0], deg),
    2: lambda x, deg: npcheb.chebvander2d(x[..., 0], x[..., 1], [deg, deg]),
    3: lambda x, deg: npcheb.chebvander3d(
        x[..., 0], x[..., 1], x[..., 2], [deg, deg, deg]
    ),
}


def _points(shape):
    return jax.random.uniform(jax.random.PRNGKey(0), shape, minval=-1.0, maxval=1.0)


@pytest.mark.parametrize("degree", [0, 1, 2, 5])
def test_chebyshev_matches_numpy_with_batch_dims(degree):
    x = _points((3, 4))
    expected = npcheb.chebvander(np.asarray(x, dtype=np.float64), degree)
    got = chebyshev_basis(x, degree)
    assert got.shape == (3, 4, degree + 1)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6)


def test_chebyshev_promotes_integers_and_hits_endpoints():
    got = chebyshev_basis(jnp.array([-1, 0, 1]), 4)
    assert jnp.issubdtype(got.dtype, jnp.floating)
    # T_n(1) = 1, T_n(-1) = (-1)^n, T_n(0) = cos(n pi / 2)
    n = np.arange(5)
    np.testing.assert_allclose(got[0], (-1.0) ** n, atol=1e-6)
    np.testing.assert_allclose(got[1], np.cos(n * np.pi / 2), atol=1e-6)
    np.testing.assert_allclose(got[2], np.ones(5), atol=1e-6)


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_basis_functions_match_numpy_vander(input_dim):
    degree = 3
    x = _points((2, 5, input_dim))
    got = basis_functions(x, degree)
    assert got.shape == (2, 5) + (degree + 1,) * input_dim
    expected = VANDER[input_dim](np.asarray(x, dtype=np.float64), degree)
    np.testing.assert_allclose(
        got.reshape(2, 5, -1), expected, rtol=1e-5, atol=1e-6
    )


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_basis_functions_jit_and_vmap(input_dim):
    x = _points((6, input_dim))
    eager = basis_functions(x, 4)
    jitted = jax.jit(basis_functions, static_argnums=1)(x, 4)
    mapped = jax.vmap(lambda xi: basis_functions(xi, 4))(x)
    np.testing.assert_allclose(jitted, eager, rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(mapped, eager, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", [1, 2, 3, 4])
def test_chebyshev_gradient_matches_numpy_derivative(n):
    x = _points((7,))
    grad = jax.vmap(jax.grad(lambda xi: chebyshev_basis(xi, 4)[n]))(x)
    coef = np.zeros(n + 1)
    coef[n] = 1.0
    expected = npcheb.chebval(np.asarray(x, np.float64), npcheb.chebder(coef))
    np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_total_degree_is_index_sum(input_dim):
    degree = 3
    got = total_degree(degree, input_dim)
    assert got.shape == (degree + 1,) * input_dim
    assert jnp.issubdtype(got.dtype, jnp.integer)
    for idx in itertools.product(range(degree + 1), repeat=input_dim):
        assert int(got[idx]) == sum(idx)


@pytest.mark.parametrize(
    "call",
    [
        lambda: chebyshev_basis(jnp.zeros(3), -1),
        lambda: chebyshev_basis(jnp.zeros(3), 1.5),
        lambda: basis_functions(jnp.zeros((3, 4)), 2),
        lambda: basis_functions(jnp.zeros(()), 2),
        lambda: total_degree(2, 0),
    ],
)
def test_bad_arguments_raise_before_tracing(call):
    with pytest.raises(ValueError):
        call()
