"""Goodness-of-fit figures: every layer drawn, labelled, and in the legend."""

import jax
import jax.numpy as jnp
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.bands import psychometric_band


@pytest.fixture(scope="module")
def checked():
    model = pn.WPPM(pn.Prior.default(2), pn.OddityTask(lapse=0.1))
    truth = {"log_diag": jnp.array([-1.0, -0.5])}
    data = pn.simulate_trials(jax.random.PRNGKey(0), model, truth, 300, max_radius=2.0)
    stack = {"log_diag": jnp.broadcast_to(truth["log_diag"], (10, 2))}
    return model, data, stack


def test_binned_check_and_residual_figures(checked):
    model, data, stack = checked
    ax = pn.plot_binned_check(pn.binned_check(stack, data, model=model, bins=5))
    assert ax.get_xlabel() == "predicted p(correct)"
    assert ax.get_ylabel() == "proportion correct"
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == ["observed = predicted", "observed (300 trials, 5 bins)",
                      "90% band of replicated data"]
    res = pn.deviance_residuals(stack, data, model=model)
    for against, label in (("order", "trial (order in the data)"),
                           ("mahalanobis", "Mahalanobis distance (posterior median)")):
        ax = pn.plot_residuals(res, against, bins=4)
        assert ax.get_xlabel() == label and ax.get_ylabel() == "deviance residual"
        assert [t.get_text() for t in ax.get_legend().get_texts()] == [
            "trials (300)", "binned mean (± 2 s.e.)"]
    with pytest.raises(ValueError, match="against must be one of"):
        pn.plot_residuals(res, "time")
    with pytest.raises(TypeError, match="result must be a BinnedCheck"):
        pn.plot_binned_check(res)


def test_held_out_panels(checked):
    model, _, stack = checked
    band = psychometric_band(stack, [0.0, 0.0], 0.0, [0.0, 1.0, 2.0], model=model)
    axs = pn.plot_held_out([band, band, band], ncols=2, criterion=0.8)
    assert len(axs) == 3 and all(ax.get_ylabel() == "p(correct)" for ax in axs)
    assert not axs[0].figure.axes[3].get_visible()  # the grid's spare panel
    with pytest.raises(TypeError, match="bands must be a non-empty list"):
        pn.plot_held_out([])
