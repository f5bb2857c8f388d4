"""Prior: the MVP's density, psyphy's full-model density, bad settings."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn


def test_prior_log_prob_drops_only_the_normalising_constant(mvp_model):
    prior = mvp_model.prior
    a, b = {"log_diag": jnp.array([0.3, -1.0])}, {"log_diag": jnp.array([-2.0, 0.5])}
    want = -0.5 * (0.3**2 + 1.0) / 0.25
    np.testing.assert_allclose(prior.log_prob(a), want, rtol=1e-6)
    # NumPyro's normalised density differs from it by log_normalizer exactly
    dens = float(prior.distribution().log_prob(b["log_diag"]))
    np.testing.assert_allclose(dens, float(prior.log_prob(b)) - prior.log_normalizer,
                               rtol=1e-6)
    np.testing.assert_allclose(prior.log_normalizer,
                               2 * (np.log(0.5) + 0.5 * np.log(2 * np.pi)), rtol=1e-12)


@pytest.mark.parametrize("input_dim, degree, variance_scale", [(3, 4, 3e-4), (2, 5, 4e-3)])
def test_prior_differences_match_psyphy_at_small_variances(input_dim, degree,
                                                             variance_scale):
    """psyphy adds 1e-10 to every variance in its density; so do we."""
    psyphy_model = pytest.importorskip("psyphy.model")
    settings = dict(input_dim=input_dim, basis_degree=degree,
                    variance_scale=variance_scale, decay_rate=0.4,
                    extra_embedding_dims=1)
    ours, theirs = pn.Prior(**settings), psyphy_model.Prior(**settings)
    a, b = ours.sample_params(jax.random.PRNGKey(0)), ours.sample_params(jax.random.PRNGKey(1))
    np.testing.assert_allclose(ours.log_prob(a) - ours.log_prob(b),
                               theirs.log_prob(a) - theirs.log_prob(b), rtol=1e-4)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: pn.Prior.default(2, scale=0.0), ValueError, "scale"),
        (lambda: pn.Prior.default(2, scale=-1.0), ValueError, "scale"),
        (lambda: pn.Prior.default(2, scale=float("nan")), ValueError, "scale"),
    ],
)
def test_components_reject_non_positive_settings(make, exc, match):
    with pytest.raises(exc, match=match):
        make()
