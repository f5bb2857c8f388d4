"""Simulation designs: reference points and comparisons along random directions."""

import jax
import numpy as np
import pytest
from scipy import stats
from scipy.stats import qmc

from psyphy_numpyro.core.design import comparisons_along_directions, reference_points


# --- reference_points -----------------------------------------------------------
@pytest.mark.parametrize("method,n,d", [("sobol", 64, 2), ("sobol", 25, 3),
                                        ("grid", 25, 2), ("grid", 27, 3),
                                        ("grid", 7, 1)])
def test_reference_points_lie_in_the_domain(method, n, d):
    points = reference_points(n, d, method=method)
    assert points.shape == (n, d) and points.dtype == np.float64
    assert np.all(np.abs(points) <= 1.0)
    assert len(np.unique(points, axis=0)) == n


def test_sobol_references_are_exactly_balanced_for_a_power_of_two():
    u = (reference_points(64, 2, method="sobol", seed=4) + 1.0) / 2.0
    for bits_x in range(7):  # every elementary box of area 1/64 holds one point
        bits_y = 6 - bits_x
        cell = (np.floor(u[:, 0] * 2**bits_x) * 2**bits_y
                + np.floor(u[:, 1] * 2**bits_y)).astype(int)
        np.testing.assert_array_equal(np.bincount(cell, minlength=64), 1)


def test_sobol_references_beat_random_points_on_discrepancy():
    u = (reference_points(256, 3, method="sobol", seed=0) + 1.0) / 2.0
    random = np.random.default_rng(0).random((256, 3))
    assert qmc.discrepancy(u) < 0.2 * qmc.discrepancy(random)


def test_reference_points_are_reproducible():
    a = reference_points(16, 2, seed=5)
    np.testing.assert_array_equal(a, reference_points(16, 2, seed=5))
    assert not np.array_equal(a, reference_points(16, 2, seed=6))


def test_grid_references_are_cell_centres():
    np.testing.assert_allclose(reference_points(25, 2, method="grid")[:5],
                               [[-0.8, -0.8], [-0.8, -0.4], [-0.8, 0.0],
                                [-0.8, 0.4], [-0.8, 0.8]], atol=1e-15)
    np.testing.assert_array_equal(reference_points(1, 3, method="grid"),
                                  [[0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="m\\*\\*2"):
        reference_points(10, 2, method="grid")
    with pytest.raises(ValueError, match="method"):
        reference_points(4, 2, method="halton")


# --- comparisons_along_directions ------------------------------------------------
def _directions(ref, cmp):
    delta = cmp - ref
    dist = np.linalg.norm(delta, axis=1)
    return delta / dist[:, None], dist


def test_comparisons_shapes_grouping_and_domain():
    refs = np.array([[0.0, 0.0], [1.0, 1.0], [-1.0, 0.3], [0.95, -0.99]])
    ref, cmp = comparisons_along_directions(jax.random.key(0), refs, 500,
                                            min_distance=0.05, max_distance=0.6)
    assert ref.shape == cmp.shape == (2000, 2)
    np.testing.assert_array_equal(ref, np.repeat(refs, 500, axis=0))
    assert np.all(np.abs(cmp) <= 1.0)
    u, dist = _directions(ref, cmp)
    np.testing.assert_allclose(np.linalg.norm(u, axis=1), 1.0, atol=1e-12)
    assert np.all((dist >= 0.05 - 1e-12) & (dist <= 0.6 + 1e-12))


@pytest.mark.parametrize("d", [1, 2, 3])
def test_comparisons_are_isotropic_and_uniform_in_distance_in_the_interior(d):
    n = 4000
    ref, cmp = comparisons_along_directions(jax.random.key(d), np.zeros(d), n,
                                            min_distance=0.1, max_distance=0.5)
    u, dist = _directions(ref, cmp)
    np.testing.assert_array_less(np.abs(u.mean(0)), 5 / np.sqrt(n))
    np.testing.assert_allclose(u.T @ u / n, np.eye(d) / d, atol=5 / np.sqrt(n))
    assert stats.kstest(dist, stats.uniform(0.1, 0.4).cdf).pvalue > 1e-3
    if d == 2:
        angle = np.arctan2(u[:, 1], u[:, 0])
        assert stats.kstest(angle, stats.uniform(-np.pi, 2 * np.pi).cdf).pvalue > 1e-3


def test_comparisons_are_reproducible_with_the_key():
    kwargs = {"min_distance": 0.0, "max_distance": 0.3}
    refs = reference_points(4, 2)
    a = comparisons_along_directions(jax.random.key(7), refs, 10, **kwargs)
    b = comparisons_along_directions(jax.random.key(7), refs, 10, **kwargs)
    c = comparisons_along_directions(jax.random.PRNGKey(8), refs, 10, **kwargs)
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[1], c[1])


def test_comparisons_refuse_instead_of_clipping():
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="reference 1"):
        comparisons_along_directions(key, [[0.0, 0.0], [1.2, 0.0]], 3,
                                     min_distance=0.1, max_distance=0.2)
    with pytest.raises(ValueError, match="farthest"):
        comparisons_along_directions(key, [[0.0, 0.0]], 3,
                                     min_distance=1.5, max_distance=2.0)
    with pytest.raises(ValueError, match="could not place.*reference 0"):
        comparisons_along_directions(key, [[1.0, 1.0, 1.0]], 3,  # a corner
                                     min_distance=3.4, max_distance=3.46)
    with pytest.raises(ValueError, match="must not exceed"):
        comparisons_along_directions(key, [[0.0, 0.0]], 3,
                                     min_distance=0.3, max_distance=0.2)
