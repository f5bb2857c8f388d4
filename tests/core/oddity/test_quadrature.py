"""The quadrature rule against a large Monte Carlo reference."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.covariance import wishart_sqrt
from psyphy_numpyro.core.oddity.gaussian_mc import GaussianDraws, gaussian_mc_p_correct
from psyphy_numpyro.core.oddity.quadrature import quadrature_p_correct, quadrature_rule

EPS = 1e-6
REF_SAMPLES = 2**20


def trials(n=60, seed=0, spread=0.08):
    prior = pn.Prior(input_dim=2, basis_degree=4, extra_embedding_dims=1)
    W = prior.sample_params(jax.random.PRNGKey(seed))["W"]
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.7, 0.7, (n, 2)).astype(np.float32)
    cmp = np.clip(ref + rng.normal(0, spread, (n, 2)), -1, 1).astype(np.float32)
    return wishart_sqrt(W, ref, 4), wishart_sqrt(W, cmp, 4), jnp.asarray(ref), jnp.asarray(cmp)


def monte_carlo(args, bandwidth):
    z = jax.random.normal(jax.random.PRNGKey(11), (4, REF_SAMPLES))
    return np.asarray(jax.jit(lambda z: gaussian_mc_p_correct(
        *args, GaussianDraws(z), diag_term=EPS, bandwidth=bandwidth, clip=0.0,
        chunk=8))(z))


def quadrature(args, bandwidth, nodes):
    return np.asarray(jax.jit(lambda *a: quadrature_p_correct(
        *a, quadrature_rule(*nodes), diag_term=EPS, bandwidth=bandwidth, clip=0.0))(*args))


@pytest.mark.parametrize("bandwidth", [1e-2, pytest.param(0.1, marks=pytest.mark.slow)])
def test_fine_rule_equals_a_large_monte_carlo_reference(bandwidth):
    args = trials()
    truth = monte_carlo(args, bandwidth)
    se = np.sqrt(truth * (1 - truth) / REF_SAMPLES)
    err = quadrature(args, bandwidth, (16, 10, 16)) - truth
    assert np.ptp(truth) > 0.3  # chance to near 1: a real range of trials
    assert np.max(np.abs(err) / se) < 4


def test_default_rule_beats_plain_monte_carlo_with_2000_samples():
    args = trials(seed=1)
    truth = quadrature(args, 1e-2, (16, 10, 16))
    rms_quadrature = np.sqrt(np.mean((quadrature(args, 1e-2, (6, 4, 6)) - truth) ** 2))
    # plain Monte Carlo's rms error with 2,000 samples: sqrt(p (1 - p) / 2000)
    rms_mc = np.sqrt(np.mean(truth * (1 - truth) / 2000))
    assert quadrature_rule().num_nodes == 144
    assert rms_quadrature < 0.5 * rms_mc


@pytest.mark.slow
def test_identical_stimuli_give_chance_and_the_gradient_is_finite():
    U_r, _, ref, _ = trials(n=5)
    p = quadrature_p_correct(U_r, U_r, ref, ref, quadrature_rule(), diag_term=EPS,
                             bandwidth=1e-2, clip=0.0)
    np.testing.assert_allclose(p, 1 / 3, atol=2e-3)
    prior = pn.Prior(input_dim=2, basis_degree=4, extra_embedding_dims=1)
    W = prior.sample_params(jax.random.PRNGKey(0))["W"]
    cmp = ref + 0.05

    def total(W):
        return jnp.sum(quadrature_p_correct(
            wishart_sqrt(W, ref, 4), wishart_sqrt(W, cmp, 4), ref, cmp, quadrature_rule(),
            diag_term=EPS, bandwidth=1e-2, clip=1e-6))

    grad = jax.grad(total)(W)
    assert np.all(np.isfinite(grad)) and np.any(grad != 0)


def test_bad_node_counts_and_dimensions_are_rejected():
    with pytest.raises(ValueError, match="num_chords"):
        quadrature_rule(6, 4, 0)
    with pytest.raises(ValueError, match="quadrature"):
        pn.OddityTaskConfig(quadrature=(6, 4))
    with pytest.raises(ValueError, match="estimator"):
        pn.OddityTaskConfig(estimator="exact")
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    with pytest.raises(ValueError, match="input_dim 2"):
        pn.WPPM(pn.Prior(input_dim=3, basis_degree=2), task, input_dim=3)
    with pytest.raises(ValueError, match="GaussianNoise"):
        pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task, pn.StudentTNoise())
    wide = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature", bandwidth=0.3))
    with pytest.raises(ValueError, match="bandwidth"):
        pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), wide)
