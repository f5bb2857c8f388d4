"""bootstrap(): Hong-style refits of one observer, as a posterior every readout takes."""

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.fixture(scope="module")
def seed_bootstrap(mvp_model, seed_data):
    opt = pn.MAPOptimizer(steps=600, learning_rate=2e-2, momentum=0.9, show_progress=False)
    return opt, pn.bootstrap(mvp_model, seed_data, 40, seed=3, optimizer=opt,
                             init_params={"log_diag": np.zeros(2, np.float32)},
                             method="optimizer")


def test_replicates_equal_single_fits_of_the_resampled_trials(mvp_model, seed_data,
                                                                seed_bootstrap):
    opt, boot = seed_bootstrap
    full = opt.fit(mvp_model, seed_data, init_params={"log_diag": np.zeros(2)}, seed=3)
    np.testing.assert_allclose(boot.params["log_diag"], full.params["log_diag"], rtol=1e-6)
    stimuli, responses = np.asarray(seed_data.stimuli), np.asarray(seed_data.responses)
    for r in (0, 17, 39):
        rows = boot.indices[r]
        one = opt.fit(mvp_model, pn.TrialData(stimuli[rows], responses[rows]),
                      init_params=full)
        np.testing.assert_allclose(boot.samples["log_diag"][r], one.params["log_diag"],
                                   rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(boot.losses[r], one.losses, rtol=1e-5, atol=1e-5)


def test_bands_arviz_and_files_take_the_replicates(mvp_model, seed_bootstrap, tmp_path):
    _, boot = seed_bootstrap
    points = np.zeros((1, 2))
    band = pn.covariance_band(boot.samples, points, 0.9, model=mvp_model)
    cov = np.stack([np.diag(np.exp(s)) for s in np.asarray(boot.samples["log_diag"])])
    want = np.percentile(cov[:, 0, 0], [5, 50, 95])
    got = [band.cov.lower[0, 0, 0], band.cov.median[0, 0, 0], band.cov.upper[0, 0, 0]]
    np.testing.assert_allclose(got, want, rtol=1e-4)
    resampled = pn.covariance_band(boot, points, 0.9, num_draws=4000)
    assert want[0] * 0.97 < resampled.cov.lower[0, 0, 0] < want[1]
    idata = boot.to_inference_data()
    assert idata.posterior.sizes["draw"] == 40
    path = pn.save_fit(tmp_path / "boot.nc", boot)
    back = pn.load_fit(path)
    np.testing.assert_array_equal(back.samples["log_diag"], boot.samples["log_diag"])


def test_bad_arguments_are_refused_before_fitting(mvp_model, seed_data, no_compilation):
    with no_compilation():
        with pytest.raises(ValueError, match="num_replicates"):
            pn.bootstrap(mvp_model, seed_data, 0)
        with pytest.raises(TypeError, match="optimizer must be a MAPOptimizer"):
            pn.bootstrap(mvp_model, seed_data, 3, optimizer=pn.NUTSSampler())
        with pytest.raises(TypeError, match="seed"):
            pn.bootstrap(mvp_model, seed_data, 3, seed=1.5)
        with pytest.raises(ValueError, match="method must be one of"):
            pn.bootstrap(mvp_model, seed_data, 3, method="sgd")
        with pytest.raises(ValueError, match="newton_steps"):
            pn.bootstrap(mvp_model, seed_data, 3, newton_steps=0)


def test_newton_replicates_start_at_the_map_and_reach_their_own(mvp_model, seed_data,
                                                                mvp_map_by_search):
    short = pn.MAPOptimizer(steps=60, learning_rate=2e-2, show_progress=False)
    boot = pn.bootstrap(mvp_model, seed_data, 3, seed=5, optimizer=short)
    trials = mvp_model.trials(seed_data)
    full = mvp_map_by_search(trials, [0.0, 0.0])  # 60 steps stop short; Newton finishes
    assert np.abs(short.fit(mvp_model, seed_data, seed=5).params["log_diag"] - full).max() > 0.01
    np.testing.assert_allclose(boot.params["log_diag"], full, atol=2e-3)
    np.testing.assert_allclose(boot.fit.params["log_diag"], full, atol=2e-3)
    for r in range(3):
        picked = pn.Trials(*(np.asarray(x)[boot.indices[r]] for x in trials))
        np.testing.assert_allclose(boot.samples["log_diag"][r], mvp_map_by_search(picked, full),
                                   atol=2e-3)


@pytest.mark.slow  # three compilations (~8 s)
def test_fit_many_equals_separate_fits_with_each_seed_and_start(mvp_model, seed_truth):
    opt = pn.MAPOptimizer(steps=200, learning_rate=2e-2, show_progress=False)
    data = [pn.simulate_trials(jax.random.PRNGKey(s), mvp_model, seed_truth, n)
            for s, n in enumerate((100, 250))]
    posts = opt.fit_many(mvp_model, data, seed=[4, 9])
    for post, d, seed in zip(posts, data, (4, 9)):
        one = opt.fit(mvp_model, d, seed=seed)
        np.testing.assert_allclose(post.params["log_diag"], one.params["log_diag"], rtol=1e-5)
        np.testing.assert_allclose(post.losses, one.losses, rtol=1e-5, atol=1e-4)
        assert post.trials.ref.shape[0] == d.stimuli.shape[0]
    with pytest.raises(ValueError, match="seed holds 3 values for 2 datasets"):
        opt.fit_many(mvp_model, data, seed=[1, 2, 3])
    with pytest.raises(ValueError, match="datasets is empty"):
        opt.fit_many(mvp_model, [])
