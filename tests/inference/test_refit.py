"""MAPLaplaceRefit: the fast refit of a session, against the slow, separate routes.

Its mean is checked against MAPOptimizer's MAP (SGD through NumPyro's SVI, a
separate optimiser) and its covariance against LaplaceApproximation's Fisher
Gaussian at the same point (reverse-mode Jacobians, a separate code path).
"""

import jax
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree
from numpyro.infer.util import potential_energy

import psyphy_numpyro as pn
from psyphy_numpyro.core.infer.laplace import fisher_precision, rotation_directions
from psyphy_numpyro.core.lapse import LAPSE_SITE, unconstrain_lapse
from psyphy_numpyro.inference.laplace import LaplaceApproximation, MAPPosterior
from psyphy_numpyro.inference.refit import MAPLaplaceRefit
from psyphy_numpyro.posterior.laplace import LaplacePosterior


def first(data, n):
    return pn.TrialData(data.stimuli[:n], data.responses[:n])


def laplace_at(params, model, data, hessian=None):
    return LaplaceApproximation(hessian=hessian).from_map(MAPPosterior(params, model),
                                                          data)


@pytest.fixture(scope="module")
def cold_refit(mvp_model, seed_data):
    return MAPLaplaceRefit().fit(mvp_model, seed_data)


# -- the MVP ---------------------------------------------------------------------------
def test_a_cold_refit_is_the_laplace_approximation_at_the_map(
        mvp_model, seed_data, seed_map_fit, cold_refit):
    post = cold_refit
    refit = MAPLaplaceRefit()
    assert isinstance(post, LaplacePosterior) and post.hessian == "exact"  # the MVP
    assert post.model is mvp_model
    assert post.losses.shape == (refit.cold_steps + refit.newton_steps,)
    np.testing.assert_array_equal(post.trials.ref, seed_data.stimuli[:, 0])
    np.testing.assert_array_equal(post.trials.responses, seed_data.responses[:, 0])
    # the MAP: SGD through NumPyro (seed_map_fit) is 1e-6 from scipy's optimum
    np.testing.assert_allclose(post.params["log_diag"], seed_map_fit.params["log_diag"],
                               atol=2e-3)
    want = laplace_at(post.params, mvp_model, seed_data)
    np.testing.assert_allclose(post.result.precision, want.result.precision, rtol=1e-4)
    np.testing.assert_allclose(post.cov, want.cov, rtol=1e-4)
    sd = np.sqrt(np.diag(post.cov))
    draws = post.sample(4000, key=jax.random.PRNGKey(0))["log_diag"]
    np.testing.assert_allclose(draws.mean(0), post.params["log_diag"],
                               atol=4 * sd.max() / np.sqrt(4000))
    np.testing.assert_allclose(np.cov(np.asarray(draws, float).T), post.cov, rtol=0.1,
                               atol=0.1 * sd.prod())


def test_a_warm_start_from_a_posterior_follows_the_new_answers(
        mvp_model, seed_data, seed_map_fit, cold_refit):
    earlier = MAPLaplaceRefit().fit(mvp_model, first(seed_data, 390))
    target = np.asarray(seed_map_fit.params["log_diag"])  # the MAP of all 400
    gap = np.abs(earlier.params["log_diag"] - target).max()
    assert gap > 0.01  # the last 10 answers moved the MAP
    refit = MAPLaplaceRefit()
    warm = refit.fit(mvp_model, seed_data, init_params=earlier)
    assert warm.losses.shape == (refit.steps + refit.newton_steps,)  # no cold start
    assert np.all(np.diff(warm.losses) <= 1e-6 * abs(warm.losses[0]))
    np.testing.assert_allclose(warm.params["log_diag"], target,
                               atol=min(2e-3, gap / 10))
    np.testing.assert_allclose(warm.cov, cold_refit.cov, rtol=1e-2)
    from_dict = refit.fit(mvp_model, seed_data, init_params=dict(earlier.params))
    np.testing.assert_array_equal(from_dict.params["log_diag"], warm.params["log_diag"])


@pytest.mark.filterwarnings("ignore:the curvature:RuntimeWarning")  # 3 steps: no mode
def test_refits_within_one_bucket_share_one_compiled_program(mvp_model, seed_data,
                                                             no_compilation):
    refit = MAPLaplaceRefit(cold_steps=3, newton_steps=0)  # a small program of its own
    refit.fit(mvp_model, first(seed_data, 300))  # compiles for the bucket of 512
    with no_compilation():
        post = refit.fit(mvp_model, first(seed_data, 310))
        refit.fit(mvp_model, first(seed_data, 400))
    assert len(post.trials.ref) == 310
    with pytest.raises(AssertionError, match="_refit"), no_compilation():
        refit.fit(mvp_model, first(seed_data, 200))  # the bucket of 256: compiles


@pytest.mark.parametrize("kwargs, error", [
    ({"steps": -1}, ValueError), ({"cold_steps": 1.5}, TypeError),
    ({"newton_steps": -2}, ValueError), ({"learning_rate": 0.0}, ValueError),
    ({"seed": -1}, ValueError), ({"seed": 0.5}, TypeError),
])
def test_bad_settings_are_refused(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        MAPLaplaceRefit(**kwargs)


def test_data_of_another_dimension_is_refused(mvp_model, no_compilation):
    data = pn.TrialData(np.zeros((5, 2, 3)), np.ones(5, int))
    with no_compilation(), pytest.raises(ValueError):
        MAPLaplaceRefit().fit(mvp_model, data)


def newton_decrement(post, data):
    """``g^T H^-1 g`` of NumPyro's potential energy at the refit's MAP.

    ``g`` is the gradient through the NumPyro model's own sites (in the
    unconstrained space) and ``H`` the refit's precision: the squared distance
    to the mode in posterior standard deviations, about.
    """
    model, trials = post.model, post.model.trials(data)
    args = (trials.ref, trials.probe, trials.responses)
    z = unconstrain_lapse(model, post.params)
    g = jax.grad(lambda z: potential_energy(model.numpyro_model, args, {}, z))(z)
    g = np.asarray(ravel_pytree(g)[0], float)
    return float(g @ np.linalg.solve(np.asarray(post.result.precision, float), g))


@pytest.mark.slow  # compiles a refit and a Laplace approximation
def test_a_refit_with_an_inferred_lapse_is_the_laplace_approximation_at_numpyros_mode(
        seed_truth):
    # the MAP is a stationary point of the NumPyro model's own density, and the
    # Gaussian is LaplaceApproximation's there (the rate on its logit); a fixed
    # rate goes through the same slope (the full WPPM's test below)
    lapse = pn.LapsePrior(2.0, 18.0)
    model = pn.WPPM(pn.Prior.default(2, scale=0.5), pn.OddityTask(slope=1.5, lapse=lapse))
    truth = {**seed_truth, LAPSE_SITE: 0.1}
    data = pn.simulate_trials(jax.random.PRNGKey(4), model, truth, 600)
    post = MAPLaplaceRefit().fit(model, data)
    assert set(post.params) == set(model.param_sites)
    assert newton_decrement(post, data) < 1e-4  # within 1% of an sd of the mode
    want = laplace_at(post.params, model, data)
    np.testing.assert_allclose(post.result.precision, want.result.precision, rtol=1e-3)
    np.testing.assert_allclose(post.cov, want.cov, rtol=1e-3)
    draws = post.sample(2000, key=jax.random.PRNGKey(0))[LAPSE_SITE]
    assert 0.0 < float(draws.min()) and float(draws.max()) < 1.0  # on the logit


# -- the full WPPM ---------------------------------------------------------------------
def scattered_trials(model, truth, n, spread, seed=0):
    """``n`` answers of ``truth`` at uniform references, comparisons ``spread`` away."""
    rng = np.random.default_rng(seed)
    ref = rng.uniform(-0.7, 0.7, (n, 2))
    probe = np.clip(ref + rng.normal(0.0, spread, ref.shape), -1.0, 1.0)
    y = pn.simulate_responses(jax.random.PRNGKey(seed + 1), model, truth, ref, probe)
    return pn.TrialData(np.stack([ref, probe], axis=1), y)


@pytest.mark.slow  # compiles the full WPPM's Adam, Gauss-Newton and Jacobian
def test_a_full_wppm_refit_gives_no_mass_to_the_rotations_and_can_be_sampled():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task, pn.GaussianNoise())
    data = scattered_trials(model, model.init_params(jax.random.PRNGKey(3)), 150, 0.05)

    post = MAPLaplaceRefit().fit(model, data)
    flat = np.asarray(ravel_pytree(post.params)[0], float)
    P = flat.size
    assert P == 3 * 3 * 2 * 3
    null = post.result.null_directions
    assert null.shape == (P, 3)
    rot = rotation_directions(post.params, "W")
    np.testing.assert_allclose(null @ null.T, rot @ rot.T, atol=1e-6)  # same span
    np.testing.assert_allclose(post.cov @ null, 0.0, atol=1e-8 * np.abs(post.cov).max())
    assert post.result.scale is not None and post.result.eigenvalues[0] > 0
    losses = post.losses[MAPLaplaceRefit().cold_steps:]  # the Gauss-Newton steps
    assert np.all(np.diff(losses) <= 1e-6 * abs(losses[0]))

    trials = model.trials(data)
    H = fisher_precision(model, post.params, trials)  # reverse mode, by directions
    np.testing.assert_allclose(post.result.precision, H, rtol=1e-3,
                               atol=1e-4 * np.abs(H).max())
    want = laplace_at(post.params, model, data)
    np.testing.assert_allclose(post.cov, want.cov, rtol=1e-2,
                               atol=1e-3 * np.abs(want.cov).max())

    draws = post.sample(2000, key=jax.random.PRNGKey(0))
    assert draws["W"].shape == (2000, *model.prior.shape)
    offsets = np.asarray(jax.vmap(lambda d: ravel_pytree(d)[0])(draws), float) - flat
    assert np.all(np.isfinite(offsets))
    np.testing.assert_allclose(offsets @ null, 0.0, atol=1e-4 * np.abs(offsets).max())
    np.testing.assert_allclose(np.cov(offsets.T), post.cov, rtol=0.0,
                               atol=0.15 * np.abs(post.cov).max())


@pytest.mark.slow  # compiles the full WPPM's refit with an inferred lapse rate
def test_a_full_wppm_refit_with_an_inferred_lapse_has_the_fisher_precision():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"),
                         lapse=pn.LapsePrior(2.0, 38.0))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), task, pn.GaussianNoise())
    truth = {**model.init_params(jax.random.PRNGKey(3)), LAPSE_SITE: 0.05}
    data = scattered_trials(model, truth, 300, 0.15, seed=1)

    # Gauss-Newton converges linearly with a lapse rate: the default 6 steps
    # leave a decrement near 1e-4 here (1.3e-4 after a float32-level change
    # of the rule), 8 reach float32's floor (1e-5)
    post = MAPLaplaceRefit(newton_steps=8).fit(model, data)
    assert 0.0 < float(post.params[LAPSE_SITE]) < 1.0
    assert newton_decrement(post, data) < 1e-4
    # the Jacobian by chain rule (rows of U, the lapse's slope) against reverse
    # mode through NumPyro's sites, both at the rate's logit
    H = fisher_precision(model, unconstrain_lapse(model, post.params), model.trials(data))
    np.testing.assert_allclose(post.result.precision, H, rtol=1e-3,
                               atol=1e-4 * np.abs(H).max())
