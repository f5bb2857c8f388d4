"""LaplacePosterior: its draws have its mean and covariance."""

import jax
import numpy as np


def test_laplace_draws_have_its_mean_and_covariance(seed_laplace):
    draws = np.asarray(
        seed_laplace.sample(20000, key=jax.random.PRNGKey(3))["log_diag"])
    assert draws.shape == (20000, 2)
    sd = np.sqrt(np.diag(seed_laplace.cov))
    np.testing.assert_array_less(
        np.abs(draws.mean(0) - seed_laplace.params["log_diag"]), 0.05 * sd)
    np.testing.assert_allclose(np.cov(draws.T), seed_laplace.cov, rtol=0.05,
                               atol=0.05 * sd.max() ** 2)
