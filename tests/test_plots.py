"""Figures render on the Agg backend with the expected artists."""

import jax
import jax.numpy as jnp
import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.viz.ellipses import plot_ellipse_field, plot_ellipses
from psyphy_numpyro.viz.geometry import auto_scale, ellipse_segments

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


# -- psyphy 0.0.5's ellipse drawing -------------------------------------------------
def _random_field(n, seed=0):
    rng = np.random.default_rng(seed)
    A = rng.normal(0.0, 0.1, (n, 2, 2))
    covs = A @ np.swapaxes(A, 1, 2) + 1e-3 * np.eye(2)
    return rng.uniform(-1, 1, (n, 2)), covs


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_ellipse_segments_lie_on_the_scaled_ellipse(scale):
    centers, covs = _random_field(6)
    segs, valid = ellipse_segments(centers, covs, scale=scale, n_points=50)
    assert valid.all() and len(segs) == 6
    for c, cov, seg in zip(centers, covs, segs):
        assert seg.shape == (50, 2)
        delta = seg - c
        quad = np.einsum("ni,ij,nj->n", delta, np.linalg.inv(cov), delta)
        np.testing.assert_allclose(quad, scale**2, rtol=1e-9)
        np.testing.assert_allclose(seg[0], seg[-1], atol=1e-12)  # closed
        # the vertices go once round: the polygon's area is pi s^2 sqrt(det)
        x, y = delta.T
        area = 0.5 * abs(np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1]))
        want = np.pi * scale**2 * np.sqrt(np.linalg.det(cov))
        np.testing.assert_allclose(area, want, rtol=3e-3)


def test_ellipse_segments_skip_and_report_non_positive_definite():
    covs = np.stack([np.eye(2), np.diag([-1.0, 1.0]), np.full((2, 2), np.nan),
                     0.04 * np.eye(2)])
    segs, valid = ellipse_segments(np.zeros((4, 2)), covs)
    np.testing.assert_array_equal(valid, [True, False, False, True])
    assert len(segs) == 2
    np.testing.assert_allclose(np.linalg.norm(segs[1], axis=1), 0.2, rtol=1e-12)


def test_ellipse_segments_reject_bad_shapes():
    with pytest.raises(NotImplementedError, match="ellipsoid"):
        ellipse_segments(np.zeros((1, 2)), np.eye(3)[None])
    with pytest.raises(ValueError, match="same length"):
        ellipse_segments(np.zeros((3, 2)), np.eye(2)[None])
    with pytest.raises(ValueError, match="symmetric"):
        ellipse_segments(np.zeros((1, 2)), np.array([[[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match="centers"):
        ellipse_segments(np.zeros((1, 3)), np.eye(2)[None])
    with pytest.raises(ValueError, match="scale"):
        ellipse_segments(np.zeros((1, 2)), np.eye(2)[None], scale=0.0)


def test_auto_scale_by_hand_and_against_psyphy():
    centers, covs = _random_field(30, seed=1)
    dist = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    np.fill_diagonal(dist, np.inf)
    radius = np.median(np.sqrt(np.linalg.eigvalsh(covs).mean(-1)))
    want = 0.3 * np.median(dist.min(1)) / radius
    np.testing.assert_allclose(auto_scale(centers, covs, fraction=0.3), want,
                               rtol=1e-12)
    geometry = pytest.importorskip("psyphy.viz.geometry")
    np.testing.assert_allclose(auto_scale(centers, covs),
                               geometry.auto_scale(centers, covs), rtol=1e-12)
    with pytest.raises(ValueError, match="at least 2 centers"):
        auto_scale(np.zeros((1, 2)), np.eye(2)[None])
    with pytest.raises(ValueError, match="coincide"):
        auto_scale(np.zeros((3, 2)), np.tile(np.eye(2), (3, 1, 1)))


def test_plot_ellipses_draws_the_segments_at_one_shared_scale():
    centers, covs = _random_field(9, seed=2)
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


def test_plot_ellipses_stacks_colors_and_non_pd():
    centers, covs = _random_field(5, seed=3)
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
def test_plot_ellipses_refuses_bad_scales(scale, error, match):
    centers, covs = _random_field(3)
    with pytest.raises(error, match=match):
        plot_ellipses(centers, [covs, covs], scale=scale)


def test_plot_ellipses_names_the_accepted_cov_shapes():
    centers, _ = _random_field(3)
    with pytest.raises(ValueError, match=r"n_points, 2, 2"):
        plot_ellipses(centers, np.zeros((3, 2)))
