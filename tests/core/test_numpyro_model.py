"""wppm_model: a plain NumPyro model (its log joint, Predictive, any autoguide)."""

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import pytest
from numpyro.infer import SVI, Predictive, Trace_ELBO
from numpyro.infer.autoguide import AutoNormal
from numpyro.infer.util import log_density

import psyphy_numpyro as pn


def test_model_log_joint_is_log_posterior_minus_constant(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    params = {"log_diag": jnp.array([-0.4, -3.0])}
    joint, _ = log_density(mvp_model.numpyro_model, (trials.ref, trials.probe,
                                                     trials.responses), {}, params)
    want = mvp_model.log_posterior_from_data(params, seed_data)
    np.testing.assert_allclose(joint, want - mvp_model.prior.log_normalizer, rtol=1e-6)


def test_masked_trials_add_nothing_to_the_log_joint(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    params = {"log_diag": jnp.array([-0.4, -3.0])}
    keep = np.arange(len(trials.ref)) % 3 != 0  # drop every third trial
    kept, _ = log_density(mvp_model.numpyro_model, tuple(x[keep] for x in trials), {}, params)
    masked, _ = log_density(mvp_model.numpyro_model, tuple(trials), {"mask": keep}, params)
    full, _ = log_density(mvp_model.numpyro_model, tuple(trials), {}, params)
    np.testing.assert_allclose(masked, kept, rtol=1e-6)
    assert abs(full - kept) > 1.0


@pytest.mark.slow
def test_numpyro_model_works_with_predictive_and_any_autoguide(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    prior_draws = Predictive(mvp_model.numpyro_model, num_samples=50)(
        jax.random.PRNGKey(0), trials.ref, trials.probe)
    assert prior_draws["log_diag"].shape == (50, 2)
    assert prior_draws["y"].shape == (50, 400)

    guide = AutoNormal(mvp_model.numpyro_model)
    svi = SVI(mvp_model.numpyro_model, guide, numpyro.optim.Adam(0.05), Trace_ELBO())
    res = svi.run(jax.random.PRNGKey(1), 1500, trials.ref, trials.probe,
                  trials.responses, progress_bar=False)
    loc = guide.median(res.params)["log_diag"]
    map_fit = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, show_progress=False).fit(
        mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})
    # a Gaussian approximation's centre sits near the mode on this posterior
    np.testing.assert_allclose(loc, map_fit.params["log_diag"], atol=0.35)
