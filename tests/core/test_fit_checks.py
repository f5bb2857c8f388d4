"""Goodness of fit on simulated observers with and without lapses.

Truths: the simulated observer's parameters and lapse rate; residuals and
bin means computed by hand.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.lapse import LAPSE_SITE

TRUTH = {"log_diag": jnp.array([-1.0, -0.5])}


def _mvp(lapse=None):
    return pn.WPPM(pn.Prior.default(2), pn.OddityTask(lapse=lapse))


@pytest.fixture(scope="module")
def lapsing_data():
    """2,000 trials of an observer who lapses on 15% of them."""
    return pn.simulate_trials(jax.random.PRNGKey(2), _mvp(0.15), TRUTH, 2000,
                              max_radius=2.5)


def _truth_stack(n=50):
    return {"log_diag": jnp.broadcast_to(TRUTH["log_diag"], (n, 2))}


def test_binned_check_flags_ignored_lapses(lapsing_data):
    # the true parameters without the lapses: high predicted p is too high
    ignored = pn.binned_check(_truth_stack(), lapsing_data, model=_mvp(), bins=6)
    assert ignored.count.sum() == 2000
    top = ignored.predicted > 0.98
    assert top.sum() >= 2 and np.all(ignored.observed[top] < ignored.band.lower[top])
    # the true observer, lapses included: every bin within 3 binomial s.e.
    right = pn.binned_check(_truth_stack(), lapsing_data, model=_mvp(0.15), bins=6)
    se = np.sqrt(right.predicted * (1 - right.predicted) / right.count)
    assert np.all(np.abs(right.observed - right.predicted) < 3 * se)
    # the observed proportions are the bins' means, by hand
    trials = _mvp().trials(lapsing_data)
    y = np.asarray(trials.responses, float)
    p = np.asarray(jax.nn.sigmoid(_mvp(0.15).trial_logits(TRUTH, trials.ref, trials.probe)))
    which = np.clip(np.searchsorted(right.edges, p, side="right") - 1, 0,
                    len(right.edges) - 2)
    np.testing.assert_allclose(right.observed, [y[which == b].mean()
                                                for b in np.unique(which)], rtol=1e-6)


def test_deviance_residuals_by_hand(lapsing_data):
    model = _mvp(0.15)
    draws = {"log_diag": jnp.array([[-1.0, -0.5], [-0.8, -0.6], [-1.2, -0.3]])}
    res = pn.deviance_residuals(draws, lapsing_data, model=model)
    trials = model.trials(lapsing_data)
    p = np.mean([np.asarray(jax.nn.sigmoid(model.trial_logits(
        {"log_diag": d}, trials.ref, trials.probe)), float) for d in draws["log_diag"]], 0)
    y = np.asarray(trials.responses, float)
    want = np.where(y == 1, np.sqrt(-2 * np.log(p)), -np.sqrt(-2 * np.log(1 - p)))
    np.testing.assert_allclose(res.residual, want, rtol=1e-5)
    np.testing.assert_array_equal(res.order, np.arange(2000))
    np.testing.assert_allclose(res.distance, np.linalg.norm(
        np.asarray(trials.probe - trials.ref), axis=1), rtol=1e-6)
    d = [model.discriminability_batch({"log_diag": v}, trials.ref, trials.probe)
         for v in draws["log_diag"]]
    np.testing.assert_allclose(res.mahalanobis, np.median(np.asarray(d), 0), rtol=1e-5)
    # ignoring the lapses: far trials, the misses, pull the mean residual below 0
    far = pn.deviance_residuals(_truth_stack(3), lapsing_data, model=_mvp())
    trend = pn.residual_trend(far.mahalanobis, far.residual, bins=[0, 1, 50])
    assert trend.mean[-1] + 3 * trend.stderr[-1] < 0


def test_held_out_bands_and_bad_arguments(lapsing_data):
    model = _mvp(0.15)
    refs = np.zeros((2, 2))
    trials = model.trials(lapsing_data)
    delta = np.asarray(trials.probe - trials.ref)
    angles = np.arctan2(delta[:2, 1], delta[:2, 0])  # along two trials' directions
    bands = pn.held_out_bands(_truth_stack(4), lapsing_data, refs, angles,
                              np.linspace(0, 2.5, 6), model=model, angle_tol=0.3)
    assert len(bands) == 2 and all(b.observed.count.sum() >= 1 for b in bands)
    np.testing.assert_allclose(bands[0].direction, delta[0] / np.linalg.norm(delta[0]),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="one direction per reference"):
        pn.held_out_bands(_truth_stack(4), lapsing_data, refs, angles[:1], [0.1],
                          model=model)
    with pytest.raises(ValueError, match="bins must be a number of bins or increasing"):
        pn.binned_check(_truth_stack(4), lapsing_data, model=model, bins=[0.5, 0.4])
    with pytest.raises(ValueError, match="prob must lie in"):
        pn.binned_check(_truth_stack(4), lapsing_data, model=model, prob=1.0)
    with pytest.raises(ValueError, match="x and residual must be"):
        pn.residual_trend([0.0, 1.0], [1.0])


@pytest.mark.slow
def test_lapse_rate_recovered_and_misfit_without_it():
    """MAP + Laplace on 3,000 trials of an observer lapsing at 0.05."""
    data = pn.simulate_trials(jax.random.PRNGKey(2), _mvp(0.05), TRUTH, 3000,
                              max_radius=2.5)
    model = _mvp(pn.LapsePrior(1.0, 9.0))
    fit = pn.MAPOptimizer(steps=300, learning_rate=2e-3, show_progress=False).fit(
        model, data)
    laplace = pn.LaplaceApproximation().from_map(fit, data)
    rate = np.asarray(laplace.sample(4000, key=jax.random.PRNGKey(0))[LAPSE_SITE])
    assert np.all((rate > 0) & (rate < 1))
    lo, hi = np.percentile(rate, [2.5, 97.5])
    assert lo < 0.05 < hi and hi - lo < 0.05
    # the same data fitted without lapses: the binned check shows the misfit
    plain = pn.MAPOptimizer(steps=300, learning_rate=2e-3, show_progress=False).fit(
        _mvp(), data)
    stack = {"log_diag": plain.params["log_diag"][None]}
    misfit = pn.binned_check(stack, data, model=_mvp(), bins=8)
    top = misfit.predicted > 0.98
    assert top.any() and np.all(misfit.observed[top] < misfit.band.lower[top])
    fitted = pn.binned_check(laplace, data, bins=8, prob=0.99)
    assert np.all((fitted.observed >= fitted.band.lower)
                  & (fitted.observed <= fitted.band.upper))
