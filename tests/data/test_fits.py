"""Saving fits to netCDF and loading them back: exact round trips, working objects.

The file is ArviZ data in its own right (az.loo and az.summary work on it), and
a file written under one ArviZ line (0.2x on Python 3.11, 1.x on 3.12+) loads
under the other: committed files written by each line, and, when the other
line's interpreter is there, a round trip through it. ``python
tests/data/test_fits.py write|check FOLDER`` writes or checks the reference
fits (how tests/data/fixtures/ was made: ``write`` under each line).
"""

import dataclasses
import functools
import json
import math
import os
import subprocess
import sys
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

import psyphy_numpyro as pn
from psyphy_numpyro.core.gauge import num_free
from psyphy_numpyro.core.idata import (
    arviz_major,
    build_inference_data,
    group_names,
    import_arviz,
    loo_estimates,
    read_netcdf,
    summary,
    write_netcdf,
)
from psyphy_numpyro.core.oddity.gaussian_mc import GaussianDraws
from psyphy_numpyro.data import fits as persist
from psyphy_numpyro.data.fits import (
    FORMAT_VERSION,
    FitRecord,
    StoredPosterior,
    load_fit,
    model_config,
    model_from_config,
    register_fit_format,
    save_fit,
)

MODELS = {
    "mvp-oddity": lambda: pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.3),
                                  task=pn.OddityTask(slope=1.7)),
    "mvp-2afc": lambda: pn.WPPM(pn.Prior.default(3, scale=0.8), pn.TwoAFC(slope=2.5),
                                diag_term=1e-4),
    "full": lambda: pn.WPPM(
        pn.Prior(input_dim=2, basis_degree=2, variance_scale=3e-3, decay_rate=0.35),
        pn.OddityTask(config=pn.OddityTaskConfig(num_samples=20, bandwidth=2e-2,
                                                 default_key_seed=7)),
        diag_term=2e-6),
    "student-t": lambda: pn.WPPM(
        pn.Prior(input_dim=1, basis_degree=1, extra_embedding_dims=0),
        pn.OddityTask(config=pn.OddityTaskConfig(num_samples=16)),
        pn.StudentTNoise(df=4.5)),
}


def small_full_model(estimator=None):
    # Monte Carlo draws of the same shape as MODELS["full"]'s, so the eager
    # random ops that draw them compile once for the whole file
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=1),
                   pn.OddityTask(config=pn.OddityTaskConfig(num_samples=20,
                                                            estimator=estimator)))


def stimuli(input_dim, n=30, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.8, 0.8, (n, input_dim))
    return ref, ref + rng.normal(0.0, 0.05, (n, input_dim))


def assert_same_arrays(a, b):
    """Same keys, dtypes, shapes and values (bit for bit)."""
    assert set(a) == set(b)
    for k in a:
        x, y = np.asarray(a[k]), np.asarray(b[k])
        assert x.dtype == y.dtype, k
        np.testing.assert_array_equal(x, y, err_msg=k)


# -- model configuration ---------------------------------------------------------
@pytest.mark.parametrize("name", list(MODELS))
def test_model_config_round_trips_and_gives_the_same_log_likelihood(name):
    model = MODELS[name]()
    cfg = model_config(model)
    assert cfg["format_version"] == FORMAT_VERSION
    assert json.loads(json.dumps(cfg)) == cfg  # JSON-safe as is
    rebuilt = model_from_config(json.loads(json.dumps(cfg)))
    assert model_config(rebuilt) == cfg
    assert (rebuilt.prior, rebuilt.task, rebuilt.noise) == (model.prior, model.task,
                                                            model.noise)
    assert (rebuilt.input_dim, rebuilt.diag_term) == (model.input_dim, model.diag_term)

    params = model.init_params(jax.random.PRNGKey(3))
    ref, probe = stimuli(model.input_dim)
    data = (ref, probe, np.arange(30) % 2)
    key = jax.random.PRNGKey(5)
    want = model.log_likelihood_from_data(params, data, key=key)
    got = rebuilt.log_likelihood_from_data(params, data, key=key)
    assert np.isfinite(want) and got == want


def test_every_dataclass_field_is_stored():
    model = MODELS["full"]()
    cfg = model_config(model)
    for part, obj in [("prior", model.prior), ("task", model.task), ("noise", model.noise),
                      ("config", model.task.config)]:
        stored = cfg["task"]["config"] if part == "config" else cfg[part]
        assert set(stored) - {"class"} == {f.name for f in dataclasses.fields(obj)}
        assert stored["class"] == type(obj).__name__


def test_bad_configurations_are_refused():
    cfg = model_config(MODELS["full"]())
    with pytest.raises(TypeError, match="model must be"):
        model_config("WPPM")
    with pytest.raises(ValueError, match="format version 99"):
        model_from_config({**cfg, "format_version": 99})
    with pytest.raises(ValueError, match="no format version"):
        model_from_config({k: v for k, v in cfg.items() if k != "format_version"})
    with pytest.raises(ValueError, match="unknown configuration class 'Gauss'"):
        model_from_config({**cfg, "noise": {"class": "Gauss"}})
    with pytest.raises(ValueError, match=r"no field\(s\) \['colour'\]"):
        model_from_config({**cfg, "noise": {"class": "GaussianNoise", "colour": 1}})
    with pytest.raises(ValueError, match="lacks"):
        model_from_config({"format_version": FORMAT_VERSION})


# -- MAP ---------------------------------------------------------------------------
def test_map_round_trip_mvp(tmp_path, mvp_model, seed_data):
    fit = pn.MAPOptimizer(steps=20, learning_rate=2e-2, show_progress=False).fit(
        mvp_model, seed_data)
    path = save_fit(tmp_path / "map.nc", fit)
    back = load_fit(path)
    assert isinstance(back, pn.MAPPosterior)
    assert_same_arrays(back.params, fit.params)
    assert isinstance(back.params["log_diag"], jax.Array)
    assert back.losses.dtype == fit.losses.dtype and back.losses.shape == (20,)
    np.testing.assert_array_equal(back.losses, fit.losses)
    # the loss history is per step, so it sits outside sample_stats (per draw)
    idata = import_arviz().from_netcdf(path)
    assert "sample_stats" not in group_names(idata)
    assert idata.optimization["loss"].dims == ("step",)
    idata.close()
    assert model_config(back.model) == model_config(mvp_model)
    assert back.model.log_likelihood_from_data(back.params, seed_data) == \
        mvp_model.log_likelihood_from_data(fit.params, seed_data)
    # the rest of the package takes it
    np.testing.assert_array_equal(
        pn.covariance_field(back.model, back.params, np.zeros((1, 2))),
        pn.covariance_field(mvp_model, fit.params, np.zeros((1, 2))))
    assert back.sample(3)["log_diag"].shape == (3, 2)


def test_map_round_trip_full_without_losses(tmp_path):
    model = small_full_model()
    fit = pn.MAPPosterior(model.init_params(jax.random.PRNGKey(0)), model)
    back = load_fit(save_fit(tmp_path / "map.nc", fit))
    assert back.losses is None
    assert_same_arrays(back.params, fit.params)
    ref, probe = stimuli(2)
    data = (ref, probe, np.ones(30, int))
    key = jax.random.PRNGKey(1)
    assert back.model.log_likelihood_from_data(back.params, data, key=key) == \
        model.log_likelihood_from_data(fit.params, data, key=key)


# -- NUTS --------------------------------------------------------------------------
def nuts_round_trip(tmp_path, post):
    back = load_fit(save_fit(tmp_path / "nuts.nc", post))
    assert isinstance(back, pn.NUTSPosterior)
    assert back.mcmc is None
    assert_same_arrays(back.draws, post.mcmc.get_samples(group_by_chain=True))
    extra = post.mcmc.get_extra_fields(group_by_chain=True)
    assert_same_arrays(back.extra_fields, {name: extra[name] for name in back.extra_fields})
    assert set(back.extra_fields) == {"diverging", "accept_prob", "num_steps",
                                      "potential_energy", "energy"}
    assert_same_arrays(back.samples, post.samples)
    assert_same_arrays(back.params, post.params)
    assert_same_arrays(back.trials._asdict(), post.trials._asdict())
    assert set(back.model_kwargs) == set(post.model_kwargs)
    for name, value in post.model_kwargs.items():  # arrays or GaussianDraws
        for got, want in zip(jax.tree.leaves(back.model_kwargs[name]), jax.tree.leaves(value)):
            assert got.dtype == want.dtype
            np.testing.assert_array_equal(got, want)
    assert back.num_divergences == post.num_divergences
    assert (back.num_chains, back.num_draws) == (post.mcmc.num_chains,
                                                 post.mcmc.num_samples)
    assert model_config(back.model) == model_config(post.model)
    key = jax.random.PRNGKey(4)
    assert_same_arrays(back.sample(5, key=key), post.sample(5, key=key))
    # the reloaded model's log joint (prior + log-likelihood, with the run's fixed
    # draws) at the reloaded point equals the original's
    want, got = (
        jax.jit(lambda args, kwargs, params, m=fit.model:
                log_density(m.numpyro_model, args, kwargs, params)[0])(
            tuple(fit.trials), fit.model_kwargs, fit.params)
        for fit in (post, back))
    assert np.isfinite(want) and got == want
    return back


@pytest.mark.slow
def test_nuts_round_trip_mvp(tmp_path, mvp_model, seed_data):
    post = pn.NUTSSampler(num_warmup=100, num_samples=10, num_chains=2,
                          progress_bar=False).fit(mvp_model, seed_data)
    back = nuts_round_trip(tmp_path, post)
    # the file keeps ArviZ's own sample-stat names, as az.from_numpyro gives them
    az = import_arviz()
    stored = az.from_netcdf(str(tmp_path / "nuts.nc"))
    direct = az.from_numpyro(post.mcmc)
    assert set(stored.sample_stats.data_vars) <= set(direct.sample_stats.data_vars)
    for name in stored.sample_stats.data_vars:
        np.testing.assert_array_equal(stored.sample_stats[name], direct.sample_stats[name])
    stored.close()
    # ArviZ conversion of the reloaded run: the stored draws and statistics, and
    # the log-likelihood of each draw
    idata = back.to_inference_data(posterior_predictive=False)
    extra = post.mcmc.get_extra_fields(group_by_chain=True)
    np.testing.assert_array_equal(idata.posterior["log_diag"],
                                  post.mcmc.get_samples(group_by_chain=True)["log_diag"])
    np.testing.assert_array_equal(idata.sample_stats["diverging"], extra["diverging"])
    np.testing.assert_array_equal(idata.sample_stats["lp"], -extra["potential_energy"])
    draw = {"log_diag": post.samples["log_diag"][13]}  # chain 1, draw 3
    np.testing.assert_allclose(idata.log_likelihood["y"][1, 3],
                               mvp_model.log_likelihood(draw, post.trials), rtol=1e-6)
    np.testing.assert_array_equal(idata.observed_data["y"], post.trials.responses)
    # readouts take the reloaded draws: Sigma = diag(exp(log_diag))
    cov = pn.covariance_field(back.model, back.samples, np.zeros((1, 2)))
    np.testing.assert_allclose(np.diagonal(cov[:, 0], axis1=-2, axis2=-1),
                               np.exp(post.samples["log_diag"]), rtol=1e-6)


def short_full_nuts(*, fix_rotations=False, start=False):
    """A 2 x (5 + 5) NUTS run of the small full model ("mc") on 30 random trials."""
    model = small_full_model("mc")
    ref, probe = stimuli(2)
    y = np.random.default_rng(1).integers(0, 2, 30)
    init = model.init_params(jax.random.PRNGKey(0)) if start else None
    post = pn.NUTSSampler(num_warmup=5, num_samples=5, num_chains=2, progress_bar=False,
                          fix_rotations=fix_rotations).fit(model, (ref, probe, y),
                                                           init_params=init)
    return model, post


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:NUTS had")  # mechanics, not sampling quality
@pytest.mark.filterwarnings("ignore:.*Monte Carlo p\\(correct\\)")  # "mc" on purpose
def test_nuts_round_trip_full_keeps_the_fixed_draws(tmp_path):
    _, post = short_full_nuts()
    back = nuts_round_trip(tmp_path, post)
    noise = back.model_kwargs["mc_samples"]  # the "mc" estimator's point sets + rotations
    assert noise.points.shape == (30, 4, 20) and noise.rotations.shape == (30, 4, 4)
    assert noise.points.dtype == np.float32
    assert_same_arrays(noise._asdict(), post.model_kwargs["mc_samples"]._asdict())


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:NUTS had")  # mechanics, not sampling quality
@pytest.mark.filterwarnings("ignore:.*Monte Carlo p\\(correct\\)")  # "mc" on purpose
def test_gauge_fixed_nuts_converts_and_round_trips(tmp_path):
    # fix_rotations samples W_free; W is deterministic, the trials the only
    # likelihood: ArviZ must see one log-likelihood array (for az.loo) live
    # and after reloading, and the reloaded fit must keep its point estimate.
    model, post = short_full_nuts(fix_rotations=True, start=True)
    assert set(post.samples) == {"W"}
    back = nuts_round_trip(tmp_path, post)
    for fit in (post, back):
        idata = fit.to_inference_data()
        assert list(idata.log_likelihood.data_vars) == ["y"]
        assert list(idata.observed_data.data_vars) == ["y"]
        assert "W" in idata.posterior
        # NumPyro's log_likelihood and this vmap compile the float32 estimator
        # differently, so they agree to rounding, not bit for bit
        np.testing.assert_allclose(idata.log_likelihood["y"].values.reshape(10, 30),
                                   jax.vmap(lambda W: model.log_likelihood(
                                       {"W": W}, post.trials, fit.model_kwargs["mc_samples"]))(
                                       post.samples["W"]), rtol=1e-4, atol=1e-5)


# -- the file as ArviZ data, on both ArviZ lines -------------------------------------
FIXTURES = Path(__file__).parent / "fixtures"


@functools.cache
def reference_fits():
    """Two NUTS fits built from fixed NumPy arrays (no sampler, so the same on
    every line): the MVP, and a gauge-fixed full WPPM ("mc", with its fixed
    draws) whose draws hold the sampler's internal ``W_free`` beside ``W``."""
    rng = np.random.default_rng(2026)

    def stats_and_trials(model, shape, num_trials):
        stats = {"diverging": rng.random(shape) < 0.1,
                 "accept_prob": rng.uniform(0.5, 1.0, shape).astype(np.float32),
                 "num_steps": rng.integers(1, 64, shape).astype(np.int32),
                 "potential_energy": rng.normal(50.0, 3.0, shape).astype(np.float32),
                 "energy": rng.normal(52.0, 3.0, shape).astype(np.float32)}
        ref = rng.uniform(-0.6, 0.6, (num_trials, 2))
        data = (ref, ref + rng.normal(0.0, 0.1, ref.shape), rng.integers(0, 2, num_trials))
        return stats, model.trials(data)

    mvp = MODELS["mvp-oddity"]()
    draws = {"log_diag": rng.normal(-2.0, 0.3, (2, 40, 2)).astype(np.float32)}
    stats, trials = stats_and_trials(mvp, (2, 40), 24)
    fits = {"mvp": pn.NUTSPosterior(draws, stats, mvp, trials)}
    full = small_full_model("mc")
    draws = {"W": (0.1 * rng.normal(size=(2, 30, *full.prior.shape))).astype(np.float32),
             "W_free": rng.normal(size=(2, 30, num_free(full.prior.shape))).astype(np.float32)}
    stats, trials = stats_and_trials(full, (2, 30), 16)
    like = jax.eval_shape(lambda key: full.draw_mc_samples(key, 16), jax.random.PRNGKey(0))
    rotations = np.linalg.qr(rng.normal(size=like.rotations.shape))[0]
    mc = GaussianDraws(jnp.asarray(rng.normal(size=like.points.shape), like.points.dtype),
                       jnp.asarray(rotations, like.rotations.dtype))
    fits["full"] = pn.NUTSPosterior(draws, stats, full, trials, {"mc_samples": mc})
    return fits


def check_file_is_arviz_data(path, fit):
    """``az.from_netcdf(path)`` has the model's parameters only in ``posterior``
    (and in ``az.summary``), and a per-trial log-likelihood that gives the live
    conversion's ``az.loo``."""
    az = import_arviz()
    site = fit.model.prior.site
    stored = az.from_netcdf(str(path))
    try:
        assert list(stored.posterior.data_vars) == [site]
        internal = sorted(set(fit.draws) - {site})
        if internal:  # the sampler's coordinates, kept where summary does not look
            assert sorted(stored.unconstrained_posterior.data_vars) == internal
        else:
            assert "unconstrained_posterior" not in group_names(stored)
        table = summary(stored, round_to="none")
        assert len(table) == math.prod(fit.model.prior.shape)
        assert all(label.startswith(f"{site}[") for label in table.index)
        loglik = np.asarray(stored.log_likelihood["y"])
        assert stored.log_likelihood["y"].dims == ("chain", "draw", "trial")
        extra = [fit.model_kwargs["mc_samples"]] if "mc_samples" in fit.model_kwargs else []
        draw = {site: fit.draws[site][1, 3]}
        np.testing.assert_allclose(loglik[1, 3],
                                   fit.model.log_likelihood(draw, fit.trials, *extra),
                                   rtol=1e-4, atol=1e-5)
        live = fit.to_inference_data(posterior_predictive=False)
        with warnings.catch_warnings():  # PSIS reliability notes: the same for both
            warnings.simplefilter("ignore")
            np.testing.assert_allclose(loo_estimates(az.loo(stored)),
                                       loo_estimates(az.loo(live)), rtol=1e-5)
    finally:
        stored.close()


def check_written_fit(path, name):
    """A file of :func:`reference_fits`' ``name``, written under either ArviZ
    line, loads as the same fit and is ArviZ data of this line."""
    want = reference_fits()[name]
    back = load_fit(path)
    assert isinstance(back, pn.NUTSPosterior)
    for got, expected in [(back.draws, want.draws), (back.extra_fields, want.extra_fields),
                          (back.trials._asdict(), want.trials._asdict()),
                          (back.params, want.params)]:
        assert_same_arrays(got, expected)
    assert set(back.model_kwargs) == set(want.model_kwargs)
    for got, expected in zip(jax.tree.leaves(back.model_kwargs),
                             jax.tree.leaves(want.model_kwargs)):
        assert_same_arrays({"x": got}, {"x": expected})
    assert model_config(back.model) == model_config(want.model)
    check_file_is_arviz_data(path, want)


def write_reference_fits(folder):
    for name, fit in reference_fits().items():
        save_fit(Path(folder) / f"{name}_arviz{arviz_major()}.nc", fit, overwrite=True)


def test_az_loo_on_a_saved_nuts_fit_equals_the_originals(tmp_path):
    # on the file itself (its log_likelihood group) and on the reloaded fit
    fit = reference_fits()["mvp"]
    path = save_fit(tmp_path / "nuts.nc", fit)
    check_file_is_arviz_data(path, fit)
    az = import_arviz()
    with warnings.catch_warnings():  # PSIS reliability notes: the same for both
        warnings.simplefilter("ignore")
        np.testing.assert_allclose(
            loo_estimates(az.loo(load_fit(path).to_inference_data(posterior_predictive=False))),
            loo_estimates(az.loo(fit.to_inference_data(posterior_predictive=False))),
            rtol=1e-6)


def test_w_free_stays_out_of_the_posterior_group_and_summary(tmp_path):
    fit = reference_fits()["full"]  # a gauge-fixed run: draws of W and W_free
    path = save_fit(tmp_path / "new.nc", fit)
    check_file_is_arviz_data(path, fit)
    # the layout before unconstrained_posterior existed (every site in
    # posterior) still loads as the same fit
    idata = read_netcdf(path)
    groups = {group: {name: (idata[group][name].dims, idata[group][name].values)
                      for name in idata[group].data_vars} for group in group_names(idata)}
    groups["posterior"] |= groups.pop("unconstrained_posterior")
    write_netcdf(build_inference_data(groups, attrs=dict(idata.attrs)),
                 str(tmp_path / "old.nc"))
    assert "W_free" in read_netcdf(str(tmp_path / "old.nc")).posterior
    back = load_fit(tmp_path / "old.nc")
    assert_same_arrays(back.draws, fit.draws)
    assert_same_arrays(back.params, fit.params)


@pytest.mark.parametrize("line", [0, 1])
@pytest.mark.parametrize("name", ["mvp", "full"])
def test_fits_written_under_either_arviz_line_load(name, line):
    # committed files, written by `python tests/data/test_fits.py write` under
    # ArviZ 0.23 (Python 3.11) and 1.x (Python 3.12)
    check_written_fit(FIXTURES / f"{name}_arviz{line}.nc", name)


def other_line_python():
    """The interpreter of the other ArviZ line, or None: $PSYPHY_NUMPYRO_OTHER_PYTHON,
    else the checkout's .venv312 (from ArviZ 0.x) or .venv (from 1.x)."""
    path = os.environ.get("PSYPHY_NUMPYRO_OTHER_PYTHON")
    if path is None:
        venv = ".venv312" if arviz_major() == 0 else ".venv"
        path = Path(__file__).resolve().parents[2] / venv / "bin" / "python"
    return str(path) if Path(path).exists() else None


@pytest.mark.slow
@pytest.mark.arviz_lines
def test_fits_travel_between_the_arviz_lines(tmp_path):
    other = other_line_python()
    if other is None:
        pytest.skip("no interpreter of the other ArviZ line (.venv312 or .venv)")

    def run(command, folder):
        done = subprocess.run([other, __file__, command, str(folder)], check=False,
                              capture_output=True, text=True, timeout=300,
                              env={**os.environ, "JAX_PLATFORMS": "cpu"})
        assert done.returncode == 0, done.stderr[-3000:]
        return done.stdout.split()

    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    _, _, their_line = run("write", theirs)
    assert int(their_line) == 1 - arviz_major()
    for name in reference_fits():  # the other line writes, this one loads
        check_written_fit(theirs / f"{name}_arviz{their_line}.nc", name)
    write_reference_fits(ours)  # this line writes, the other loads
    assert run("check", ours)[:2] == ["check", str(len(reference_fits()))]


# -- other posteriors --------------------------------------------------------------
class DrawsPosterior:
    """A posterior with the protocol only: model, params, samples, trials."""

    def __init__(self, model, samples, trials=None, model_kwargs=None):
        self.model, self.samples, self.trials = model, samples, trials
        self.params = jax.tree.map(lambda x: x.mean(0), samples)
        if model_kwargs is not None:
            self.model_kwargs = model_kwargs


class SamplerPosterior:
    """A posterior that can only draw (as a guide does)."""

    def __init__(self, model):
        self.model = model
        self.params = {"log_diag": jnp.array([0.1, -0.2])}

    def sample(self, n=1, *, key):
        return {"log_diag": self.params["log_diag"] + 0.1 * jax.random.normal(key, (n, 2))}


def test_a_posterior_with_draws_round_trips(tmp_path, mvp_model, seed_data):
    samples = {"log_diag": jax.random.normal(jax.random.PRNGKey(0), (40, 2))}
    fit = DrawsPosterior(mvp_model, samples, mvp_model.trials(seed_data))
    back = load_fit(save_fit(tmp_path / "draws.nc", fit))
    assert isinstance(back, StoredPosterior)
    assert_same_arrays(back.samples, fit.samples)
    assert_same_arrays(back.params, fit.params)
    assert_same_arrays(back.trials._asdict(), fit.trials._asdict())
    idata = back.to_inference_data(posterior_predictive=False)
    assert idata.posterior["log_diag"].shape == (1, 40, 2)
    np.testing.assert_allclose(
        idata.log_likelihood["y"][0, 7],
        mvp_model.log_likelihood({"log_diag": samples["log_diag"][7]}, fit.trials),
        rtol=1e-6)


def test_a_full_posterior_keeps_its_fixed_draws(tmp_path):
    model = small_full_model()
    keys = jax.random.split(jax.random.PRNGKey(0), 2)
    samples = {"W": jax.random.normal(keys[0], (6, *model.prior.shape))}
    noise = model.draw_mc_samples(keys[1], 30)
    ref, probe = stimuli(2)
    fit = DrawsPosterior(model, samples, model.trials((ref, probe, np.ones(30, int))),
                         {"mc_samples": noise})
    back = load_fit(save_fit(tmp_path / "draws.nc", fit))
    assert_same_arrays(back.samples, fit.samples)
    assert_same_arrays(back.model_kwargs["mc_samples"]._asdict(), noise._asdict())
    assert_same_arrays(back.trials._asdict(), fit.trials._asdict())
    assert model_config(back.model) == model_config(model)


def test_a_posterior_that_only_samples_stores_its_draws(tmp_path, mvp_model):
    fit = SamplerPosterior(mvp_model)
    back = load_fit(save_fit(tmp_path / "guide.nc", fit, num_draws=25, seed=3))
    want = fit.sample(25, key=jax.random.PRNGKey(3))
    assert_same_arrays(back.samples, want)
    assert_same_arrays(back.params, fit.params)
    assert back.trials is None
    with pytest.raises(ValueError, match="no trials"):
        back.to_inference_data()


class ScaledPoint:
    """A made-up fit kind with its own format."""

    def __init__(self, model, params, scale):
        self.model, self.params, self.scale = model, params, scale


def test_a_registered_kind_round_trips_in_the_same_layout(tmp_path, monkeypatch,
                                                           mvp_model):
    monkeypatch.setattr(persist, "_FORMATS", dict(persist._FORMATS))

    def write(fit):
        return FitRecord({k: np.asarray(v)[None, None] for k, v in fit.params.items()},
                         arrays={"scale": np.asarray(fit.scale)}, info={"tag": "x"})

    def read(model, record):
        assert record.info == {"tag": "x"}
        return ScaledPoint(model, {k: v[0, 0] for k, v in record.draws.items()},
                           record.arrays["scale"])

    register_fit_format("scaled", ScaledPoint, write, read)
    fit = ScaledPoint(mvp_model, {"log_diag": np.array([0.5, 1.0], np.float32)},
                      np.arange(3, dtype=np.int16))
    path = save_fit(tmp_path / "scaled.nc", fit)
    back = load_fit(path)
    assert isinstance(back, ScaledPoint)
    assert_same_arrays(back.params, fit.params)
    assert back.scale.dtype == np.int16
    np.testing.assert_array_equal(back.scale, fit.scale)
    idata = import_arviz().from_netcdf(path)
    assert idata.attrs["fit_kind"] == "scaled"
    assert set(group_names(idata)) == {"posterior", "fit"}
    idata.close()
    with pytest.raises(ValueError, match="already registered"):
        register_fit_format("map", ScaledPoint, write, read)


# -- errors ------------------------------------------------------------------------
def test_errors_name_the_problem(tmp_path, mvp_model):
    az = import_arviz()
    fit = pn.MAPPosterior({"log_diag": jnp.zeros(2)}, mvp_model)
    with pytest.raises(FileNotFoundError, match="no file"):
        load_fit(tmp_path / "missing.nc")
    (tmp_path / "text.nc").write_text("not netCDF")
    with pytest.raises(ValueError, match="not a netCDF file"):
        load_fit(tmp_path / "text.nc")
    plain = build_inference_data({"posterior": {"x": (("chain", "draw"), np.zeros((1, 3)))}})
    write_netcdf(plain, str(tmp_path / "plain.nc"))
    with pytest.raises(ValueError, match="no format version"):
        load_fit(tmp_path / "plain.nc")

    path = save_fit(tmp_path / "fit.nc", fit)
    idata = az.from_netcdf(path)
    idata.attrs[persist._VERSION_KEY] = FORMAT_VERSION + 1
    write_netcdf(idata, str(tmp_path / "future.nc"))
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}"):
        load_fit(tmp_path / "future.nc")
    idata.attrs[persist._VERSION_KEY] = FORMAT_VERSION
    idata.attrs["fit_kind"] = "laplace"
    write_netcdf(idata, str(tmp_path / "laplace.nc"))
    with pytest.raises(ValueError, match="kind 'laplace', which is not registered"):
        load_fit(tmp_path / "laplace.nc")
    # a MAP file relabelled as NUTS, and one whose configuration was edited to
    # another input dimension: the checksum refuses both; re-signed, so is the
    # content check behind it, naming the file
    def resign(idata):
        record = persist._from_idata(idata, json.loads(idata.attrs["fit_info"]))
        idata.attrs["checksum"] = persist._checksum(
            record, idata.attrs["fit_kind"], idata.attrs["model_config"],
            idata.attrs["fit_info"])

    idata.attrs["fit_kind"] = "nuts"
    write_netcdf(idata, str(tmp_path / "relabelled.nc"))
    with pytest.raises(ValueError, match="relabelled.nc.*do not match the checksum"):
        load_fit(tmp_path / "relabelled.nc")
    resign(idata)
    write_netcdf(idata, str(tmp_path / "resigned.nc"))
    with pytest.raises(ValueError, match="resigned.nc.*marked as a 'nuts' fit"):
        load_fit(tmp_path / "resigned.nc")
    config = json.loads(idata.attrs["model_config"])
    config["input_dim"] = config["prior"]["input_dim"] = 3
    idata.attrs["fit_kind"] = "map"
    idata.attrs["model_config"] = json.dumps(config)
    resign(idata)
    write_netcdf(idata, str(tmp_path / "edited.nc"))
    with pytest.raises(ValueError, match="edited.nc.*expects draws of 'log_diag'"):
        load_fit(tmp_path / "edited.nc")
    idata.close()

    with pytest.raises(TypeError, match="fit must be"):
        save_fit(tmp_path / "x.nc", {"log_diag": np.zeros(2)})
    with pytest.raises(TypeError, match="model must be"):
        save_fit(tmp_path / "x.nc", pn.MAPPosterior({"log_diag": jnp.zeros(2)}, "WPPM"))
    with pytest.raises(ValueError, match="shape"):
        save_fit(tmp_path / "x.nc", pn.MAPPosterior({"log_diag": jnp.zeros(3)}, mvp_model))
    with pytest.raises(TypeError, match="path must be"):
        save_fit(3, fit)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_fit(tmp_path / "no" / "fit.nc", fit)
    assert not (tmp_path / "x.nc").exists()


def test_save_fit_replaces_a_file_only_when_asked(tmp_path, mvp_model):
    fit = pn.MAPPosterior({"log_diag": jnp.zeros(2)}, mvp_model)
    path = save_fit(tmp_path / "fit.nc", fit)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        save_fit(path, pn.MAPPosterior({"log_diag": jnp.ones(2)}, mvp_model))
    assert float(load_fit(path).params["log_diag"][0]) == 0.0
    save_fit(path, pn.MAPPosterior({"log_diag": jnp.ones(2)}, mvp_model), overwrite=True)
    assert float(load_fit(path).params["log_diag"][0]) == 1.0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fit.nc"]


def test_edits_and_leftovers_are_refused(tmp_path, mvp_model):
    az = import_arviz()
    fit = pn.MAPPosterior({"log_diag": jnp.zeros(2)}, mvp_model)
    path = save_fit(tmp_path / "fit.nc", fit)
    idata = az.from_netcdf(path)
    config = json.loads(idata.attrs["model_config"])
    config["task"]["slope"] = 2.0  # a silent edit of the model
    idata.attrs["model_config"] = json.dumps(config)
    write_netcdf(idata, str(tmp_path / "slope.nc"))
    idata.close()
    with pytest.raises(ValueError, match="slope.nc.*do not match the checksum"):
        load_fit(tmp_path / "slope.nc")
    raw = bytearray((tmp_path / "fit.nc").read_bytes())
    (tmp_path / ".fit.nc.99.partial").write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="did not finish"):
        load_fit(tmp_path / ".fit.nc.99.partial")


if __name__ == "__main__":  # python tests/data/test_fits.py write|check FOLDER
    command, folder = sys.argv[1:3]
    if command == "write":
        write_reference_fits(folder)
        count = len(reference_fits())
    else:
        paths = sorted(Path(folder).glob("*_arviz*.nc"))
        for path in paths:
            check_written_fit(path, path.name.split("_arviz")[0])
        count = len(paths)
    print(command, count, arviz_major())
