"""Catch trials (comparison equal to the reference) through every fitter.

A catch trial carries no information about the covariance: its p(correct) is
the task's floor whatever the parameters (2/3 for the MVP oddity mapping, 1/2
for 2AFC, chance 1/3 for the full WPPM's oddity rule), so its log-likelihood
is a constant with a zero gradient, and fits stay finite.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn

TRUTH = {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}


def with_catch_trials(model, params, n=120, catches=3):
    data = pn.simulate_trials(jax.random.PRNGKey(0), model, params, n)
    ref, probe, y = model.trials(data)
    probe = np.array(probe)
    probe[:catches] = np.asarray(ref)[:catches]
    return model.trials((ref, probe, y))


@pytest.mark.parametrize("task, floor", [(pn.OddityTask(), 2 / 3), (pn.TwoAFC(), 1 / 2)])
def test_mvp_catch_trial_is_the_floor_with_zero_gradient(task, floor):
    model = pn.WPPM(task=task)
    trials = with_catch_trials(model, TRUTH)
    one = pn.core.trials.Trials(trials.ref[:1], trials.probe[:1], jnp.ones(1, jnp.int32))

    def loglik(params):
        return model.log_likelihood(params, one)[0]

    for params in (TRUTH, {"log_diag": jnp.array([2.0, -3.0])}):
        np.testing.assert_allclose(loglik(params), np.log(floor), rtol=1e-6)
        np.testing.assert_array_equal(jax.grad(loglik)(params)["log_diag"], 0.0)


@pytest.mark.slow
def test_every_fitter_stays_finite_with_catch_trials(mvp_model):
    trials = with_catch_trials(mvp_model, TRUTH)
    start = {"log_diag": jnp.zeros(2)}
    fits = {
        "map": pn.MAPOptimizer(steps=50, learning_rate=2e-2, show_progress=False).fit(
            mvp_model, trials, init_params=start),
        "nuts": pn.NUTSSampler(num_warmup=30, num_samples=20, num_chains=1,
                               progress_bar=False).fit(mvp_model, trials),
        "svi": pn.SVIApproximation(steps=50, progress_bar=False).fit(mvp_model, trials),
        "mala": pn.LangevinSampler(steps=30, step_size=1e-2, progress_bar=False).fit(
            mvp_model, trials, init_params=start),
    }
    fits["laplace"] = pn.LaplaceApproximation().from_map(fits["map"], trials)
    for name, fit in fits.items():
        assert np.all(np.isfinite(fit.params["log_diag"])), name
        draws = fit.sample(5, key=jax.random.PRNGKey(1))["log_diag"]
        assert np.all(np.isfinite(draws)), name


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ["quadrature", "mc"])
def test_full_wppm_catch_trial_is_chance_with_a_finite_gradient(estimator):
    config = pn.OddityTaskConfig(num_samples=2000, estimator=estimator)
    model = pn.WPPM(pn.Prior(2, basis_degree=1), pn.OddityTask(config=config))
    params = model.init_params(jax.random.PRNGKey(2))
    ref = jnp.array([[0.1, -0.2]])
    samples = model.draw_mc_samples(jax.random.PRNGKey(3), 1)

    def p(params):
        return model.p_correct(params, ref, ref, samples)[0]

    tol = 3e-3 if estimator == "quadrature" else 3 * (2 / 9 / 2000) ** 0.5
    assert abs(float(p(params)) - 1 / 3) < tol
    grad = jax.grad(p)(params)["W"]
    assert np.all(np.isfinite(grad))
    fit = pn.MAPOptimizer(steps=5, show_progress=False).fit(
        model, (ref, ref, jnp.ones(1, jnp.int32)), init_params=params)
    assert np.all(np.isfinite(fit.params["W"]))
