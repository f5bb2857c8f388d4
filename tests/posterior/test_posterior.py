"""MAPPosterior: a point estimate that samples as psyphy's does."""

import jax.numpy as jnp
import numpy as np

import psyphy_numpyro as pn


def test_map_posterior_sample_repeats_the_point(mvp_model):
    post = pn.MAPPosterior({"log_diag": jnp.array([0.1, -0.2])}, mvp_model)
    draws = post.sample(5)
    assert draws["log_diag"].shape == (5, 2)
    np.testing.assert_allclose(draws["log_diag"][3], [0.1, -0.2], rtol=1e-7)
