"""LangevinSampler (MALA) and psyphy's NumpyroSampler.

MALA against the MVP's exact posterior by grid quadrature, and its temperature.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import group_names
from psyphy_numpyro.inference.langevin import LangevinSampler, NumpyroSampler
from psyphy_numpyro.posterior.parameter_posterior import ParameterPosterior


@pytest.mark.slow
def test_mala_matches_quadrature(mvp_model, seed_data, seed_posterior_moments):
    mean, sd = seed_posterior_moments
    post = LangevinSampler(steps=1200, step_size=0.1, num_warmup=200, seed=1,
                           progress_bar=False).fit(mvp_model, seed_data)
    draws = np.asarray(post.samples["log_diag"])
    assert draws.shape == (1200, 2)
    np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.15 * sd)
    np.testing.assert_allclose(draws.std(0), sd, rtol=0.12)
    assert 0.3 < post.accept_rate < 0.95
    assert isinstance(post, ParameterPosterior)
    assert post.sample(5, key=jax.random.PRNGKey(0))["log_diag"].shape == (5, 2)


def test_mala_temperature_divides_the_potential(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    sampler = LangevinSampler(steps=20, step_size=5.0, temperature=2.0, seed=0,
                              progress_bar=False)
    # steps this large are nearly all rejected: the sampler says so
    with pytest.warns(RuntimeWarning, match="accepted"):
        post = sampler.fit(mvp_model, seed_data, init_params={"log_diag": jnp.zeros(2)})
    energy = np.asarray(post.mcmc.get_extra_fields()["potential_energy"])
    for i in (0, 19):
        draw = {"log_diag": post.samples["log_diag"][i]}
        log_joint = log_density(mvp_model.numpyro_model, tuple(trials), {}, draw)[0]
        np.testing.assert_allclose(energy[i], -float(log_joint) / 2.0, rtol=1e-5)
    # the per-trial log-likelihood stays untempered
    idata = post.to_inference_data(posterior_predictive=False)
    assert {"posterior", "log_likelihood", "sample_stats"} <= set(group_names(idata))
    assert idata.posterior["log_diag"].dims == ("chain", "draw", "dim")
    want = mvp_model.log_likelihood({"log_diag": post.samples["log_diag"][7]}, trials)
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 7], want, rtol=1e-5)
    assert "temperature=2.0" in repr(post)


def test_numpyro_sampler_is_nuts_with_psyphys_steps():
    sampler = NumpyroSampler(300, num_chains=2, progress_bar=False)
    assert isinstance(sampler, pn.NUTSSampler)
    assert (sampler.num_samples, sampler.num_warmup, sampler.num_chains) == (300, 300, 2)
    assert NumpyroSampler(300, num_warmup=50).num_warmup == 50


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: LangevinSampler(steps=0), ValueError, "steps"),
        (lambda: LangevinSampler(step_size=0.0), ValueError, "step_size"),
        (lambda: LangevinSampler(temperature=-1.0), ValueError, "temperature"),
        (lambda: LangevinSampler(num_warmup=-1), ValueError, "num_warmup"),
        (lambda: LangevinSampler(steps=2.5), TypeError, "steps"),
        (lambda: NumpyroSampler(0), ValueError, "steps"),
    ],
)
def test_bad_settings_are_rejected(make, error, match):
    with pytest.raises(error, match=match):
        make()
