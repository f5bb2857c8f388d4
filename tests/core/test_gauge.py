"""Procrustes alignment of W draws leaves the field unchanged and undoes rotations."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.gauge import align_embedding


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


# -- the gauge-fixed parameterisation --------------------------------------------------
def test_free_coordinates_keep_the_orbit_and_fix_its_representative():
    from psyphy_numpyro.core.gauge import (
        GaugeFixedPrior,
        from_free,
        num_free,
        principal_frame,
        to_free,
    )

    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, extra_embedding_dims=1))
    W = model.init_params(jax.random.PRNGKey(3))["W"]
    scale = model.prior.stddev()
    free = to_free(W, scale)
    assert free.shape == (num_free(W.shape),) == (3 * 3 * 2 * 3 - 3,)
    L, _ = from_free(free, scale)
    block = np.asarray(L).reshape(-1, 3)[:3]
    np.testing.assert_allclose(np.triu(block, 1), 0.0, atol=1e-7)  # lower triangular
    assert np.all(np.diag(block) > 0)
    np.testing.assert_allclose(align_embedding(L, W), W, atol=1e-5)  # the same orbit
    # every rotation of W has the same representative
    R = random_orthogonal(jax.random.PRNGKey(4), 3, 3)
    for r in R:
        np.testing.assert_allclose(to_free(W @ r, scale), free, rtol=1e-3, atol=1e-4)
    x = pn.reference_grid(3)
    np.testing.assert_allclose(pn.covariance_field(model, {"W": L}, x),
                               pn.covariance_field(model, {"W": W}, x), rtol=1e-4)
    # a frame turns the rows first: the principal frame's block is W's
    # principal axes, and the representative is still a rotation of W
    A = principal_frame(W, scale)
    np.testing.assert_allclose(A @ A.T, np.eye(A.shape[0]), atol=1e-10)
    P, _ = from_free(to_free(W, scale, A), scale, A)
    block = (A @ (np.asarray(P) / np.asarray(scale)).reshape(-1, 3))[:3]
    np.testing.assert_allclose(np.triu(block, 1), 0.0, atol=1e-6)
    assert np.all(np.diag(block) > 0)
    # ... whose rows are orthogonal: the squared singular values of W / scale
    sv = np.linalg.svd((np.asarray(W) / np.asarray(scale)).reshape(-1, 3),
                       compute_uv=False)
    np.testing.assert_allclose(np.sort(np.sum(block**2, axis=1)), np.sort(sv**2),
                               rtol=1e-4)
    np.testing.assert_allclose(align_embedding(P, W), W, atol=1e-5)
    with pytest.raises(ValueError, match="frame"):
        GaugeFixedPrior(model.prior, np.ones((18, 18)))


@pytest.mark.slow
def test_gauge_fixed_sampling_gives_the_invariant_marginals_of_a_gaussian():
    # With no information and a standard normal prior, W (2 x 2) has iid N(0, 1)
    # entries, so |W|^2 ~ chi2(4) and Sigma_11 = W_00^2 + W_01^2 ~ chi2(2):
    # exact whatever the rotation. Dropping the orbit-volume factor would give
    # |W|^2 a mean of 3.
    from numpyro.infer import MCMC, NUTS

    from psyphy_numpyro.core.gauge import gauge_fixed_model, to_free

    prior = pn.Prior(input_dim=2, basis_degree=0, extra_embedding_dims=0,
                     variance_scale=1.0)
    model = pn.WPPM(prior, pn.OddityTask(config=pn.OddityTaskConfig(
        estimator="quadrature")), pn.GaussianNoise())
    mcmc = MCMC(NUTS(gauge_fixed_model(model)), num_warmup=500, num_samples=4000,
                progress_bar=False)
    start = to_free(model.init_params(jax.random.PRNGKey(0))["W"], prior.stddev())
    same = jnp.zeros((1, 2))  # one trial of identical stimuli: p = 1/3 for any W
    mcmc.run(jax.random.PRNGKey(1), same, same, jnp.ones(1),
             init_params={"W_free": start})
    W = np.asarray(mcmc.get_samples()["W"]).reshape(-1, 2, 2)
    from scipy import stats

    assert stats.kstest((W**2).sum((1, 2)), stats.chi2(4).cdf).pvalue > 1e-3
    assert stats.kstest((W[:, 0] ** 2).sum(1), stats.chi2(2).cdf).pvalue > 1e-3
    assert abs((W**2).sum((1, 2)).mean() - 4.0) < 0.4
