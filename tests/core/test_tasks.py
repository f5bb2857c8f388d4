"""The tasks: OddityTask against psyphy 0.0.5, default criteria, bad settings.

OddityTask.predict / simulate / loglik give psyphy's numbers with the same keys.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn

SETTINGS = {"basis_degree": 2, "variance_scale": 4e-3,
            "decay_rate": 0.4, "extra_embedding_dims": 1}
NUM_SAMPLES = 200


@pytest.fixture(scope="module")
def models(psyphy_twins):
    ours, theirs = psyphy_twins(2, SETTINGS, num_samples=NUM_SAMPLES)
    return ours, theirs, ours.init_params(jax.random.PRNGKey(5))


@pytest.fixture(scope="module")
def stimuli():
    rng = np.random.default_rng(0)
    ref = rng.uniform(-0.8, 0.8, (12, 2))
    return jnp.asarray(np.stack([ref, ref + rng.normal(0, 0.08, ref.shape)], 1),
                       jnp.float32)


def test_predict_equals_psyphys_with_the_same_key(models, stimuli):
    ours, theirs, params = models
    key = jax.random.PRNGKey(3)
    (p,) = ours.task.predict(params, stimuli[0], ours, key=key)
    (q,) = jax.jit(theirs.likelihood.predict, static_argnums=2)(
        params, stimuli[0], theirs, key=key)
    assert p.shape == ()
    np.testing.assert_allclose(p, q, rtol=1e-5)
    # no key: config.default_key_seed, as psyphy
    seed = ours.task.config.default_key_seed
    np.testing.assert_array_equal(
        ours.task.predict(params, stimuli[0], ours)[0],
        ours.task.predict(params, stimuli[0], ours, key=jax.random.PRNGKey(seed))[0])


def test_simulate_equals_psyphys_and_predict_under_vmap(models, stimuli):
    ours, theirs, params = models
    key = jax.random.PRNGKey(11)
    responses, (p,) = ours.task.simulate(params, stimuli, ours, key=key)
    their_responses, (q,) = jax.jit(theirs.likelihood.simulate, static_argnums=2)(
        params, stimuli, theirs, key=key)
    assert responses.shape == (12,) and responses.dtype == jnp.int32
    np.testing.assert_allclose(p, q, rtol=1e-5)
    np.testing.assert_array_equal(responses, their_responses)
    # psyphy's per-trial layout: the Monte Carlo half of the key, split per trial
    trial_keys = jax.random.split(jax.random.split(key)[0], 12)
    per_trial = jax.vmap(lambda s, k: ours.task.predict(params, s, ours, key=k)[0])(
        stimuli, trial_keys)
    np.testing.assert_allclose(per_trial, p, rtol=1e-6)


def test_loglik_equals_psyphys_and_the_models(models, stimuli):
    psyphy_data = pytest.importorskip("psyphy.data")
    ours, theirs, params = models
    y = np.random.default_rng(1).integers(0, 2, 12)
    data = psyphy_data.TrialData(stimuli=stimuli, responses=jnp.asarray(y))
    key = jax.random.PRNGKey(7)
    ll = ours.task.loglik(params, data, ours, key=key)
    their_ll = jax.jit(lambda p, k: theirs.likelihood.loglik(p, data, theirs, key=k))(
        params, key)
    np.testing.assert_allclose(ll, their_ll, rtol=1e-5)
    np.testing.assert_allclose(ll, ours.log_likelihood_from_data(params, data, key=key),
                               rtol=1e-6)
    # by hand: Bernoulli log-probabilities of each trial's p(correct), one key each
    trial_keys = jax.random.split(key, 12)
    p = jax.vmap(lambda s, k: ours.task.predict(params, s, ours, key=k)[0])(
        stimuli, trial_keys)
    hand = np.sum(np.where(y == 1, np.log(p), np.log1p(-np.asarray(p))))
    np.testing.assert_allclose(ll, hand, rtol=1e-5)
    # the default key is psyphy's fallback, PRNGKey(0)
    np.testing.assert_array_equal(ours.task.loglik(params, data, ours),
                                  ours.task.loglik(params, data, ours,
                                                   key=jax.random.PRNGKey(0)))


@pytest.mark.slow
def test_default_estimator_delegates_to_the_model(stimuli):
    model = pn.WPPM(pn.Prior(input_dim=2, **SETTINGS),
                    pn.OddityTask(config=pn.OddityTaskConfig(num_samples=NUM_SAMPLES)))
    params = model.init_params(jax.random.PRNGKey(2))
    key = jax.random.PRNGKey(8)
    (p,) = model.task.predict(params, stimuli[0], model, key=key)
    pair = (stimuli[0, 0], stimuli[0, 1])
    np.testing.assert_allclose(p, model.predict_prob(params, pair, key=key), rtol=1e-6)
    responses, (q,) = model.task.simulate(params, stimuli, model, key=key)
    assert responses.shape == q.shape == (12,)
    assert np.all((q >= 1e-6) & (q <= 1 - 1e-6)) and set(np.unique(responses)) <= {0, 1}
    data = (stimuli[:, 0], stimuli[:, 1], responses)
    np.testing.assert_allclose(model.task.loglik(params, data, model, key=key),
                               model.log_likelihood_from_data(params, data, key=key),
                               rtol=1e-6)


def test_mvp_task_uses_the_closed_form(mvp_model, seed_truth):
    stim = jnp.array([[[0.0, 0.0], [0.3, 0.05]], [[0.0, 0.0], [-0.1, 0.2]]])
    (p,) = mvp_model.task.predict(seed_truth, stim[0], mvp_model)
    np.testing.assert_allclose(p, mvp_model.predict_prob(seed_truth, tuple(stim[0])),
                               rtol=1e-6)
    # psyphy's MVP rule by hand: 1/3 + (2/3) * (tanh(slope * d) + 1) / 2
    d = np.sqrt(np.sum((0.3, 0.05) ** np.array(2) / (np.array([0.9, 0.01]) + 1e-6)))
    np.testing.assert_allclose(p, 1 / 3 + (2 / 3) * 0.5 * (np.tanh(1.5 * d) + 1),
                               rtol=1e-5)
    responses, (q,) = mvp_model.task.simulate(seed_truth, stim, mvp_model,
                                              key=jax.random.PRNGKey(0))
    assert set(np.asarray(responses).tolist()) <= {0, 1}
    np.testing.assert_allclose(q[0], p, rtol=1e-6)
    data = pn.TrialData(stim, np.array([1, 0]))
    np.testing.assert_allclose(mvp_model.task.loglik(seed_truth, data, mvp_model),
                               np.log(q[0]) + np.log1p(-q[1]), rtol=1e-5)


def test_bad_arguments_are_named(models, stimuli):
    ours, _, params = models
    with pytest.raises(ValueError, match="differs from the model's"):
        pn.OddityTask(config=pn.OddityTaskConfig(num_samples=10)).predict(
            params, stimuli[0], ours)
    with pytest.raises(ValueError, match=r"shape \(2, 2\) for one trial"):
        ours.task.predict(params, stimuli, ours)
    with pytest.raises(ValueError, match=r"shape \(n_trials, 2, 2\)"):
        ours.task.simulate(params, stimuli[0], ours, key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match="Chebyshev domain"):
        ours.task.predict(params, jnp.array([[0.0, 0.0], [1.2, 0.0]]), ours)
    with pytest.raises(TypeError, match="key"):
        ours.task.simulate(params, stimuli, ours, key=None)
    with pytest.raises(TypeError, match="WPPM"):
        ours.task.loglik(params, stimuli, object())


def test_default_criteria_sit_halfway_between_floor_and_one():
    assert pn.OddityTask().default_criterion == pytest.approx(5 / 6)
    assert pn.TwoAFC().default_criterion == pytest.approx(0.75)


@pytest.mark.parametrize(
    "make, exc, match",
    [
        (lambda: pn.OddityTask(slope=0.0), ValueError, "slope"),
        (lambda: pn.TwoAFC(slope=-2.0), ValueError, "slope"),
    ],
)
def test_components_reject_non_positive_settings(make, exc, match):
    with pytest.raises(exc, match=match):
        make()


def test_an_unset_estimator_is_psyphys_monte_carlo_rule():
    # psyphy 0.0.5's positional signature; the estimator, ours, stays unset
    config = pn.OddityTaskConfig(500, 2e-2, 3)
    assert (config.num_samples, config.bandwidth, config.default_key_seed,
            config.estimator) == (500, 2e-2, 3, None)
    full = pn.Prior(input_dim=2, basis_degree=1)
    unset = pn.WPPM(full, pn.OddityTask(config))
    mc = pn.WPPM(full, pn.OddityTask(pn.OddityTaskConfig(500, 2e-2, 3, estimator="mc")))
    assert unset.estimator == mc.estimator == "mc" and unset.needs_draws
    assert pn.WPPM(full, pn.OddityTask(config), pn.StudentTNoise()).estimator == "psyphy"
    assert pn.WPPM(task=pn.OddityTask(config)).estimator is None  # the MVP
    # the same draws and the same p(correct) as an explicit "mc"
    params = unset.init_params(jax.random.PRNGKey(0))
    ref = jnp.array([[0.1, -0.2], [0.4, 0.4]])
    key = jax.random.PRNGKey(1)
    np.testing.assert_array_equal(
        unset.p_correct(params, ref, ref + 0.1, unset.draw_mc_samples(key, 2)),
        mc.p_correct(params, ref, ref + 0.1, mc.draw_mc_samples(key, 2)))
    with pytest.raises(ValueError, match="or None"):
        pn.OddityTaskConfig(estimator="auto")


def test_the_p_correct_clip_is_a_checked_setting():
    from psyphy_numpyro.core.oddity.psyphy_draws import PROB_CLIP

    assert pn.OddityTaskConfig().clip == PROB_CLIP == 1e-6  # psyphy's bound
    assert pn.OddityTaskConfig(clip=1e-3).clip == 1e-3  # Hong et al.'s
    assert pn.OddityTaskConfig(clip=0.0).clip == 0.0  # the raw estimate
    for bad, exc in ((0.5, ValueError), (-1e-3, ValueError), (float("nan"), ValueError),
                     ("0.001", TypeError)):
        with pytest.raises(exc, match="clip"):
            pn.OddityTaskConfig(clip=bad)
