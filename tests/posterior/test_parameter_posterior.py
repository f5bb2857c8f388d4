"""ParameterPosterior: every fit (MAP, Laplace, SVI) satisfies the protocol."""

import jax
import jax.numpy as jnp

from psyphy_numpyro.posterior.parameter_posterior import ParameterPosterior


def test_every_posterior_satisfies_the_protocol(seed_laplace, seed_map_fit,
                                                seed_svi_fit, mvp_model):
    for post in (seed_map_fit, seed_laplace, seed_svi_fit):
        assert isinstance(post, ParameterPosterior), type(post).__name__
        assert post.model is mvp_model
        assert post.sample(3, key=jax.random.PRNGKey(0))["log_diag"].shape == (3, 2)
    assert not isinstance({"log_diag": jnp.zeros(2)}, ParameterPosterior)
