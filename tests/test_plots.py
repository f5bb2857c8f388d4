"""Figures render on the Agg backend with the expected artists."""

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.plots import plot_ellipse_field

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def full():
    task = pn.OddityTask(config=pn.OddityTaskConfig(num_samples=200))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, variance_scale=3e-4), task)
    truth = model.init_params(jax.random.PRNGKey(0))
    return model, truth, {"W": 1.2 * truth["W"]}


def test_ellipse_field_of_the_full_model(full):
    model, truth, fit = full
    refs = np.array([[0.0, 0.0], [0.95, 0.95]])  # same shapes as below: one compile
    ax = plot_ellipse_field(model, {"truth": truth, "MAP": fit}, refs,
                               num_angles=16, scale=2.0)
    assert len(ax.lines) == 2 * len(refs)
    labels = ax.get_legend_handles_labels()[1]
    assert [s.split(" (")[0] for s in labels[:2]] == ["truth", "MAP"]
    assert "x2" in ax.get_title()


def test_ellipse_field_with_a_band_and_unreached_directions(full):
    model, truth, _ = full
    refs = np.array([[0.0, 0.0], [0.95, 0.95]])
    draws = {"W": jnp.stack([truth["W"] * s for s in (0.9, 1.0, 1.1)])}
    band = pn.contour_band(pn.threshold_contour(model, draws, ref=refs, num_angles=16,
                                                criterion=0.9))
    ax = plot_ellipse_field(model, truth, refs, num_angles=16, criterion=0.9,
                               band=band, legend_loc="lower left")
    assert len(ax.lines) == len(refs)
    labels = ax.get_legend_handles_labels()[1]
    assert any("unreached" in s for s in labels)
    assert any("credible band" in s for s in labels)
    with pytest.raises(ValueError, match="stack"):
        plot_ellipse_field(model, {"draws": draws}, refs, num_angles=16)


def test_ellipse_field_of_the_mvp(mvp_model, seed_truth):
    refs = np.array([[0.0, 0.0], [0.5, 0.5], [-0.5, 0.5]])
    ax = plot_ellipse_field(mvp_model, {"truth": seed_truth}, refs, scale=0.5)
    assert len(ax.lines) == 3
    np.testing.assert_allclose(
        np.ptp(ax.lines[1].get_xdata()),
        0.5 * 2 * pn.threshold_contour(mvp_model, seed_truth).radii[0], rtol=1e-3)


def test_plot_thresholds_legend_loc(mvp_model, seed_truth, seed_data):
    trials = mvp_model.trials(seed_data)
    c = pn.threshold_contour(mvp_model, seed_truth, num_angles=32)
    ax = pn.plot_thresholds(trials, {"true": c}, legend_loc="lower left")
    assert ax.get_legend()._loc == 3  # matplotlib's code for "lower left"
    ax = pn.plot_thresholds(trials, {"true": c})
    assert ax.get_legend()._loc == 1


def test_learning_curve_renders():
    ax = pn.plot_learning_curve(np.arange(5), np.linspace(3.0, 1.0, 5))
    assert len(ax.lines) == 1
