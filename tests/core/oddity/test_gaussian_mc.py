"""The reduced Gaussian oddity rule against psyphy's layout and plain autodiff."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.core.oddity.gaussian_mc import (
    GaussianDraws,
    gaussian_draws,
    gaussian_mc_p_correct,
    whitened_factors,
)
from psyphy_numpyro.core.oddity.psyphy_draws import (
    oddity_p_correct,
    standard_normal_draws,
)

H, EPS = 1e-2, 1e-6


def field(input_dim, n, seed=0):
    prior = pn.Prior(input_dim=input_dim, basis_degree=3, extra_embedding_dims=1)
    W = prior.sample_params(jax.random.PRNGKey(seed))["W"]
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.6, 0.6, (n, input_dim)).astype(np.float32)
    cmp = np.clip(ref + rng.normal(0, 0.25, (n, input_dim)), -1, 1).astype(np.float32)
    return wishart_sqrt(W, ref, 3), wishart_sqrt(W, cmp, 3), jnp.asarray(ref), jnp.asarray(cmp)


@pytest.mark.parametrize("input_dim", [1, 2, pytest.param(3, marks=pytest.mark.slow)])
def test_same_p_correct_as_psyphys_layout_within_monte_carlo_error(input_dim):
    U_r, U_c, ref, cmp = field(input_dim, 40)
    S = 100_000
    ours = jax.jit(lambda z: gaussian_mc_p_correct(
        U_r, U_c, ref, cmp, GaussianDraws(z), diag_term=EPS, bandwidth=H, clip=0.0))(
        jax.random.normal(jax.random.PRNGKey(1), (2 * input_dim, S)))
    noise = standard_normal_draws(jax.random.PRNGKey(2), None, S, input_dim + 1, input_dim)
    theirs = jax.jit(lambda nz: oddity_p_correct(
        U_r, U_c, ref, cmp, nz, diag_term=EPS, bandwidth=H, clip=0.0))(noise)
    se = np.sqrt(2 * 0.25 / S)
    assert np.max(np.abs(np.asarray(ours) - np.asarray(theirs))) < 4.5 * se
    assert np.ptp(np.asarray(theirs)) > 0.1  # the trials differ: a real comparison


def plain_reduced_p(U_r, U_c, ref, cmp, z):
    """Straightforward reduced rule, differentiated by JAX autodiff."""
    P, Q, g = whitened_factors(U_r, U_c, ref, cmp, EPS)
    d = g.shape[-1]
    u = jnp.einsum("nij,js->nis", P, z[:d])
    w = jnp.einsum("nij,js->nis", Q, z[d:]) + g[..., None]
    delta = jnp.sum(w * w, 1) - jnp.abs(jnp.sum(w * u, 1)) - 0.75 * jnp.sum(u * u, 1)
    return jnp.mean(jax.nn.sigmoid(delta / H), -1)


@pytest.mark.parametrize("chunk", [7, 1000])  # 7 does not divide 50: padding
def test_custom_gradient_equals_autodiff_of_the_plain_rule(chunk):
    prior = pn.Prior(input_dim=2, basis_degree=3, extra_embedding_dims=1)
    W0 = prior.sample_params(jax.random.PRNGKey(3))["W"]
    rng = np.random.default_rng(1)
    ref = jnp.asarray(rng.uniform(-0.6, 0.6, (50, 2)), jnp.float32)
    cmp = ref + jnp.asarray(rng.normal(0, 0.06, (50, 2)), jnp.float32)
    y = jnp.asarray(rng.integers(0, 2, 50))
    z = jax.random.normal(jax.random.PRNGKey(4), (4, 500))

    def loglik(W, p_fn):
        p = p_fn(wishart_sqrt(W, ref, 3), wishart_sqrt(W, cmp, 3))
        return jnp.sum(y * jnp.log(p) + (1 - y) * jnp.log1p(-p))

    ours = jax.jit(jax.value_and_grad(lambda W: loglik(W, lambda a, b: gaussian_mc_p_correct(
        a, b, ref, cmp, GaussianDraws(z), diag_term=EPS, bandwidth=H, clip=0.0,
        chunk=chunk))))
    plain = jax.jit(jax.value_and_grad(
        lambda W: loglik(W, lambda a, b: plain_reduced_p(a, b, ref, cmp, z))))
    (v1, g1), (v2, g2) = ours(W0), plain(W0)
    np.testing.assert_allclose(v1, v2, rtol=1e-5)
    np.testing.assert_allclose(g1, g2, rtol=1e-3, atol=1e-3 * float(jnp.max(jnp.abs(g2))))


def test_rotations_make_each_trials_draws_independent():
    U_r, U_c, ref, cmp = field(2, 1)
    n, S = 400, 200
    ref_n, cmp_n = jnp.repeat(ref, n, 0), jnp.repeat(cmp, n, 0)
    U_rn, U_cn = jnp.repeat(U_r, n, 0), jnp.repeat(U_c, n, 0)

    def p(draws):
        return np.asarray(jax.jit(lambda dr: gaussian_mc_p_correct(
            U_rn, U_cn, ref_n, cmp_n, dr, diag_term=EPS, bandwidth=H, clip=0.0))(draws))

    shared = p(gaussian_draws(jax.random.PRNGKey(0), None, S, 2))
    rotated = p(gaussian_draws(jax.random.PRNGKey(0), n, S, 2))
    assert np.ptp(shared) == 0.0
    # independent estimates spread like plain Monte Carlo: sd = sqrt(p(1-p)/S)
    expected_sd = np.sqrt(rotated.mean() * (1 - rotated.mean()) / S)
    assert 0.8 * expected_sd < rotated.std() < 1.2 * expected_sd


@pytest.mark.parametrize(  # 7: sets gathered across chunk edges
    "chunk", [256, pytest.param(7, marks=pytest.mark.slow)])
def test_trials_estimates_are_nearly_independent_across_trials(chunk):
    # The rotations keep each point's norm, so trials that share a point set
    # share its radii's sampling error; with a pool of sets the mean over many
    # copies of one trial must still spread like n independent estimates.
    U_r, U_c, ref, cmp = field(2, 1)
    n, S, keys = 600, 100, 120
    rep = [jnp.repeat(a, n, 0) for a in (U_r, U_c, ref, cmp)]
    mean_p = jax.jit(lambda k: jnp.mean(gaussian_mc_p_correct(
        *rep, gaussian_draws(k, n, S, 2), diag_term=EPS, bandwidth=H, clip=0.0,
        chunk=chunk)))
    means = np.array([float(mean_p(jax.random.PRNGKey(k))) for k in range(keys)])
    p = means.mean()
    independent_sd = np.sqrt(p * (1 - p) / (S * n))
    assert 0.75 * independent_sd < means.std(ddof=1) < 1.35 * independent_sd
    one_set = jax.jit(lambda k: jnp.mean(gaussian_mc_p_correct(
        *rep, GaussianDraws(jax.random.normal(k, (4, S)),
                            jax.random.orthogonal(jax.random.fold_in(k, 1), 4, (n,))),
        diag_term=EPS, bandwidth=H, clip=0.0, chunk=chunk)))
    common = np.array([float(one_set(jax.random.PRNGKey(k))) for k in range(keys)])
    # one set rotated per trial (no pool): the radii's error is common to all
    assert common.std(ddof=1) > 3 * independent_sd


def test_rejects_draws_of_the_wrong_size():
    U_r, U_c, ref, cmp = field(2, 5)
    with pytest.raises(ValueError, match="rows"):
        gaussian_mc_p_correct(U_r, U_c, ref, cmp, gaussian_draws(jax.random.PRNGKey(0), None,
                              10, 3), diag_term=EPS, bandwidth=H, clip=0.0)
    with pytest.raises(ValueError, match="rotations for 4 trials"):
        gaussian_mc_p_correct(U_r, U_c, ref, cmp, gaussian_draws(jax.random.PRNGKey(0), 4,
                              10, 2), diag_term=EPS, bandwidth=H, clip=0.0)
