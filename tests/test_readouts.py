"""Closed-form threshold contours against a numerical search along each direction."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import psyphy_numpyro as pn


@pytest.mark.parametrize("task", [pn.OddityTask(slope=1.5), pn.TwoAFC(slope=2.0)],
                         ids=["oddity", "2afc"])
def test_contour_matches_root_finding_on_predict_prob(task):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2), task=task)
    params = {"log_diag": jnp.log(jnp.array([0.05, 0.002]))}
    criterion = 0.8
    contour = pn.threshold_contour(model, params, criterion=criterion, num_angles=12)
    ref = jnp.array([0.1, -0.2])
    for angle, radius in zip(contour.angles, contour.radii):
        u = np.array([np.cos(angle), np.sin(angle)])
        f = lambda t: float(model.predict_prob(params, (ref, ref + t * u))) - criterion
        np.testing.assert_allclose(radius, brentq(f, 1e-6, 5.0, xtol=1e-10), rtol=1e-4)


def test_contour_of_posterior_draws_and_band(mvp_model):
    draws = {"log_diag": jnp.stack([jnp.array([-1.0, -3.0]) + 0.1 * k for k in range(-10, 11)])}
    contour = pn.threshold_contour(mvp_model, draws, num_angles=8)
    assert contour.radii.shape == (21, 8)
    band = pn.contour_band(contour, prob=0.9)
    assert np.all(band.lower <= band.median) and np.all(band.median <= band.upper)
    # the median contour is the middle draw's (radii are monotone in the shift)
    middle = pn.threshold_contour(mvp_model, {"log_diag": jnp.array([-1.0, -3.0])},
                                  num_angles=8)
    np.testing.assert_allclose(band.median, middle.radii, rtol=1e-5)


def test_contour_xy_is_a_closed_curve_around_ref(mvp_model):
    c = pn.threshold_contour(mvp_model, {"log_diag": jnp.zeros(2)}, num_angles=6)
    x, y = c.xy((1.0, 2.0))
    assert len(x) == 7 and x[0] == x[-1] and y[0] == y[-1]
    np.testing.assert_allclose(np.hypot(x - 1.0, y - 2.0)[:-1], c.radii, rtol=1e-6)


@pytest.mark.parametrize("criterion", [0.5, 2 / 3, 1.0, 1.5])
def test_criterion_must_lie_above_the_floor(mvp_model, criterion):
    with pytest.raises(ValueError, match="criterion"):
        pn.threshold_contour(mvp_model, {"log_diag": jnp.zeros(2)}, criterion=criterion)


def test_band_needs_a_stack(mvp_model):
    c = pn.threshold_contour(mvp_model, {"log_diag": jnp.zeros(2)})
    with pytest.raises(ValueError, match="stack"):
        pn.contour_band(c)
