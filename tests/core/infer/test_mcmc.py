"""run_nuts: its sample statistics, and rotated starts for the chains."""

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.mark.slow  # core/test_idata.py checks the sample_stats of a NUTS run
def test_run_nuts_records_the_sample_stats_fields(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    mcmc = pn.run_nuts(jax.random.PRNGKey(0), mvp_model.numpyro_model, trials.ref,
                       trials.probe, trials.responses, num_warmup=50, num_samples=50,
                       progress_bar=False)
    assert set(mcmc.get_extra_fields()) >= {"diverging", "accept_prob", "num_steps",
                                            "potential_energy", "energy"}


def test_rotated_starts_keep_the_density_and_separate_the_chains():
    from psyphy_numpyro.core.gauge import align_embedding
    from psyphy_numpyro.core.infer.mcmc import rotated_starts

    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, extra_embedding_dims=1))
    W = model.init_params(jax.random.PRNGKey(0))["W"]
    starts = rotated_starts(W, jax.random.PRNGKey(1), 4)
    assert starts.shape == (4, *W.shape)
    np.testing.assert_array_equal(starts[0], W)
    x = np.array([[0.3, -0.2], [-0.7, 0.5]])
    field = pn.covariance_field(model, {"W": W}, x)
    for s in starts:
        np.testing.assert_allclose(pn.covariance_field(model, {"W": s}, x), field,
                                   rtol=1e-4, atol=1e-7)
        np.testing.assert_allclose(model.prior.log_prob({"W": s}),
                                   model.prior.log_prob({"W": W}), rtol=1e-5)
        np.testing.assert_allclose(align_embedding(s, W), W, atol=1e-5)
    spread = np.linalg.norm(np.asarray(starts[1:] - W).reshape(3, -1), axis=1)
    assert np.all(spread > 0.3 * np.linalg.norm(W))  # really elsewhere on the orbit
    with pytest.raises(ValueError, match="leading axis of num_chains"):
        pn.run_nuts(jax.random.PRNGKey(0), model.numpyro_model, num_warmup=1,
                    num_samples=1, num_chains=2, chain_init_params={"W": W})
