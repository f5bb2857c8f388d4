"""MAPOptimizer against the seed's from-scratch loop in plain JAX + optax.

Also against scipy's optimum of the same posterior, psyphy 0.0.5's clipped loop,
and a simulated full field (slow).
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import psyphy_numpyro as pn


def seed_loss_fn(ref, probe, y, *, slope, scale, task):
    """The seed's negative log posterior, written out with no NumPyro."""
    delta = probe - ref

    def loss(params):
        log_diag = params["log_diag"]
        cov = jnp.diag(jnp.exp(log_diag)) + 1e-6 * jnp.eye(2)
        d = jnp.sqrt(jnp.einsum("ni,ij,nj->n", delta, jnp.linalg.inv(cov), delta))
        if task == "oddity":
            p = 1.0 / 3.0 + (2.0 / 3.0) * 0.5 * (jnp.tanh(slope * d) + 1.0)
        else:
            p = 0.5 + 0.5 * jnp.tanh(slope * d)
        loglik = jnp.sum(y * jnp.log(p + 1e-9) + (1 - y) * jnp.log(1 - p + 1e-9))
        log_prior = -0.5 * jnp.sum(log_diag**2) / scale**2
        return -(loglik + log_prior)

    return loss


def seed_loop(loss_fn, init_params, *, steps, lr, momentum, log_every):
    opt = optax.sgd(learning_rate=lr, momentum=momentum)

    @jax.jit
    def step(params, opt_state):
        loss, grads = jax.value_and_grad(loss_fn)(params)
        updates, opt_state = opt.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    params, opt_state = init_params, opt.init(init_params)
    iters, values = [], []
    for i in range(steps):
        params, opt_state, loss = step(params, opt_state)
        if i % log_every == 0 or i == steps - 1:
            iters.append(i)
            values.append(float(loss))
    return params, iters, values


@pytest.mark.parametrize("task", ["oddity", "2afc"])
def test_map_matches_seed_loop(task, seed_data, seed_truth):
    task_obj = pn.OddityTask(slope=1.5) if task == "oddity" else pn.TwoAFC(slope=2.0)
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=task_obj,
                    noise=pn.GaussianNoise(sigma=1.0))
    data = pn.simulate_trials(jax.random.PRNGKey(3), model, seed_truth, 400)
    stimuli, y = data.stimuli, data.responses[:, 0]
    init = model.init_params(jax.random.PRNGKey(42))
    loss_fn = seed_loss_fn(jnp.asarray(stimuli[:, 0]), jnp.asarray(stimuli[:, 1]),
                           jnp.asarray(y), slope=task_obj.slope, scale=0.5, task=task)
    want_params, want_iters, want_losses = seed_loop(
        loss_fn, init, steps=1000, lr=2e-2, momentum=0.9, log_every=10)

    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, momentum=0.9,
                          track_history=True, log_every=10, show_progress=False)
    posterior = opt.fit(model, data, init_params=init)
    got_iters, got_losses = opt.get_history()

    np.testing.assert_allclose(posterior.params["log_diag"], want_params["log_diag"],
                               rtol=1e-5, atol=1e-5)
    assert got_iters == want_iters
    np.testing.assert_allclose(got_losses, want_losses, rtol=1e-5)
    assert posterior.model is model


def test_map_on_seed_example_is_the_posterior_mode(mvp_model, seed_data):
    """The fit agrees with scipy's optimum of the same posterior in float64."""
    from scipy.optimize import minimize

    stimuli, y = seed_data.stimuli, seed_data.responses[:, 0]
    delta = stimuli[:, 1] - stimuli[:, 0]

    def neg_log_post(log_diag):
        d = np.sqrt(np.sum(delta**2 / (np.exp(log_diag) + 1e-6), axis=1))
        p = 2.0 / 3.0 + np.tanh(1.5 * d) / 3.0
        return -(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p))
                 - 0.5 * np.sum(log_diag**2) / 0.25)

    mode = minimize(neg_log_post, np.zeros(2), method="Nelder-Mead",
                    options={"xatol": 1e-8, "fatol": 1e-10}).x
    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, momentum=0.9,
                          show_progress=False)
    post = opt.fit(mvp_model, seed_data, init_params=mvp_model.init_params(
        jax.random.PRNGKey(42)))
    np.testing.assert_allclose(post.params["log_diag"], mode, atol=2e-3)
    # the loss went down and was recorded at every step by default
    steps, losses = opt.get_history()
    assert steps == list(range(1000)) and losses[-1] < losses[0]
    np.testing.assert_allclose(losses[-1], neg_log_post(mode), rtol=1e-5)


def test_seed_argument_draws_the_start_from_the_prior(mvp_model, seed_data):
    opt = pn.MAPOptimizer(steps=1, learning_rate=1e-12, momentum=0.0,
                          show_progress=False)
    post = opt.fit(mvp_model, seed_data, seed=7)
    init_key, _ = jax.random.split(jax.random.PRNGKey(7))
    np.testing.assert_allclose(post.params["log_diag"],
                               mvp_model.init_params(init_key)["log_diag"], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"steps": 0}, "steps"),
        ({"steps": 2.5}, "steps"),
        ({"learning_rate": 0.0}, "learning_rate"),
        ({"learning_rate": -1e-3}, "learning_rate"),
        ({"momentum": 1.0}, "momentum"),
        ({"momentum": -0.1}, "momentum"),
        ({"log_every": 0}, "log_every"),
        ({"optimizer": "sgd"}, "optimizer"),
    ],
)
def test_map_optimizer_rejects_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        pn.MAPOptimizer(**kwargs)


def test_mean_reduction_at_lr_follows_sum_at_lr_over_n(mvp_model, seed_data):
    init = {"log_diag": jnp.array([0.2, -0.5])}
    n = seed_data.num_trials
    fits = {}
    for reduction, lr in (("sum", 2e-2 / n), ("mean", 2e-2)):
        opt = pn.MAPOptimizer(steps=200, learning_rate=lr, momentum=0.9,
                              reduction=reduction, show_progress=False)
        fits[reduction] = (opt.fit(mvp_model, seed_data, init_params=init),
                           np.asarray(opt.get_history()[1]))
    np.testing.assert_allclose(fits["mean"][0].params["log_diag"],
                               fits["sum"][0].params["log_diag"], rtol=1e-4)
    np.testing.assert_allclose(fits["mean"][1] * n, fits["sum"][1], rtol=1e-5)
    with pytest.raises(ValueError, match="reduction"):
        pn.MAPOptimizer(reduction="median")


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_auto_reduction_is_sum_for_the_mvp_and_mean_for_the_full_wppm(
        full, mvp_model, seed_data):
    if full:
        model = pn.WPPM(pn.Prior(2, basis_degree=1),
                        pn.OddityTask(config=pn.OddityTaskConfig(num_samples=8)))
        init = model.init_params(jax.random.PRNGKey(0))
    else:
        model, init = mvp_model, {"log_diag": jnp.array([0.2, -0.5])}
    history = {}
    expected = "mean" if full else "sum"  # the other one's loss differs by N
    for reduction in ("auto", expected):
        opt = pn.MAPOptimizer(steps=3, learning_rate=1e-3, reduction=reduction,
                              show_progress=False)
        opt.fit(model, seed_data, init_params=init)
        history[reduction] = np.asarray(opt.get_history()[1])
    np.testing.assert_array_equal(history["auto"], history[expected])


@pytest.mark.parametrize("bad", [None, "Mean", "", ["sum"]])
def test_reduction_refuses_none_and_names_the_choices(bad):
    with pytest.raises(ValueError, match=r"reduction must be one of \('mean', 'sum', 'auto'\)"):
        pn.MAPOptimizer(reduction=bad)


def test_max_grad_norm_clips_like_a_plain_optax_loop_and_counts(seed_data, seed_truth):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5), task=pn.OddityTask())
    stimuli, y = seed_data.stimuli, seed_data.responses[:, 0]
    n = len(y)
    loss_fn = seed_loss_fn(jnp.asarray(stimuli[:, 0]), jnp.asarray(stimuli[:, 1]),
                           jnp.asarray(y), slope=1.5, scale=0.5, task="oddity")
    init = model.init_params(jax.random.PRNGKey(1))
    grad_fn = jax.jit(jax.grad(lambda p: loss_fn(p) / n))  # psyphy 0.0.5's "mean"
    bound, steps = 0.8 * float(optax.tree.norm(grad_fn(init))), 200  # clips early on
    opt = optax.chain(optax.clip_by_global_norm(bound), optax.sgd(0.5, momentum=0.9))
    params, state, want_clipped = init, opt.init(init), 0
    for _ in range(steps):
        g = grad_fn(params)
        want_clipped += int(optax.tree.norm(g) > bound)
        updates, state = opt.update(g, state, params)
        params = optax.apply_updates(params, updates)

    fit = pn.MAPOptimizer(steps=steps, learning_rate=0.5, momentum=0.9, max_grad_norm=bound,
                          reduction="mean", show_progress=False)
    post = fit.fit(model, seed_data, init_params=init)
    np.testing.assert_allclose(post.params["log_diag"], params["log_diag"], rtol=1e-4,
                               atol=1e-5)
    assert 0 < want_clipped < steps
    assert fit.n_clipped_steps == want_clipped
    assert fit.clip_rate == pytest.approx(want_clipped / steps)
    assert post.trials is not None and post.trials.ref.shape == (n, 2)


def test_clipping_most_steps_warns(mvp_model, seed_data):
    opt = pn.MAPOptimizer(steps=20, learning_rate=1e-3, max_grad_norm=1e-6,
                          show_progress=False)
    with pytest.warns(UserWarning, match="clipping bound on 100% of the steps"):
        opt.fit(mvp_model, seed_data)
    assert opt.n_clipped_steps == 20 and opt.clip_rate == 1.0
    assert pn.MAPOptimizer(show_progress=False).clip_rate is None


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


def test_a_full_wppm_start_at_w_zero_is_refused():
    model = pn.WPPM(pn.Prior(2, basis_degree=1))
    data = (np.zeros((4, 2)), np.full((4, 2), 0.1), np.ones(4, int))
    zero = {"W": np.zeros(model.prior.shape, np.float32)}
    with pytest.raises(ValueError, match="all zeros, a stationary point"):
        pn.MAPOptimizer(steps=3, show_progress=False).fit(model, data, init_params=zero)
    with pytest.raises(ValueError, match="all zeros"):
        pn.fit_map(jax.random.PRNGKey(0), model.numpyro_model, *model.trials(data),
                   num_steps=3, init_params=zero, progress_bar=False)
