"""fit_svi: any optax optimizer, on a model with a known posterior."""

import jax
import numpy as np
import optax

from psyphy_numpyro.core.infer.svi import fit_svi


def test_fit_svi_takes_any_optax_optimizer():
    import numpyro
    import numpyro.distributions as dist

    def model():
        numpyro.sample("x", dist.Normal(1.0, 2.0))

    res = fit_svi(jax.random.PRNGKey(0), model, num_steps=800, guide="multivariate",
                  optimizer=optax.adam(optax.cosine_decay_schedule(0.1, 800)),
                  progress_bar=False)
    loc = res.params["auto_loc"]
    np.testing.assert_allclose(loc, [1.0], atol=0.1)
    draws = res.guide.sample_posterior(jax.random.PRNGKey(1), res.params,
                                       sample_shape=(4000,))["x"]
    np.testing.assert_allclose(np.std(draws), 2.0, rtol=0.1)
