"""Bootstrap refits: batches equal a loop of single fits; Newton refits reach each MAP."""

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.bootstrap import bootstrap_indices, newton_bootstrap
from psyphy_numpyro.core.keys import bootstrap_keys


def test_each_replicate_draws_n_trials_with_replacement():
    idx = bootstrap_indices(bootstrap_keys(0, 200).resample, 2000)
    assert idx.shape == (200, 2000) and idx.min() >= 0 and idx.max() < 2000
    # a resample of n holds 1 - (1 - 1/n)^n ~ 1 - 1/e of the trials, sd ~ 0.011 / row
    distinct = np.array([np.unique(row).size for row in idx]) / 2000
    assert abs(distinct.mean() - (1 - (1 - 1 / 2000) ** 2000)) < 0.003
    assert not np.array_equal(idx[0], idx[1])


@pytest.mark.slow  # six compilations (~9 s)
def test_batches_equal_a_loop_of_single_fits(mvp_model, seed_data, seed_map_fit):
    trials = mvp_model.trials(seed_data)
    keys = bootstrap_keys(7, 5)
    result = pn.fit_bootstrap(keys, mvp_model.numpyro_model, trials, seed_map_fit.params,
                              num_steps=150, batch_size=2, progress_bar=False)
    assert result.params["log_diag"].shape == (5, 2) and len(result.losses) == 5
    for r in range(5):
        rows = result.indices[r]
        one = pn.fit_map(keys.run[r], mvp_model.numpyro_model,
                         *(np.asarray(x)[rows] for x in trials), num_steps=150,
                         init_params=seed_map_fit.params, progress_bar=False)
        np.testing.assert_allclose(result.params["log_diag"][r], one.params["log_diag"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(result.losses[r], one.losses, rtol=1e-5)
    assert np.ptp(result.params["log_diag"][:, 0]) > 0.01  # the replicates differ


def test_bad_arguments_are_refused(mvp_model, seed_data, seed_map_fit):
    trials = mvp_model.trials(seed_data)
    with pytest.raises(TypeError, match="keys must be BootstrapKeys"):
        pn.fit_bootstrap(jax.random.PRNGKey(0), mvp_model.numpyro_model, trials,
                         seed_map_fit.params, num_steps=5)
    with pytest.raises(TypeError, match="trials must be Trials"):
        pn.fit_bootstrap(bootstrap_keys(0, 2), mvp_model.numpyro_model, seed_data,
                         seed_map_fit.params, num_steps=5)
    with pytest.raises(ValueError, match="batch_size"):
        pn.fit_bootstrap(bootstrap_keys(0, 2), mvp_model.numpyro_model, trials,
                         seed_map_fit.params, num_steps=5, batch_size=0)


def test_newton_refits_reach_each_replicates_map(mvp_model, seed_data, mvp_map_by_search):
    trials = mvp_model.trials(seed_data)
    start = {"log_diag": np.asarray(mvp_map_by_search(trials, [0.0, 0.0]), np.float32)}
    result = newton_bootstrap(bootstrap_keys(4, 6), mvp_model.spec, trials, start,
                              progress_bar=False)
    assert result.params["log_diag"].shape == (6, 2) and len(result.losses) == 6
    for r in range(6):
        picked = pn.Trials(*(np.asarray(x)[result.indices[r]] for x in trials))
        want = mvp_map_by_search(picked, start["log_diag"])
        # float32 steps on a flat per-trial loss: within 5e-3, under 2% of the
        # posterior sd along the poorly determined log_diag[1] (about 0.4)
        np.testing.assert_allclose(result.params["log_diag"][r], want, atol=5e-3)
    moved = np.abs(result.params["log_diag"] - start["log_diag"]).max(axis=1)
    assert moved.min() > 0.05  # each replicate moved well beyond the tolerance


def test_newton_refits_refuse_bad_arguments(mvp_model, seed_data, seed_map_fit):
    trials = mvp_model.trials(seed_data)
    with pytest.raises(TypeError, match="keys must be BootstrapKeys"):
        newton_bootstrap(jax.random.PRNGKey(0), mvp_model.spec, trials, seed_map_fit.params)
    with pytest.raises(ValueError, match="newton_steps"):
        newton_bootstrap(bootstrap_keys(0, 2), mvp_model.spec, trials, seed_map_fit.params,
                         newton_steps=0)
