"""The Laplace eigenbasis against a Gaussian posterior known in closed form."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import numpyro.distributions as dist
import pytest
from numpyro.infer import MCMC, NUTS

from psyphy_numpyro.core.infer.laplace_basis import (
    LinearMap,
    laplace_basis,
    laplace_chains,
    polish_mode,
)

# y ~ N(A x, 0.3^2 I), x ~ N(0, I): the posterior of x is Gaussian, with
# precision I + A'A / 0.09; A's rows make it long and thin (correlation -0.99)
A = np.array([[3.0, 2.9], [0.1, -0.2], [1.0, 1.1]])
Y = np.array([1.0, 0.5, -0.3])
PRECISION = np.eye(2) + A.T @ A / 0.09
COV = np.linalg.inv(PRECISION)
MEAN = COV @ A.T @ Y / 0.09


def gaussian(y):
    x = numpyro.sample("x", dist.Normal(0.0, 1.0).expand([2]).to_event(1))
    numpyro.sample("y", dist.Normal(jnp.asarray(A, jnp.float32) @ x, 0.3).to_event(1),
                   obs=y)


def test_the_map_whitens_the_exact_posterior():
    basis = laplace_basis(gaussian, {"x": jnp.array([-3.0, 4.0])}, "x", jnp.asarray(Y))
    np.testing.assert_allclose(basis.shift, MEAN, atol=1e-4)  # L-BFGS found the mode
    M = np.asarray(basis.matrix, np.float64)
    np.testing.assert_allclose(M @ COV @ M.T, np.eye(2), atol=1e-4)
    z = jnp.array([[0.5, -2.0], [1.0, 0.0]])
    np.testing.assert_allclose(basis(basis.inv(z)), z, atol=1e-5)
    np.testing.assert_allclose(basis.log_abs_det_jacobian(z, z),
                               [0.5 * np.linalg.slogdet(PRECISION)[1]] * 2, rtol=1e-4)


def test_nuts_in_the_basis_samples_the_same_posterior_in_short_trajectories():
    model, starts = laplace_chains(gaussian, "x", {"x": jnp.zeros(2)},
                                   jax.random.PRNGKey(0), 2, (jnp.asarray(Y),), {})
    assert starts["x_base"].shape == (2, 2)
    mcmc = MCMC(NUTS(model), num_warmup=200, num_samples=2000, num_chains=2,
                chain_method="vectorized", progress_bar=False)
    mcmc.run(jax.random.PRNGKey(1), jnp.asarray(Y), init_params=starts,
             extra_fields=("num_steps",))
    x = np.asarray(mcmc.get_samples()["x"], np.float64)
    sd = np.sqrt(np.diag(COV))
    np.testing.assert_array_less(np.abs(x.mean(0) - MEAN), 0.1 * sd)
    np.testing.assert_allclose(x.std(0), sd, rtol=0.1)
    assert np.corrcoef(x.T)[0, 1] < -0.98
    # standard normal coordinates: a step or three per iteration, not dozens
    assert np.mean(mcmc.get_extra_fields()["num_steps"]) < 4


def test_no_basis_where_the_hessian_is_not_positive_definite():
    def two_modes():  # the start, 0, is the saddle between them
        numpyro.sample("x", dist.MixtureSameFamily(
            dist.Categorical(jnp.array([0.5, 0.5])),
            dist.Normal(jnp.array([-2.0, 2.0]), 0.5)).expand([1]).to_event(1))

    np.testing.assert_allclose(polish_mode(two_modes, {"x": jnp.zeros(1)})["x"], 0.0)
    assert laplace_basis(two_modes, {"x": jnp.zeros(1)}, "x") is None
    assert laplace_chains(two_modes, "x", {"x": jnp.zeros(1)}, jax.random.PRNGKey(0), 2,
                          (), {}) is None


def test_linear_map_inverts_its_matrix():
    M = jnp.array([[2.0, 1.0], [0.0, 3.0]])
    T = LinearMap(jnp.array([1.0, -1.0]), M)
    x = jnp.array([0.25, 2.0])
    np.testing.assert_allclose(T(x), M @ (x - T.shift))
    np.testing.assert_allclose(T.inv(T(x)), x, rtol=1e-6)


def test_bad_input_is_refused_before_compiling(no_compilation):
    x, column, y, key = (jnp.zeros(2), jnp.zeros((2, 1)), jnp.asarray(Y),
                         jax.random.PRNGKey(0))
    with no_compilation(), pytest.raises(ValueError, match="site 'z' as a vector"):
        laplace_basis(gaussian, {"x": x}, "z", y)
    with no_compilation(), pytest.raises(ValueError, match="site 'x' as a vector"):
        laplace_basis(gaussian, {"x": column}, "x", y)
    with no_compilation(), pytest.raises(ValueError, match="num_chains"):
        laplace_chains(gaussian, "x", {"x": x}, key, 0, (y,), {})
