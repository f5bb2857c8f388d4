"""The full WPPM (Wishart-process field, Monte Carlo oddity rule) against psyphy 0.0.5."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer.util import log_density

import psyphy_numpyro as pn

psyphy_model = pytest.importorskip("psyphy.model")
psyphy_data = pytest.importorskip("psyphy.data")

SETTINGS = dict(basis_degree=3, variance_scale=4e-3, decay_rate=0.4,
                extra_embedding_dims=1)


def both_models(input_dim, num_samples=300, noise="gauss", estimator="psyphy"):
    """Our model and psyphy's; ``estimator="psyphy"`` draws exactly as psyphy does."""
    ours = pn.WPPM(
        pn.Prior(input_dim=input_dim, **SETTINGS),
        pn.OddityTask(config=pn.OddityTaskConfig(num_samples=num_samples, bandwidth=1e-2,
                                                 estimator=estimator)),
        pn.GaussianNoise() if noise == "gauss" else pn.StudentTNoise(df=4.0),
        input_dim=input_dim, extra_dims=1,
    )
    theirs = psyphy_model.WPPM(
        psyphy_model.Prior(input_dim=input_dim, **SETTINGS),
        psyphy_model.OddityTask(
            config=psyphy_model.OddityTaskConfig(num_samples=num_samples, bandwidth=1e-2)),
        psyphy_model.GaussianNoise() if noise == "gauss" else psyphy_model.StudentTNoise(df=4.0),
        input_dim=input_dim, extra_dims=1,
    )
    return ours, theirs


def study(input_dim, n=60, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.8, 0.8, (n, input_dim))
    cmp = ref + rng.normal(0.0, 0.05, (n, input_dim))
    return np.stack([ref, cmp], 1), rng.integers(0, 2, n)


@pytest.mark.parametrize("input_dim", [1, 2, 3])
def test_params_prior_and_field_equal_psyphys(input_dim):
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


@pytest.mark.parametrize("input_dim, noise", [(1, "gauss"), (2, "gauss"), (3, "gauss"),
                                              (2, "student")])
def test_log_likelihood_and_p_correct_equal_psyphys_with_the_same_key(input_dim, noise):
    ours, theirs = both_models(input_dim, noise=noise)
    params = ours.init_params(jax.random.PRNGKey(5))
    stimuli, y = study(input_dim, n=20)  # psyphy loops over trials in Python
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


def test_independent_draws_agree_within_monte_carlo_error():
    ours, theirs = both_models(2, num_samples=4000)
    params = ours.init_params(jax.random.PRNGKey(2))
    stimuli, _ = study(2, n=8)
    for ref, cmp in stimuli:
        pair = (jnp.asarray(ref), jnp.asarray(cmp))
        a = float(ours.predict_prob(params, pair, key=jax.random.PRNGKey(1)))
        b = float(theirs.likelihood.predict(params, jnp.stack(pair), theirs,
                                            key=jax.random.PRNGKey(2))[0])
        se = np.sqrt(2 * a * (1 - a) / 4000)  # sd of a difference of two means
        assert abs(a - b) < 5 * se + 1e-6


def test_fixed_noise_makes_the_density_deterministic_and_differentiable():
    model, _ = both_models(2)
    stimuli, y = study(2)
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


def test_unseeded_full_model_without_noise_says_what_to_do():
    model, _ = both_models(2)
    stimuli, y = study(2)
    params = model.init_params(jax.random.PRNGKey(1))
    with pytest.raises(ValueError, match="mc_samples="):
        log_density(model.numpyro_model, (stimuli[:, 0], stimuli[:, 1], y), {}, params)


@pytest.mark.parametrize("bad", [1.2, -1.01])
def test_stimuli_outside_the_domain_warn_in_data_paths_and_match_psyphy(bad):
    """psyphy fits and evaluates such data; we do too, with a warning at the caller."""
    model, theirs = both_models(2, num_samples=50)
    stimuli, y = study(2, n=4)
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
def test_psyphys_private_methods_give_psyphys_values(input_dim):
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


def test_swapping_the_task_recompiles_and_other_settings_are_fixed():
    """Compiled code is cached per model: a new task must not reuse the old code."""
    def fresh(num_samples):
        task = pn.OddityTask(config=pn.OddityTaskConfig(num_samples=num_samples))
        return pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), task)

    model, few, many = fresh(64), fresh(8), fresh(64)
    assert model == many and hash(model) == hash(many) and model != few
    stimuli, y = study(2, n=10)
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


@pytest.mark.slow
def test_map_recovers_a_simulated_field_far_better_than_a_prior_draw():
    """2,000 trials around 16 Sobol references; metric: mean relative Frobenius
    error of Sigma(x) at the references (measured: MAP 0.65; five prior draws
    0.82 to 1.99, mean 1.38), and mean relative error of the threshold
    distance over 24 directions (MAP 0.36 against 1.04 for a prior draw)."""
    import optax

    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=4),
                    pn.OddityTask(config=pn.OddityTaskConfig(num_samples=32)))
    truth = model.init_params(jax.random.PRNGKey(1))
    refs = pn.reference_points(16, 2, method="sobol", seed=0) * 0.8
    ref, cmp = pn.comparisons_along_directions(jax.random.PRNGKey(2), refs, 125,
                                               min_distance=0.0, max_distance=0.15)
    y = pn.simulate_responses(jax.random.PRNGKey(3), model, truth, ref, cmp)
    data = pn.TrialData(np.stack([ref, cmp], 1), y)
    sgd = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(1e-3, momentum=0.9))
    fit = pn.MAPOptimizer(steps=400, optimizer=sgd, show_progress=False).fit(
        model, data, seed=0)

    xs = refs
    true_field = model.local_covariance(truth, xs)

    def error(params):
        field = model.local_covariance(params, xs)
        rel = jnp.linalg.norm(field - true_field, axis=(1, 2)) / jnp.linalg.norm(
            true_field, axis=(1, 2))
        return float(jnp.mean(rel))

    prior_errors = [error(model.init_params(k))
                    for k in jax.random.split(jax.random.PRNGKey(9), 5)]
    assert error(fit.params) < 0.6 * np.mean(prior_errors)
    assert error(fit.params) < min(prior_errors)

    # the threshold contours at the references (criterion 2/3, 24 directions)
    true_c = pn.threshold_contour(model, truth, ref=refs, num_angles=24)

    def threshold_error(params):
        c = pn.threshold_contour(model, params, ref=refs, num_angles=24)
        ok = np.asarray(c.reached) & np.asarray(true_c.reached)
        t, e = np.asarray(true_c.radii)[ok], np.asarray(c.radii)[ok]
        return float(np.mean(np.abs(e - t) / t))

    prior_threshold = threshold_error(model.init_params(jax.random.PRNGKey(0)))
    assert threshold_error(fit.params) < 0.5 * prior_threshold


@pytest.mark.parametrize("input_dim, degree, variance_scale", [(3, 4, 3e-4), (2, 5, 4e-3)])
def test_prior_differences_match_psyphy_at_small_variances(input_dim, degree,
                                                             variance_scale):
    """psyphy adds 1e-10 to every variance in its density; so do we."""
    settings = dict(input_dim=input_dim, basis_degree=degree,
                    variance_scale=variance_scale, decay_rate=0.4,
                    extra_embedding_dims=1)
    ours, theirs = pn.Prior(**settings), psyphy_model.Prior(**settings)
    a, b = ours.sample_params(jax.random.PRNGKey(0)), ours.sample_params(jax.random.PRNGKey(1))
    np.testing.assert_allclose(ours.log_prob(a) - ours.log_prob(b),
                               theirs.log_prob(a) - theirs.log_prob(b), rtol=1e-4)


@pytest.mark.filterwarnings("ignore:NUTS had")  # mechanics, not sampling quality
def test_nuts_on_the_full_model_with_fixed_draws():
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1),
                    pn.OddityTask(config=pn.OddityTaskConfig(num_samples=50)))
    truth = model.init_params(jax.random.PRNGKey(1))
    stimuli, _ = study(2, n=60)
    y = pn.simulate_responses(jax.random.PRNGKey(2), model, truth, stimuli[:, 0],
                              stimuli[:, 1])
    data = pn.TrialData(stimuli, y)
    post = pn.NUTSSampler(num_warmup=40, num_samples=30, num_chains=2,
                          progress_bar=False).fit(model, data, init_params=truth)
    assert post.samples["W"].shape == (60, 2, 2, 2, 3)
    # the point estimate is one of the draws (the mean of W would collapse the field)
    assert np.any(np.all(np.asarray(post.samples["W"]) == np.asarray(post.params["W"]),
                         axis=(1, 2, 3, 4)))
    idata = post.to_inference_data()
    assert idata.posterior["W"].dims == ("chain", "draw", "basis_i", "basis_j", "dim",
                                         "embed")
    assert idata.log_likelihood["y"].dims == ("chain", "draw", "trial")
    # the log likelihood group uses the run's fixed draws
    draw = {"W": np.asarray(idata.posterior["W"][0, 5])}
    want = model.log_likelihood(draw, post.trials, post.model_kwargs["mc_samples"])
    np.testing.assert_allclose(idata.log_likelihood["y"][0, 5], want, rtol=1e-4,
                               atol=1e-5)
