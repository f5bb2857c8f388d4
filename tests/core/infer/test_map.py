"""fit_map: any optax transformation, a non-finite loss, compiled loops reused."""

import jax
import numpy as np
import optax
import pytest

import psyphy_numpyro as pn


def test_fit_map_accepts_any_optax_transformation(mvp_model, seed_data):
    trials = mvp_model.trials(seed_data)
    init = mvp_model.init_params(jax.random.PRNGKey(1))
    result = pn.fit_map(jax.random.PRNGKey(0), mvp_model.numpyro_model,
                        trials.ref, trials.probe, trials.responses, num_steps=300,
                        optimizer=optax.adam(5e-2), init_params=init, progress_bar=False)
    # At the optimum the gradient of the log posterior vanishes.
    grad = jax.jit(jax.grad(lambda p: mvp_model.log_posterior_from_data(p, trials)))(
        result.params)
    assert np.all(np.abs(grad["log_diag"]) < 0.5)
    assert result.losses.shape == (300,) and result.num_steps_run == 300


def test_non_finite_loss_stops_and_keeps_last_finite_params(mvp_model, seed_data):
    opt = pn.MAPOptimizer(steps=200, learning_rate=1e6, momentum=0.9,
                          show_progress=False)
    init = mvp_model.init_params(jax.random.PRNGKey(42))
    with pytest.warns(RuntimeWarning, match="non-finite"):
        post = opt.fit(mvp_model, seed_data, init_params=init)
    steps, losses = opt.get_history()
    assert len(steps) < 200 and np.all(np.isfinite(losses[:-1]))
    assert np.all(np.isfinite(post.params["log_diag"]))


def test_fits_of_the_same_shapes_and_settings_do_not_recompile(mvp_model, seed_data):
    from jax import monitoring

    compiles = []

    def listener(event, duration, **kwargs):
        if event == "/jax/core/compile/backend_compile_duration":
            compiles.append(event)

    monitoring.register_event_duration_secs_listener(listener)
    try:
        settings = dict(steps=50, learning_rate=1e-2, max_grad_norm=10.0,
                        show_progress=False)
        opt = pn.MAPOptimizer(**settings)
        first = opt.fit(mvp_model, seed_data, seed=0)
        after_first = len(compiles)
        second = opt.fit(mvp_model, seed_data, seed=1)  # new start, same shapes
        pn.MAPOptimizer(**settings).fit(mvp_model, seed_data)  # an equal optimizer
    finally:
        monitoring.unregister_event_duration_listener(listener)
    assert after_first > 0  # the listener sees compilations
    assert len(compiles) == after_first
    assert not np.allclose(first.losses[0], second.losses[0])  # really a new fit
