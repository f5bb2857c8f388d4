"""The WPPM facade: the MVP against psyphy's formulas, the full model against psyphy.

The full model (Wishart-process field, Monte Carlo oddity rule) is compared with
psyphy 0.0.5's WPPM, with the same keys where the numbers must agree exactly.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

import psyphy_numpyro as pn

SETTINGS = dict(basis_degree=3, variance_scale=4e-3, decay_rate=0.4,
                extra_embedding_dims=1)


# -- the MVP ------------------------------------------------------------------------
def psyphy_log_posterior(params, stimuli, y, *, slope, scale, oddity=True):
    """psyphy's MVP log posterior written out in numpy (float64)."""
    log_diag = np.asarray(params["log_diag"], float)
    cov = np.diag(np.exp(log_diag)) + 1e-6 * np.eye(len(log_diag))
    delta = stimuli[:, 1] - stimuli[:, 0]
    d = np.sqrt(np.einsum("ni,ij,nj->n", delta, np.linalg.inv(cov), delta))
    t = np.tanh(slope * d)
    p = 1 / 3 + (2 / 3) * 0.5 * (t + 1) if oddity else 0.5 + 0.5 * t
    ll = np.sum(y * np.log(p + 1e-9) + (1 - y) * np.log(1 - p + 1e-9))
    return ll - 0.5 * np.sum(log_diag**2) / scale**2


@pytest.mark.parametrize("oddity", [True, False], ids=["oddity", "2afc"])
def test_log_posterior_equals_psyphys_formula(oddity, seed_data):
    task = pn.OddityTask(slope=1.5) if oddity else pn.TwoAFC(slope=2.0)
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=task)
    for seed in range(3):
        params = model.init_params(jax.random.PRNGKey(seed))
        want = psyphy_log_posterior(params, seed_data.stimuli, seed_data.responses[:, 0],
                                    slope=task.slope, scale=0.5, oddity=oddity)
        got = model.log_posterior_from_data(params, seed_data)
        np.testing.assert_allclose(got, want, rtol=1e-5)


def test_init_params_draws_from_the_prior(mvp_model):
    keys = jax.random.split(jax.random.PRNGKey(0), 2000)
    draws = jax.vmap(mvp_model.init_params)(keys)["log_diag"]
    np.testing.assert_allclose(draws.mean(0), 0.0, atol=0.05)
    np.testing.assert_allclose(draws.std(0), 0.5, rtol=0.06)


def test_predict_prob_and_discriminability_by_hand(mvp_model):
    params = {"log_diag": jnp.log(jnp.array([0.04, 0.01]))}
    ref, probe = jnp.zeros(2), jnp.array([0.2, 0.1])
    d = np.sqrt(0.2**2 / (0.04 + 1e-6) + 0.1**2 / (0.01 + 1e-6))
    np.testing.assert_allclose(mvp_model.discriminability(params, (ref, probe)), d,
                               rtol=1e-6)
    np.testing.assert_allclose(mvp_model.predict_prob(params, (ref, probe)),
                               2 / 3 + np.tanh(1.5 * d) / 3, rtol=1e-6)
    # the quirk of psyphy's MVP oddity rule: 2/3 at zero discriminability
    np.testing.assert_allclose(mvp_model.predict_prob(params, (ref, ref)), 2 / 3,
                               rtol=1e-6)


def test_local_covariance_is_diagonal_exp(mvp_model):
    cov = mvp_model.local_covariance({"log_diag": jnp.array([0.0, -1.0])}, jnp.zeros(2))
    np.testing.assert_allclose(cov, np.diag([1.0, np.exp(-1.0)]), rtol=1e-6)


def test_constructor_spellings_agree():
    prior, task, noise = pn.Prior.default(2), pn.TwoAFC(), pn.GaussianNoise(0.5)
    seed_kw = pn.WPPM(input_dim=2, prior=prior, task=task, noise=noise)
    seed_pos = pn.WPPM(2, prior, task, noise)
    v005 = pn.WPPM(prior, task, noise, input_dim=2)
    v005_kw = pn.WPPM(prior=prior, likelihood=task, noise=noise)
    for m in (seed_pos, v005, v005_kw):
        assert (m.input_dim, m.prior, m.task, m.noise) == (2, prior, task, noise)
    assert seed_kw.likelihood is task


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"input_dim": 3, "prior": pn.Prior.default(2)}, ValueError, "input_dim"),
        ({"input_dim": 0}, ValueError, "input_dim"),
        ({"prior": "gaussian"}, TypeError, "prior"),
        ({"task": "oddity"}, TypeError, "task"),
        ({"diag_term": -1.0}, ValueError, "diag_term"),
        ({"task": pn.TwoAFC(), "likelihood": pn.OddityTask()}, TypeError, "task"),
    ],
)
def test_wppm_rejects_bad_configuration(kwargs, exc, match):
    with pytest.raises(exc, match=match):
        pn.WPPM(**kwargs)


# -- the full WPPM against psyphy 0.0.5 ------------------------------------------------
@pytest.fixture(scope="module")
def both_models(psyphy_twins):
    """Our full WPPM and psyphy's (``psyphy_twins``) with this file's settings."""

    def build(input_dim, num_samples=300, noise="gauss"):
        return psyphy_twins(input_dim, SETTINGS, num_samples=num_samples,
                            bandwidth=1e-2,
                            student_t_df=None if noise == "gauss" else 4.0)

    return build


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_params_prior_and_field_equal_psyphys(input_dim, both_models):
    ours, theirs = both_models(input_dim)
    key = jax.random.PRNGKey(input_dim)
    params = ours.init_params(key)
    np.testing.assert_allclose(params["W"], theirs.init_params(key)["W"], rtol=1e-6)
    assert params["W"].shape == ours.prior.shape
    other = ours.init_params(jax.random.PRNGKey(99))
    np.testing.assert_allclose(
        ours.prior.log_prob(params) - ours.prior.log_prob(other),
        theirs.prior.log_prob(params) - theirs.prior.log_prob(other), rtol=1e-4)
    xs = np.random.default_rng(1).uniform(-1, 1, (5, input_dim))
    field = ours.local_covariance(params, xs)
    for x, cov in zip(xs, field):
        np.testing.assert_allclose(cov, theirs.local_covariance(params, jnp.asarray(x)),
                                   rtol=1e-5, atol=1e-9)


@pytest.mark.slow  # psyphy loops over trials; core/test_tasks.py checks loglik cheaply
@pytest.mark.parametrize("input_dim, noise", [(1, "gauss"), (2, "gauss"), (3, "gauss"),
                                              (2, "student")])
def test_log_likelihood_and_p_correct_equal_psyphys_with_the_same_key(
        input_dim, noise, both_models, random_trials):
    psyphy_data = pytest.importorskip("psyphy.data")
    ours, theirs = both_models(input_dim, noise=noise)
    params = ours.init_params(jax.random.PRNGKey(5))
    stimuli, y = random_trials(input_dim, n=6)  # psyphy loops over trials in Python
    data = psyphy_data.TrialData(stimuli=jnp.asarray(stimuli), responses=jnp.asarray(y))
    key = jax.random.PRNGKey(7)
    np.testing.assert_allclose(ours.log_likelihood_from_data(params, data, key=key),
                               theirs.log_likelihood_from_data(params, data, key=key),
                               rtol=1e-5)
    np.testing.assert_allclose(ours.log_posterior_from_data(params, data, key=key),
                               theirs.log_posterior_from_data(params, data, key=key),
                               rtol=1e-5)
    pair = (jnp.asarray(stimuli[0, 0]), jnp.asarray(stimuli[0, 1]))
    np.testing.assert_allclose(ours.predict_prob(params, pair),
                               theirs.predict_prob(params, pair), atol=1e-5)


@pytest.mark.slow
def test_independent_draws_agree_within_monte_carlo_error(both_models, random_trials):
    ours, theirs = both_models(2, num_samples=4000)
    params = ours.init_params(jax.random.PRNGKey(2))
    stimuli, _ = random_trials(2, n=8)
    for ref, cmp in stimuli:
        pair = (jnp.asarray(ref), jnp.asarray(cmp))
        a = float(ours.predict_prob(params, pair, key=jax.random.PRNGKey(1)))
        b = float(theirs.likelihood.predict(params, jnp.stack(pair), theirs,
                                            key=jax.random.PRNGKey(2))[0])
        se = np.sqrt(2 * a * (1 - a) / 4000)  # sd of a difference of two means
        assert abs(a - b) < 5 * se + 1e-6


@pytest.mark.slow
def test_fixed_noise_makes_the_density_deterministic_and_differentiable(
        both_models, random_trials):
    model, _ = both_models(2)
    stimuli, y = random_trials(2)
    trials = model.trials((stimuli[:, 0], stimuli[:, 1], y))
    noise = model.draw_mc_samples(jax.random.PRNGKey(0), len(y))
    args = (trials.ref, trials.probe, trials.responses)
    params = model.init_params(jax.random.PRNGKey(1))

    def joint(p):
        return log_density(model.numpyro_model, args, {"mc_samples": noise}, p)[0]

    assert float(joint(params)) == float(joint(params))
    grad = jax.grad(joint)(params)["W"]
    assert grad.shape == params["W"].shape and bool(jnp.all(jnp.isfinite(grad)))
    # and the joint is the per-trial likelihood plus NumPyro's prior density
    want = (model.log_likelihood(params, trials, noise).sum()
            + model.prior.log_prob(params) - model.prior.log_normalizer)
    np.testing.assert_allclose(joint(params), want, rtol=1e-5)


def test_unseeded_full_model_without_noise_says_what_to_do(both_models, random_trials):
    model, _ = both_models(2)
    stimuli, y = random_trials(2)
    params = model.init_params(jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match="mc_samples="):
        log_density(model.numpyro_model, (stimuli[:, 0], stimuli[:, 1], y), {}, params)


@pytest.mark.parametrize("bad", [1.2, -1.01])
def test_stimuli_outside_the_domain_warn_in_data_paths_and_match_psyphy(
        bad, both_models, random_trials):
    """psyphy fits and evaluates such data; we do too, with a warning at the caller."""
    psyphy_data = pytest.importorskip("psyphy.data")
    model, theirs = both_models(2, num_samples=50)
    stimuli, y = random_trials(2, n=4)
    stimuli[3, 1, 0] = bad
    params = model.init_params(jax.random.PRNGKey(0))
    key = jax.random.PRNGKey(7)
    with pytest.warns(UserWarning, match=r"Chebyshev domain \[-1, 1\]") as caught:
        ours = model.log_likelihood_from_data(params, (stimuli[:, 0], stimuli[:, 1], y),
                                              key=key)
    message = str(caught[0].message)
    assert "stimuli in probe lie outside" in message and "1 of 4 trials" in message
    assert f"{bad:.4g}" in message and "extrapolated" in message
    assert caught[0].filename == __file__  # points at the caller, not at the package
    data = psyphy_data.TrialData(stimuli=jnp.asarray(stimuli), responses=jnp.asarray(y))
    np.testing.assert_allclose(ours, theirs.log_likelihood_from_data(params, data, key=key),
                               rtol=1e-5)
    with pytest.warns(UserWarning, match="probe lie outside") as caught:
        model.task.loglik(params, pn.TrialData(stimuli, y), model, key=key)
    assert caught[0].filename == __file__
    # single points are evaluated eagerly and still refused, as psyphy does
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model.local_covariance(params, stimuli[3, 1])
    with pytest.raises(ValueError, match=r"\[-1, 1\]"):
        model.task.predict(params, stimuli[3], model)
    # non-finite values and wrong shapes are errors everywhere
    stimuli[3, 1, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.trials((stimuli[:, 0], stimuli[:, 1], y))
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        model.trials((stimuli[:, 0, 1:], stimuli[:, 1, 1:], y))


@pytest.mark.parametrize("input_dim", [2, 3])
def test_psyphys_private_methods_give_psyphys_values(input_dim, both_models):
    ours, theirs = both_models(input_dim)
    params = ours.init_params(jax.random.PRNGKey(input_dim))
    x = jnp.linspace(-0.9, 0.7, input_dim)
    np.testing.assert_allclose(ours._evaluate_basis_at_point(x),
                               theirs._evaluate_basis_at_point(x), rtol=1e-6, atol=1e-7)
    U = ours._compute_sqrt(params, x)
    assert U.shape == (input_dim, input_dim + 1)
    np.testing.assert_allclose(U, theirs._compute_sqrt(params, x), rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(jax.jit(ours._compute_sqrt)(params, x), U, rtol=1e-6)
    assert ours._validate_basis_input(x) is None
    for bad, match in [(x.at[0].set(1.1), r"Chebyshev domain \[-1, 1\]"),
                       (x.at[0].set(jnp.nan), "NaN"),
                       (jnp.zeros(input_dim + 1), rf"Expected x with shape \({input_dim},\)")]:
        for method in (ours._validate_basis_input, ours._evaluate_basis_at_point,
                       lambda z: ours._compute_sqrt(params, z)):
            with pytest.raises(ValueError, match=match):
                method(bad)
    mvp = pn.WPPM(pn.Prior.default(input_dim))
    with pytest.raises(ValueError, match="missing 'W'"):
        mvp._compute_sqrt(mvp.init_params(jax.random.PRNGKey(0)), x)


def test_swapping_the_task_recompiles_and_other_settings_are_fixed(random_trials):
    """Compiled code is cached per model: a new task must not reuse the old code."""
    def fresh(num_samples):
        task = pn.OddityTask(config=pn.OddityTaskConfig(num_samples=num_samples))
        return pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), task)

    model, few, many = fresh(64), fresh(8), fresh(64)
    assert model == many and hash(model) == hash(many) and model != few
    stimuli, y = random_trials(2, n=10)
    data = (stimuli[:, 0], stimuli[:, 1], y)
    params, key = model.init_params(jax.random.PRNGKey(1)), jax.random.PRNGKey(2)

    def loglik(m):
        return float(m.log_likelihood_from_data(params, data, key=key))

    before = loglik(model)
    model.likelihood = few.task  # psyphy scripts assign it
    assert model.task is few.task and model == few
    assert loglik(model) == loglik(few) != before
    model.task = many.task
    assert loglik(model) == before
    with pytest.raises(TypeError, match="OddityTask"):
        model.likelihood = pn.TwoAFC()
    assert model.task is many.task
    for name in ("prior", "noise", "diag_term", "input_dim"):
        with pytest.raises(AttributeError, match="build a new WPPM"):
            setattr(model, name, getattr(few, name))

    # the MAP fitter's compiled loop is cached per model too (the MVP: fast to fit)
    mvp = pn.WPPM(pn.Prior.default(2), pn.OddityTask(slope=1.5))
    trials = (stimuli[:, 0] * 0, stimuli[:, 1] - stimuli[:, 0], y)
    opt = pn.MAPOptimizer(steps=3, learning_rate=1e-2, show_progress=False)
    start = {"log_diag": jnp.array([-3.0, -2.0])}
    first = opt.fit(mvp, trials, init_params=start, seed=0)
    mvp.likelihood = pn.TwoAFC(slope=2.0)
    swapped = opt.fit(mvp, trials, init_params=start, seed=0)
    rebuilt = opt.fit(pn.WPPM(pn.Prior.default(2), pn.TwoAFC(slope=2.0)), trials,
                      init_params=start, seed=0)
    np.testing.assert_array_equal(swapped.params["log_diag"], rebuilt.params["log_diag"])
    assert not np.array_equal(swapped.params["log_diag"], first.params["log_diag"])


def test_task_settings_passed_to_the_model_are_refused_with_psyphys_words():
    prior = pn.Prior(input_dim=2, basis_degree=3)
    for name in ("num_samples", "bandwidth"):
        with pytest.raises(TypeError, match="Do not pass task-specific kwargs.*"
                                            "OddityTaskConfig"):
            pn.WPPM(prior, pn.OddityTask(), **{name: 123})
    with pytest.raises(TypeError, match="unexpected keyword"):
        pn.WPPM(prior, pn.OddityTask(), online_config=None)


def test_full_model_configuration_errors():
    prior = pn.Prior(input_dim=2)
    with pytest.raises(TypeError, match="OddityTask"):
        pn.WPPM(prior, pn.TwoAFC())
    with pytest.raises(ValueError, match="extra_dims"):
        pn.WPPM(prior, pn.OddityTask(), input_dim=2, extra_dims=2)
    with pytest.raises(ValueError, match="input_dim"):
        pn.Prior(input_dim=4)
    with pytest.raises(ValueError, match="num_samples must be > 0"):  # psyphy's words
        pn.OddityTaskConfig(num_samples=0)
    with pytest.raises(ValueError, match="bandwidth"):
        pn.OddityTaskConfig(bandwidth=0.0)
    with pytest.warns(UserWarning, match="variance_scale"):
        pn.WPPM(prior, pn.OddityTask(), variance_scale=1.0)
