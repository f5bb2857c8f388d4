"""ArviZ conversion: groups, variables, dims and coords, and LOO on top.

For a NUTS run (to_inference_data) and for posterior draws (Laplace, SVI:
draws_to_inference_data).
"""

import arviz as az
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import draws_to_inference_data


@pytest.fixture(scope="module")
def nuts_run(mvp_model, seed_data):
    sampler = pn.NUTSSampler(num_warmup=150, num_samples=200, num_chains=2,
                             progress_bar=False)
    return sampler.fit(mvp_model, seed_data)


@pytest.fixture(scope="module")
def idata(nuts_run):
    return nuts_run.to_inference_data()


def test_groups_and_variables(idata):
    expected = {
        "posterior": ["log_diag"],
        "posterior_predictive": ["y"],
        "log_likelihood": ["y"],
        "sample_stats": ["diverging", "acceptance_rate", "lp", "n_steps", "energy"],
        "observed_data": ["y"],
        "constant_data": ["ref", "probe"],
    }
    assert set(pn.GROUPS) == set(expected)
    for group, names in expected.items():
        assert group in idata.groups(), group
        assert set(names) <= set(idata[group].data_vars), (group, names)


def test_dims_and_coords(idata, seed_data):
    n = seed_data.num_trials
    assert idata.posterior["log_diag"].dims == ("chain", "draw", "dim")
    assert idata.posterior.sizes["chain"] == 2 and idata.posterior.sizes["draw"] == 200
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "trial")
    assert idata.posterior_predictive["y"].dims == ("chain", "draw", "trial")
    assert idata.constant_data["ref"].dims == ("trial", "dim")
    np.testing.assert_array_equal(idata.posterior["dim"], [0, 1])
    np.testing.assert_array_equal(idata.observed_data["trial"], np.arange(n))


def test_observed_and_constant_data_are_the_trials(idata, seed_data):
    np.testing.assert_array_equal(idata.observed_data["y"], seed_data.responses[:, 0])
    np.testing.assert_allclose(idata.constant_data["probe"], seed_data.stimuli[:, 1])


def test_log_likelihood_is_per_trial_bernoulli(idata, nuts_run, mvp_model):
    draw = {"log_diag": np.asarray(idata.posterior["log_diag"][1, 17])}
    want = mvp_model.log_likelihood(draw, nuts_run.trials)
    np.testing.assert_allclose(idata.log_likelihood["y"][1, 17], want, rtol=1e-5)


def test_loo_runs(idata):
    loo = az.loo(idata)
    assert np.isfinite(loo["elpd_loo"])
    assert 0.0 < loo["p_loo"] < 5.0  # two parameters


def test_posterior_predictive_responses_are_binary(idata):
    y = np.asarray(idata.posterior_predictive["y"])
    assert set(np.unique(y)) <= {0, 1}


def test_netcdf_round_trip(idata, tmp_path):
    path = tmp_path / "fit.nc"
    idata.to_netcdf(str(path))
    back = az.from_netcdf(str(path))
    np.testing.assert_array_equal(back.posterior["log_diag"], idata.posterior["log_diag"])


# -- draws (Laplace, SVI) ----------------------------------------------------------
@pytest.mark.parametrize("which", ["laplace", "svi"])
def test_to_inference_data(which, seed_laplace, seed_svi_fit, mvp_model, seed_data):
    post = seed_laplace if which == "laplace" else seed_svi_fit
    idata = post.to_inference_data(300, seed=1)
    expected = {"posterior": {"log_diag"}, "log_likelihood": {"y"},
                "posterior_predictive": {"y"}, "observed_data": {"y"},
                "constant_data": {"ref", "probe"}}
    for group, names in expected.items():
        assert group in idata.groups(), group
        assert names <= set(idata[group].data_vars)
    assert idata.posterior["log_diag"].dims == ("chain", "draw", "dim")
    assert idata.posterior.sizes["chain"] == 1 and idata.posterior.sizes["draw"] == 300
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "trial")
    assert idata.attrs["inference"] == which
    draw = {"log_diag": np.asarray(idata.posterior["log_diag"][0, 42])}
    want = mvp_model.log_likelihood(draw, mvp_model.trials(seed_data))
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 42], want, rtol=1e-5)
    np.testing.assert_array_equal(idata.observed_data["y"], seed_data.responses[:, 0])


def test_draws_to_inference_data_checks_the_draws(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    with pytest.raises(ValueError, match="key 'log_diag'"):
        draws_to_inference_data({"W": np.zeros((1, 3, 2))}, mvp_model, trials)
    with pytest.raises(ValueError, match="chain, draw"):
        draws_to_inference_data({"log_diag": np.zeros((3, 2))}, mvp_model, trials)
