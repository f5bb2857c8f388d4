"""SVIApproximation against the MVP's exact posterior (grid quadrature)."""

import jax
import numpy as np
import pytest

from psyphy_numpyro.inference.svi import SVIApproximation


def test_svi_matches_quadrature(seed_svi_fit, seed_posterior_moments):
    mean, sd = seed_posterior_moments
    draws = np.asarray(
        seed_svi_fit.sample(20000, key=jax.random.PRNGKey(2))["log_diag"])
    assert draws.shape == (20000, 2)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    # a Gaussian fitted by KL(q || p) is a little narrower than this posterior
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.12)
    np.testing.assert_allclose(seed_svi_fit.params["log_diag"], draws.mean(0),
                               atol=0.05 * sd.max())
    losses = seed_svi_fit.losses
    assert np.all(np.isfinite(losses)) and losses.shape == (3000,)
    assert losses[-500:].mean() < losses[:50].mean()  # the ELBO improved


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: SVIApproximation("flow"), ValueError, "guide"),
        (lambda: SVIApproximation(steps=0), ValueError, "steps"),
        (lambda: SVIApproximation("normal", rank=2), ValueError, "rank"),
        (lambda: SVIApproximation("lowrank", rank=0), ValueError, "rank"),
        (lambda: SVIApproximation(learning_rate=0.0), ValueError, "learning_rate"),
        (lambda: SVIApproximation(optimizer="adam"), TypeError, "optimizer"),
        (lambda: SVIApproximation(init_scale=-1.0), ValueError, "init_scale"),
    ],
)
def test_bad_settings_are_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()
