"""ArviZ conversion: groups, variables, dims and coords, and LOO on top.

For a NUTS run (to_inference_data) and for posterior draws (Laplace, SVI:
draws_to_inference_data), on the installed ArviZ line (0.2x on Python 3.11,
1.x on 3.12+): the line's own object, and az.summary, az.loo, az.compare,
trace and energy plots on it.
"""

import os
import subprocess
import sys
import textwrap

import arviz as az
import matplotlib.pyplot as plt
import numpy as np
import pytest
import xarray as xr

import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import (
    Convergence,
    arviz_figure,
    arviz_major,
    convergence,
    draws_to_inference_data,
    group_names,
    loo_estimates,
    summary,
)


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
    assert set(group_names(idata)) == set(expected)
    for group, names in expected.items():
        assert set(names) <= set(idata[group].data_vars), (group, names)


def test_the_installed_lines_own_object(idata):
    # 0.x: arviz.InferenceData; 1.x: xarray.DataTree (arviz has no InferenceData)
    want = xr.DataTree if arviz_major() >= 1 else az.InferenceData
    assert type(idata) is want
    assert (arviz_major() >= 1) == (sys.version_info >= (3, 12))  # pyproject's markers


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


# arviz 0.23's compare sorts in place, which pandas 3.1 deprecates
@pytest.mark.filterwarnings("ignore:The inplace keyword in DataFrame.sort_values")
def test_loo_and_compare(idata):
    elpd, _, p = loo_estimates(az.loo(idata))
    # a sum of per-trial log predictive densities, each between the worst and
    # the best draw's log-likelihood of that trial
    loglik = np.asarray(idata.log_likelihood["y"]).reshape(-1, idata.log_likelihood.sizes["trial"])
    assert loglik.min(0).sum() <= elpd <= loglik.max(0).sum()
    assert 0.0 < p < 5.0  # two parameters
    # the same fit against one whose log-likelihood is 1 nat worse on every
    # trial: az.compare ranks ours first, the elpd difference the trial count
    # (its sign differs between the lines)
    worse = idata.copy()
    worse.log_likelihood["y"] = idata.log_likelihood["y"] - 1.0
    table = az.compare({"fit": idata, "worse": worse})
    assert list(table.index) == ["fit", "worse"]
    np.testing.assert_allclose(abs(table["elpd_diff"].iloc[1]), loglik.shape[1], rtol=1e-6)


def test_summary_has_the_draws_mean_and_an_interval(idata):
    table = summary(idata, var_names=["log_diag"], prob=0.9, round_to="none")
    draws = np.asarray(idata.posterior["log_diag"]).reshape(-1, 2)
    assert list(table.index) == ["log_diag[0]", "log_diag[1]"]
    np.testing.assert_allclose(table["mean"].to_numpy(float), draws.mean(0), rtol=1e-6)
    lower, upper = (table[c].to_numpy(float) for c in table.columns[2:4])
    assert table.columns[2].startswith("hdi") and table.columns[3].startswith("hdi")
    covered = ((draws >= lower) & (draws <= upper)).mean(0)
    np.testing.assert_allclose(covered, 0.9, atol=0.01)  # a 90% interval of the draws
    assert {"ess_bulk", "r_hat"} <= set(table.columns)


@pytest.mark.parametrize("plot", ["plot_trace", "plot_energy"])
def test_trace_and_energy_plots_draw_the_run(idata, plot):
    fig = arviz_figure(getattr(az, plot)(idata) if plot == "plot_energy"
                       else az.plot_trace(idata, var_names=["log_diag"]))
    try:
        drawn = [np.asarray(line.get_ydata()) for ax in fig.axes for line in ax.get_lines()]
        if plot == "plot_trace":  # chain 0's trace of log_diag[1] is one of the lines
            want = np.asarray(idata.posterior["log_diag"][0, :, 1])
            assert any(y.shape == want.shape and np.allclose(y, want) for y in drawn)
        else:  # the densities of the centred energy and of its transitions
            energy = np.asarray(idata.sample_stats["energy"])
            spread = np.ptp(energy - energy.mean())
            curves = [line for ax in fig.axes for line in ax.get_lines()
                      if len(line.get_xdata()) > 2]
            assert len(curves) >= 2
            for line in curves:  # each spans (about) the range of its sample
                assert 0.5 * spread < np.ptp(line.get_xdata()) < 4 * spread
    finally:
        plt.close(fig)


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
        assert group in group_names(idata), group
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


# -- import order ---------------------------------------------------------------------
ARVIZ_FIRST = """
import arviz
import jax
import jax.numpy as jnp
import psyphy_numpyro as pn
from psyphy_numpyro.core.idata import group_names

model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=pn.OddityTask())
data = pn.simulate_trials(jax.random.PRNGKey(0), model,
                          {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}, 40)
post = pn.NUTSSampler(num_warmup=30, num_samples=20, num_chains=1,
                      progress_bar=False).fit(model, data)
ours = post.to_inference_data()
theirs = arviz.from_numpyro(post.mcmc, log_likelihood=True)  # NumPyro's own route
assert type(ours) is type(theirs), (type(ours), type(theirs))
print(sorted(group_names(ours)), dict(ours.log_likelihood.sizes))
"""


@pytest.mark.slow
@pytest.mark.arviz_lines
def test_importing_arviz_first_converts(tmp_path):
    # a fresh interpreter, arviz imported before psyphy_numpyro (ArviZ 1.x puts
    # lazy stand-ins for jax and numpyro in sys.modules on import)
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(ARVIZ_FIRST)],
                          check=False, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"})
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.splitlines()[-1] == (
        "['constant_data', 'log_likelihood', 'observed_data', 'posterior', "
        "'posterior_predictive', 'sample_stats'] {'chain': 1, 'draw': 20, 'trial': 40}")


def test_convergence_is_arviz_on_the_moving_entries_and_meets_no_bar_on_nan():
    rng = np.random.default_rng(0)
    mixing = rng.normal(size=(4, 300, 3))
    mixing[..., 1] = 0.0  # fixed by a gauge: no ESS, no R-hat
    apart = rng.normal(size=(4, 300)) + np.arange(4)[:, None]  # chains that disagree
    reached = convergence({"a": mixing, "b": apart})
    data = az.convert_to_dataset({"a": mixing[..., [0, 2]], "b": apart})
    ess, rhat = az.ess(data, method="bulk"), az.rhat(data)
    assert reached.least_ess == pytest.approx(min(float(ess["a"].min()), float(ess["b"])))
    assert reached.largest_rhat == pytest.approx(float(rhat["b"]))
    assert reached.largest_rhat > 1.5 and not reached.meets(1.0, 1.01)
    alone = convergence({"a": mixing})
    assert alone.meets(alone.least_ess, alone.largest_rhat + 1e-9)
    assert not alone.meets(alone.least_ess + 1e-6, 2.0)
    assert not Convergence(float("nan"), 1.0).meets(1.0, 1.01)
    assert not Convergence(500.0, float("nan")).meets(1.0, 1.01)
    with pytest.raises(ValueError, match="moves"):
        convergence({"a": np.zeros((2, 10))})
