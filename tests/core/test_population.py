"""population_model: S observers around a population field, against its parts."""

from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from numpyro.infer import Predictive
from numpyro.infer.util import log_density
from scipy import stats

import psyphy_numpyro as pn
from psyphy_numpyro.core.population import (
    SCALE_SITE,
    PopulationSpec,
    observer_params,
    population_model,
)


def population_trials(model, sizes, seed=0):
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.7, 0.7, (sum(sizes), 2)).astype(np.float32)
    probe = (ref + rng.normal(0.0, 0.1, ref.shape)).astype(np.float32)
    y = (rng.uniform(size=len(ref)) < 0.7).astype(np.float32)
    observer = np.repeat(np.arange(len(sizes)), sizes)
    return ref, probe, y, observer


@pytest.mark.parametrize("full", [False, pytest.param(True, marks=pytest.mark.slow)])
def test_log_joint_is_the_prior_terms_plus_each_observers_own_likelihood(full, mvp_model):
    model = mvp_model
    if full:
        task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
        model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)
    pop = PopulationSpec(model.spec, 3, scale_sd=0.7)
    site = pop.site
    params = pop.init_params(jax.random.PRNGKey(0))
    params[f"{site}_dev"] = jax.random.normal(jax.random.PRNGKey(1), params[f"{site}_dev"].shape)
    params[SCALE_SITE] = jnp.asarray(-0.5)
    ref, probe, y, observer = population_trials(model, (20, 5, 12))
    joint = jax.jit(lambda p: log_density(partial(population_model, pop=pop), (ref, probe, y),
                                          {"observer": observer}, p)[0])(params)

    sd = model.prior.density_stddev().astype(float)
    want = stats.norm.logpdf(np.asarray(params[f"{site}_pop"], float), 0.0, sd).sum()
    want += stats.norm.logpdf(np.asarray(params[f"{site}_dev"], float)).sum()
    want += stats.norm.logpdf(-0.5, pop.scale_loc, 0.7)
    tau = np.exp(-0.5)
    for s in range(3):
        theta = (np.asarray(params[f"{site}_pop"]) + tau * model.prior.stddev()
                 * np.asarray(params[f"{site}_dev"][s]))
        rows = observer == s
        logits = np.asarray(model.spec.trial_logits({site: theta}, ref[rows], probe[rows]),
                            float)  # the observer's trials in one batch, its own field
        want += np.sum(y[rows] * -np.logaddexp(0, -logits)
                       + (1 - y[rows]) * -np.logaddexp(0, logits))
    np.testing.assert_allclose(joint, want, rtol=1e-5)


def test_observer_params_keep_leading_draw_axes(mvp_model):
    pop = PopulationSpec(mvp_model.spec, 4)
    draws = {"log_diag_pop": np.ones((7, 2)), "log_diag_dev": np.ones((7, 4, 2)),
             SCALE_SITE: np.log(np.full(7, 0.5))}
    theta = observer_params(pop, draws)["log_diag"]
    assert theta.shape == (7, 4, 2)
    np.testing.assert_allclose(theta, 1.0 + 0.5 * mvp_model.prior.scale, rtol=1e-6)


def test_a_start_has_every_observer_at_the_population(mvp_model):
    pop = PopulationSpec(mvp_model.spec, 3)
    start = pop.init_params(jax.random.PRNGKey(2))
    assert set(start) == set(pop.sites)
    theta = observer_params(pop, start)["log_diag"]
    np.testing.assert_allclose(theta, np.broadcast_to(start["log_diag_pop"], (3, 2)))


def test_simulated_answers_follow_each_observers_field(mvp_model):
    pop = PopulationSpec(mvp_model.spec, 2)
    ref, probe, _, observer = population_trials(mvp_model, (4000, 4000))
    fixed = {"log_diag_pop": jnp.zeros(2), "log_diag_dev": jnp.array([[4.0, 4.0], [-4.0, -4.0]]),
             SCALE_SITE: jnp.asarray(0.0)}
    y = Predictive(partial(population_model, pop=pop), fixed, batch_ndims=0)(
        jax.random.PRNGKey(0), ref, probe, observer=observer)["y"]
    theta = observer_params(pop, fixed)["log_diag"]
    for s in range(2):
        rows = observer == s
        logits = mvp_model.spec.trial_logits({"log_diag": theta[s]}, ref[rows], probe[rows])
        assert abs(float(np.mean(y[rows])) - float(np.mean(jax.nn.sigmoid(logits)))) < 0.02
    assert np.mean(y[observer == 0]) < np.mean(y[observer == 1]) - 0.1  # noisier observer


def test_bad_population_settings_are_refused(mvp_model):
    with pytest.raises(TypeError, match="spec must be a WPPMSpec"):
        PopulationSpec(mvp_model, 2)
    with pytest.raises(ValueError, match="num_observers"):
        PopulationSpec(mvp_model.spec, 0)
    with pytest.raises(ValueError, match="scale_sd"):
        PopulationSpec(mvp_model.spec, 2, scale_sd=0.0)


@pytest.mark.slow  # compiles the full WPPM's quadrature rule per trial (~20 s)
def test_one_rotation_of_every_w_leaves_the_population_density_unchanged():
    from psyphy_numpyro.core.infer.laplace import rotation_directions

    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), task)
    pop = PopulationSpec(model.spec, 2)
    params = pop.init_params(jax.random.PRNGKey(0))
    params["W_dev"] = jax.random.normal(jax.random.PRNGKey(1), params["W_dev"].shape)
    ref, probe, y, observer = population_trials(model, (6, 4))
    flat, unravel = jax.flatten_util.ravel_pytree(params)
    density = jax.jit(lambda f: log_density(partial(population_model, pop=pop), (ref, probe, y),
                                            {"observer": observer}, unravel(f))[0])
    null = rotation_directions(params, ("W_pop", "W_dev"))
    assert null.shape == (flat.size, 3)  # the rotations of a 3-D embedding
    np.testing.assert_allclose(null.T @ null, np.eye(3), atol=1e-6)
    step = 1e-2 * float(jnp.abs(flat).max())
    base = float(density(flat))
    for k in range(3):  # second order along a rotation's tangent, first order off it
        along = float(density(flat + step * null[:, k])) - base
        assert abs(along) < 1e-3
    off = np.array(jax.random.normal(jax.random.PRNGKey(2), flat.shape))
    off -= null @ (null.T @ off)
    assert abs(float(density(flat + step * off / np.linalg.norm(off))) - base) > 1e-2
