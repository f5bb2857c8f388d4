"""psyphy 0.0.5's ellipse geometry: segments on the ellipse, the automatic scale."""

import numpy as np
import pytest

from psyphy_numpyro.viz.geometry import auto_scale, ellipse_segments


@pytest.mark.parametrize("scale", [1.0, 2.5])
def test_ellipse_segments_lie_on_the_scaled_ellipse(scale, random_covariance_field):
    centers, covs = random_covariance_field(6)
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


def test_auto_scale_by_hand_and_against_psyphy(random_covariance_field):
    centers, covs = random_covariance_field(30, seed=1)
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
