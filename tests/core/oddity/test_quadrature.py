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


@pytest.mark.slow  # compile-heavy; runs in the whole suite
def test_chunked_gradient_matches_finite_differences():
    """The custom VJP over chunks (7 trials each, the last one short) against
    central differences of the value along random directions, in every input."""
    args = trials(n=60, seed=3)
    rule = quadrature_rule(6, 3, 6)

    def total(*a, chunk=7):
        return jnp.sum(jnp.log(quadrature_p_correct(
            *a, rule, diag_term=EPS, bandwidth=1e-2, clip=1e-6, chunk=chunk)))

    np.testing.assert_allclose(total(*args), total(*args, chunk=1024), rtol=1e-6)
    grads = jax.grad(total, argnums=(0, 1, 2, 3))(*args)
    rng = np.random.default_rng(0)
    for i, (x, g) in enumerate(zip(args, grads)):
        v = rng.normal(size=x.shape).astype(np.float32)
        h = 1e-2 * float(jnp.sqrt(jnp.mean(x * x)))  # float32: larger h is biased, smaller noisy
        plus = [a if j != i else a + h * v for j, a in enumerate(args)]
        minus = [a if j != i else a - h * v for j, a in enumerate(args)]
        numeric = (total(*plus) - total(*minus)) / (2 * h)
        assert abs(float(jnp.vdot(g, v)) - float(numeric)) < 1e-2 * abs(float(numeric)), i


def trials_3d(n=40, seed=0):
    prior = pn.Prior(input_dim=3, basis_degree=2, extra_embedding_dims=1)
    W = prior.sample_params(jax.random.PRNGKey(seed))["W"]
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.6, 0.6, (n, 3)).astype(np.float32)
    cmp = np.clip(ref + rng.normal(0, 0.12, (n, 3)), -1, 1).astype(np.float32)
    return wishart_sqrt(W, ref, 2), wishart_sqrt(W, cmp, 2), jnp.asarray(ref), jnp.asarray(cmp)


@pytest.mark.slow  # compile-heavy; runs in the whole suite
def test_3d_rule_equals_a_large_monte_carlo_reference():
    args = trials_3d()
    z = jax.random.normal(jax.random.PRNGKey(11), (6, REF_SAMPLES))
    reference = np.asarray(jax.jit(lambda z: gaussian_mc_p_correct(
        *args, GaussianDraws(z), diag_term=EPS, bandwidth=1e-2, clip=0.0, chunk=4))(z))
    assert reference.min() < 0.5 and reference.max() > 0.9  # chance to near certain

    def rule(nodes):
        return np.asarray(quadrature_p_correct(
            *args, quadrature_rule(*nodes, input_dim=3), diag_term=EPS, bandwidth=1e-2,
            clip=0.0))

    # Monte Carlo with 2,000 samples would miss by about 1e-2 rms
    assert np.sqrt(np.mean((rule((6, 4, 6)) - reference) ** 2)) < 4e-3
    assert np.sqrt(np.mean((rule((12, 6, 12)) - reference) ** 2)) < 1.5e-3
    U_r, _, ref, _ = args  # identical stimuli: chance
    chance = quadrature_p_correct(U_r, U_r, ref, ref, quadrature_rule(6, 8, 8, input_dim=3),
                                  diag_term=EPS, bandwidth=1e-2, clip=0.0)
    np.testing.assert_allclose(chance, 1 / 3, atol=5e-4)


@pytest.mark.slow  # compile-heavy; runs in the whole suite
def test_3d_gradient_matches_finite_differences():
    args = trials_3d(n=30, seed=2)
    rule = quadrature_rule(6, 4, 6, input_dim=3)

    def total(*a):
        return jnp.sum(jnp.log(quadrature_p_correct(
            *a, rule, diag_term=EPS, bandwidth=1e-2, clip=1e-6, chunk=8)))

    grads = jax.grad(total, argnums=(0, 1))(*args)
    rng = np.random.default_rng(1)
    for i, (x, g) in enumerate(zip(args[:2], grads)):
        v = rng.normal(size=x.shape).astype(np.float32)
        h = 1e-3 * float(jnp.sqrt(jnp.mean(x * x)))  # the slope varies fast here
        plus = [a if j != i else a + h * v for j, a in enumerate(args)]
        minus = [a if j != i else a - h * v for j, a in enumerate(args)]
        numeric = (total(*plus) - total(*minus)) / (2 * h)
        assert abs(float(jnp.vdot(g, v)) - float(numeric)) < 2e-2 * abs(float(numeric)), i


def test_3d_models_use_the_rule_for_a_fixed_density():
    model = pn.WPPM(pn.Prior(input_dim=3, basis_degree=2, extra_embedding_dims=1),
                    pn.OddityTask(), pn.GaussianNoise(), input_dim=3)
    spec = model.spec.fixed_density_spec()
    assert spec.estimator == "quadrature" and not spec.needs_draws
    U_r, U_p, ref, probe = trials_3d(n=10)
    p = spec.p_correct_factors(U_r, U_p, ref, probe)
    assert p.shape == (10,) and np.all((p > 0.3) & (p < 1.0))


def test_bad_node_counts_and_dimensions_are_rejected():
    with pytest.raises(ValueError, match="num_chords"):
        quadrature_rule(6, 4, 0)
    with pytest.raises(ValueError, match="quadrature"):
        pn.OddityTaskConfig(quadrature=(6, 4))
    with pytest.raises(ValueError, match="estimator"):
        pn.OddityTaskConfig(estimator="exact")
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    with pytest.raises(ValueError, match="input_dim 2 or 3"):
        pn.WPPM(pn.Prior(input_dim=1, basis_degree=2), task, input_dim=1)
    with pytest.raises(ValueError, match="input_dim"):
        quadrature_rule(6, 4, 6, input_dim=4)
    U_r, U_p, ref, probe = trials_3d(n=3)
    with pytest.raises(ValueError, match="input_dim=3"):
        quadrature_p_correct(U_r, U_p, ref, probe, quadrature_rule(), diag_term=EPS,
                             bandwidth=1e-2, clip=0.0)
    with pytest.raises(ValueError, match="GaussianNoise"):
        pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task, pn.StudentTNoise())
    wide = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature", bandwidth=0.3))
    with pytest.raises(ValueError, match="bandwidth"):
        pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), wide)
