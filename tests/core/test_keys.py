"""The one key rule: what each seed gives, and that every fitter and readout uses it."""

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs
from psyphy_numpyro.core.keys import bootstrap_keys, default_draw_key, default_mc_key, fit_keys


def same(a, b):
    return bool(np.array_equal(jax.random.key_data(a) if a.dtype != np.uint32 else a,
                               jax.random.key_data(b) if b.dtype != np.uint32 else b))


@pytest.mark.parametrize("seed", [0, 7, 2**32 - 1])
def test_fit_keys_follow_the_documented_rule(seed):
    master = jax.random.PRNGKey(seed)
    init, run = jax.random.split(master)  # psyphy's MAPOptimizer split
    mc, starts = jax.random.split(jax.random.fold_in(master, 1))
    keys = fit_keys(seed)
    for got, want in zip(keys, (init, run, mc, starts)):
        np.testing.assert_array_equal(got, want)
    assert len({tuple(np.asarray(k)) for k in keys}) == 4  # four distinct streams


def test_map_start_is_psyphys_prior_draw(mvp_model, seed_data):
    fit = pn.MAPOptimizer(steps=1, learning_rate=1e-12, show_progress=False).fit(
        mvp_model, seed_data, seed=3)
    start = mvp_model.init_params(jax.random.split(jax.random.PRNGKey(3))[0])
    np.testing.assert_allclose(fit.params["log_diag"], start["log_diag"], atol=1e-5)


def test_fitters_share_the_fixed_monte_carlo_samples_of_a_seed():
    model = pn.WPPM(pn.Prior(2, basis_degree=1), pn.OddityTask(
        config=pn.OddityTaskConfig(num_samples=8)))
    trials = model.trials((np.zeros((5, 2)), np.full((5, 2), 0.1), np.ones(5, int)))
    kwargs = fixed_density_kwargs(model, trials, seed=4)
    want = model.draw_mc_samples(fit_keys(4).mc_samples, 5)
    for got, expected in zip(jax.tree.leaves(kwargs["mc_samples"]), jax.tree.leaves(want)):
        np.testing.assert_array_equal(got, expected)
    assert fixed_density_kwargs(pn.WPPM(), trials, seed=4) == {}


def test_readout_defaults(mvp_model):
    key = jax.random.PRNGKey(11)
    assert default_mc_key(mvp_model, key) is key and default_draw_key(key) is key
    task = pn.OddityTask(config=pn.OddityTaskConfig(default_key_seed=5))
    np.testing.assert_array_equal(default_mc_key(pn.WPPM(task=task)),
                                  jax.random.PRNGKey(5))
    np.testing.assert_array_equal(default_draw_key(), jax.random.PRNGKey(0))


@pytest.mark.parametrize("seed, error", [(1.5, TypeError), ("3", TypeError),
                                         (True, TypeError), (-1, ValueError),
                                         (2**32, ValueError)])
def test_bad_seeds_are_refused_by_every_fitter(seed, error, mvp_model, seed_data,
                                                no_compilation):
    with pytest.raises(error, match="seed"):
        fit_keys(seed)
    for make in (lambda: pn.NUTSSampler(seed=seed), lambda: pn.SVIApproximation(seed=seed),
                 lambda: pn.LangevinSampler(seed=seed),
                 lambda: pn.LaplaceApproximation(seed=seed)):
        with pytest.raises(error, match="seed"):
            make()
    with no_compilation(), pytest.raises(error, match="seed"):
        pn.MAPOptimizer(steps=2, show_progress=False).fit(mvp_model, seed_data, seed=seed)


def test_a_bootstrap_replicate_keeps_its_keys_whatever_the_number_drawn():
    few, many = bootstrap_keys(3, 4), bootstrap_keys(3, 120)
    np.testing.assert_array_equal(few.resample, many.resample[:4])
    np.testing.assert_array_equal(few.run, many.run[:4])
    rows = np.concatenate([many.resample, many.run, np.stack(fit_keys(3)[:2])])
    assert len({tuple(r) for r in rows.tolist()}) == len(rows)  # all distinct
    with pytest.raises(ValueError, match="num_replicates"):
        bootstrap_keys(3, 0)

