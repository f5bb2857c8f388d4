"""Ellipse figures (plot_ellipse_field, plot_ellipses) with the expected artists."""

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.viz.ellipses import plot_ellipse_field, plot_ellipses
from psyphy_numpyro.viz.geometry import auto_scale, ellipse_segments


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
    # clipped to the domain [-1, 1]^2, which is outlined
    assert ax.get_xlim() == ax.get_ylim() == (-1.05, 1.05)
    domain = [p for p in ax.patches if p.get_width() == 2.0 and p.get_xy() == (-1, -1)]
    assert len(domain) == 1
    to_data = ax.transData.inverted()
    for line in ax.lines:  # matplotlib clips to a rectangle by its box
        np.testing.assert_allclose(line.get_clip_box().transformed(to_data).extents,
                                   [-1, -1, 1, 1], atol=1e-9)
    assert np.nanmax(ax.lines[1].get_xdata()) > 1.0  # the corner's contour crosses it


def test_ellipse_field_takes_num_samples(full):
    model, truth, _ = full
    ref = np.zeros((1, 2))
    ax = plot_ellipse_field(model, truth, ref, num_angles=8, num_samples=20)
    want = pn.threshold_contour(model, truth, ref=ref, num_angles=8, num_samples=20)
    x = np.asarray(ax.lines[0].get_xdata())[:-1]  # closed: first point repeated
    np.testing.assert_allclose(x, want.radii[0] * np.cos(want.angles), rtol=1e-5)


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


# -- psyphy 0.0.5's ellipse drawing -------------------------------------------------
def test_plot_ellipses_draws_the_segments_at_one_shared_scale(random_covariance_field):
    centers, covs = random_covariance_field(9, seed=2)
    ax, s = plot_ellipses(centers, [covs, 4.0 * covs], scale="auto", labels=["a", "b"],
                          colors=["k", (0.8, 0.1, 0.1)], linestyles=["--", "-"],
                          return_scale=True, n_points=40)
    assert s == auto_scale(centers, covs)  # from the first field, used for both
    assert len(ax.collections) == 2
    for collection, field in zip(ax.collections, [covs, 4.0 * covs]):
        want, _ = ellipse_segments(centers, field, scale=s, n_points=40)
        for path, seg in zip(collection.get_paths(), want):
            np.testing.assert_allclose(path.vertices, seg, rtol=1e-12)
    assert ax.get_legend_handles_labels()[1] == ["a", "b"]
    _, s1 = plot_ellipses(centers, covs, return_scale=True)
    assert s1 == 1.0


def test_plot_ellipses_labels_its_axes_unless_the_caller_did(random_covariance_field):
    centers, covs = random_covariance_field(4, seed=1)
    ax = plot_ellipses(centers, covs, scale=3.0)
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("stimulus dim 0", "stimulus dim 1")
    assert "x3" in ax.get_title()  # the magnification is stated
    assert plot_ellipses(centers, covs).get_title() == ""  # true size: nothing to state
    _, own = plt.subplots()
    own.set_xlabel("L*")
    own.set_title("mine")
    plot_ellipses(centers, covs, ax=own, scale=2.0)
    assert (own.get_xlabel(), own.get_ylabel(), own.get_title()) == ("L*", "", "mine")


def test_plot_ellipses_stacks_colors_and_non_pd(random_covariance_field):
    centers, covs = random_covariance_field(5, seed=3)
    ax = plot_ellipses(centers, np.stack([covs] * 4), alpha=0.2)  # posterior draws
    assert len(ax.collections) == 4
    rgb = np.linspace(0, 1, 15).reshape(5, 3)
    bad = covs.copy()
    bad[1] = np.diag([-1.0, 1.0])
    with pytest.warns(UserWarning, match="1 non-positive-definite"):
        ax = plot_ellipses(centers, bad, colors=rgb, show_centers=True)
    assert len(ax.collections[0].get_paths()) == 4
    np.testing.assert_allclose(ax.collections[0].get_colors()[:, :3], rgb[[0, 2, 3, 4]])
    with pytest.raises(ValueError, match="non-positive-definite|not positive definite"):
        plot_ellipses(centers, bad, skip_non_pd=False)
    _, axes = plt.subplots()
    assert plot_ellipses(centers, covs, ax=axes) is axes


@pytest.mark.parametrize("scale, error, match", [
    ([1.0, 2.0], TypeError, "single number"),
    (np.array([1.0, 2.0]), TypeError, "independently"),
    ("big", ValueError, "'auto'"),
    (-1.0, ValueError, "scale"),
])
def test_plot_ellipses_refuses_bad_scales(scale, error, match, random_covariance_field):
    centers, covs = random_covariance_field(3)
    with pytest.raises(error, match=match):
        plot_ellipses(centers, [covs, covs], scale=scale)


def test_plot_ellipses_names_the_accepted_cov_shapes(random_covariance_field):
    centers, _ = random_covariance_field(3)
    with pytest.raises(ValueError, match=r"n_points, 2, 2"):
        plot_ellipses(centers, np.zeros((3, 2)))
