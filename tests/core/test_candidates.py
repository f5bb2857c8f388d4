"""Candidate trials: threshold distances, posterior scaling, bounds and seeds."""

import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.candidates import (
    check_bounds,
    mean_covariance,
    posterior_candidates,
    threshold_distance,
)

WIDE = np.array([[-5.0, 5.0], [-5.0, 5.0]])  # the MVP's field is constant: no edge
UNIT = np.array([[-1.0, 1.0], [-1.0, 1.0]])
TIGHT = np.array([[0.2, 0.3], [-0.05, 0.05]])


def _mvp(slope=1.5):
    return pn.WPPM(input_dim=2, prior=pn.Prior.default(2),
                   task=pn.OddityTask(slope=slope))


@pytest.fixture(scope="module")
def full_model():
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task)


@pytest.fixture(scope="module")
def mvp_draws():
    """8 draws of log_diag: noise sd about 0.1 and 0.045 on the two axes."""
    noise = 0.2 * np.random.default_rng(0).standard_normal((8, 2))
    return {"log_diag": jnp.asarray(np.log([0.01, 0.002]) + noise, jnp.float32)}


def _candidates(model, draws, n=256, bounds=WIDE, seed=3, **kwargs):
    kwargs.setdefault("criterion", 5 / 6)
    return posterior_candidates(model.spec, draws, n, bounds=bounds, seed=seed,
                                **kwargs)


# -- threshold_distance ------------------------------------------------------------
@pytest.mark.parametrize("slope,criterion", [(1.5, 5 / 6), (1.5, 0.75), (2.0, 0.9)])
def test_mvp_threshold_distance_inverts_the_link(slope, criterion):
    d = threshold_distance(_mvp(slope).spec, criterion)
    assert d == pytest.approx(np.arctanh(3.0 * criterion - 2.0) / slope, rel=1e-6)
    # and the link maps it back: p = 2/3 + tanh(slope d) / 3
    assert 2.0 / 3.0 + np.tanh(slope * d) / 3.0 == pytest.approx(criterion, rel=1e-6)


def test_full_threshold_distance_is_a_mahalanobis_distance(full_model):
    # measured on a field of sd 0.1 along an axis; checked on other constant
    # fields, along 45 degrees, where the Mahalanobis distance d* must give 2/3
    d_star = threshold_distance(full_model.spec, 2 / 3)
    u = np.array([1.0, 1.0]) / np.sqrt(2.0)
    ref = np.array([[0.1, -0.2]])
    for a, b in [(0.3, 0.3), (0.04, 0.04), (0.5, 0.08)]:  # larger, smaller, anisotropic
        W = np.zeros(full_model.prior.shape, np.float32)
        W[0, 0, 0, 0], W[0, 0, 1, 1] = a, b  # U(x) = [diag(a, b), 0] everywhere
        cov = np.diag([a**2, b**2]) + full_model.diag_term * np.eye(2)
        t = d_star / np.sqrt(u @ np.linalg.inv(cov) @ u)
        params = {"W": jnp.asarray(W)}
        p = [float(full_model.spec.p_correct(params, ref, ref + k * t * u)[0])
             for k in (0.9, 1.0, 1.1)]
        assert p[1] == pytest.approx(2 / 3, abs=2e-3), (a, b)
        assert p[0] < 2 / 3 - 0.01 and p[2] > 2 / 3 + 0.01  # so 2e-3 pins the distance


# -- mean_covariance -----------------------------------------------------------------
def test_mean_covariance_of_full_draws(full_model):
    W = 0.1 * np.random.default_rng(1).standard_normal((5, *full_model.prior.shape))
    refs = np.array([[0.0, 0.0], [0.7, -0.4]])
    ours = mean_covariance(full_model.spec, {"W": jnp.asarray(W, jnp.float32)},
                           jnp.asarray(refs, jnp.float32))

    def cheb(x):  # T_0, T_1, T_2
        return np.array([np.ones_like(x), x, 2 * x**2 - 1])

    U = np.einsum("ir,jr,sijde->srde", cheb(refs[:, 0]), cheb(refs[:, 1]), W)
    cov = (U @ np.swapaxes(U, -1, -2)).mean(0) + 1e-6 * np.eye(2)
    np.testing.assert_allclose(ours, cov, rtol=1e-5, atol=1e-7)


def test_mean_covariance_of_mvp_draws(mvp_draws):
    ours = mean_covariance(_mvp().spec, mvp_draws, jnp.zeros((3, 2)))
    expected = np.diag(np.exp(np.asarray(mvp_draws["log_diag"], float)).mean(0))
    np.testing.assert_allclose(ours, np.broadcast_to(expected, (3, 2, 2)), rtol=1e-6)


# -- posterior_candidates ------------------------------------------------------------
def test_candidate_distances_are_multiples_of_the_posterior_threshold(mvp_draws):
    model = _mvp()
    ref, probe = _candidates(model, mvp_draws)
    assert ref.shape == probe.shape == (256, 2)
    assert ref.dtype == probe.dtype == np.float32
    cov = np.exp(np.asarray(mvp_draws["log_diag"], float)).mean(0)  # mean Sigma
    delta = probe.astype(float) - ref.astype(float)
    multiple = np.sqrt((delta**2 / cov).sum(1)) / threshold_distance(model.spec, 5 / 6)
    assert np.all((multiple > 0.2 * (1 - 1e-4)) & (multiple < 3.0 * (1 + 1e-4)))
    assert multiple.min() < 0.25 and multiple.max() > 2.5  # the whole range is used
    # spread log-uniformly: about half the candidates lie below the geometric mean
    assert abs(np.mean(multiple < np.sqrt(0.2 * 3.0)) - 0.5) < 0.05
    # directions cover the circle: every quarter of it holds candidates
    quarter = np.floor(np.mod(np.arctan2(delta[:, 1], delta[:, 0]), 2 * np.pi)
                       / (np.pi / 2))
    assert np.all(np.bincount(quarter.astype(int), minlength=4) > 32)


@pytest.mark.parametrize("bounds", [WIDE, UNIT], ids=["no-edge", "unit-box"])
def test_candidate_distances_scale_with_the_posterior(mvp_draws, bounds):
    # log_diag + log 4 multiplies every draw's covariance by 4, so thresholds
    # and candidate distances double (except where the box cuts a candidate)
    model = _mvp()
    ref, probe = _candidates(model, mvp_draws, bounds=bounds)
    wider = {"log_diag": mvp_draws["log_diag"] + np.log(4.0)}
    ref4, probe4 = _candidates(model, wider, bounds=bounds)
    np.testing.assert_array_equal(ref, ref4)
    ratio = np.linalg.norm(probe4 - ref4, axis=1) / np.linalg.norm(probe - ref, axis=1)
    assert np.median(ratio) == pytest.approx(2.0, rel=1e-4)
    assert np.all(ratio < 2.0 * (1 + 1e-4))
    if bounds is WIDE:
        np.testing.assert_allclose(ratio, 2.0, rtol=1e-3)


@pytest.mark.parametrize("bounds", [UNIT, TIGHT], ids=["unit-box", "tight-box"])
def test_candidates_stay_inside_the_bounds(mvp_draws, bounds):
    ref, probe = _candidates(_mvp(), mvp_draws, n=200, bounds=bounds)
    assert ref.shape == probe.shape == (200, 2)
    for points in (ref, probe):
        assert np.all((points >= bounds[:, 0]) & (points <= bounds[:, 1]))
    assert np.all(np.linalg.norm(probe - ref, axis=1) > 0)


def test_candidates_cycle_through_given_references(mvp_draws):
    references = np.array([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]])
    ref, _ = _candidates(_mvp(), mvp_draws, n=10, bounds=UNIT, references=references)
    np.testing.assert_array_equal(ref, references[np.arange(10) % 3].astype(np.float32))


def test_candidates_are_reproducible_from_their_seed(mvp_draws):
    model = _mvp()
    a = _candidates(model, mvp_draws, n=32, bounds=UNIT, seed=7)
    b = _candidates(model, mvp_draws, n=32, bounds=UNIT, seed=7)
    c = _candidates(model, mvp_draws, n=32, bounds=UNIT, seed=8)
    d = _candidates(model, mvp_draws, n=32, bounds=UNIT,
                    seed=np.random.SeedSequence([7, 1]))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)
    for other in (c, d):
        assert not np.array_equal(a[0], other[0]) and not np.array_equal(a[1], other[1])


# -- check_bounds --------------------------------------------------------------------
def test_check_bounds_accepts_and_defaults(full_model):
    mvp = _mvp().spec
    np.testing.assert_array_equal(check_bounds(None, mvp), UNIT)
    np.testing.assert_array_equal(check_bounds(None, full_model.spec), UNIT)
    np.testing.assert_array_equal(check_bounds(WIDE, mvp), WIDE)  # MVP: any box
    box = [[0.0, 0.5], [-1.0, 1.0]]
    np.testing.assert_array_equal(check_bounds(box, full_model.spec), box)


@pytest.mark.parametrize("bounds,match", [
    ([(0.0, 1.0)], "bounds must be 2 pairs"),
    ([(0.0, 1.0), (0.0, 1.0), (0.0, 1.0)], "bounds must be 2 pairs"),
    ([(0.0, 1.0, 2.0), (0.0, 1.0, 2.0)], "bounds must be 2 pairs"),
    ([(0.5, 0.5), (0.0, 1.0)], "low < high"),
    ([(1.0, 0.0), (0.0, 1.0)], "low < high"),
    ([(0.0, np.nan), (0.0, 1.0)], "bounds contains 1 NaN"),
    ([0.0, 1.0], "bounds must have 2 dimension"),
])
def test_check_bounds_refuses_bad_boxes(bounds, match):
    with pytest.raises(ValueError, match=match):
        check_bounds(bounds, _mvp().spec)


def test_check_bounds_keeps_the_full_wppm_in_its_domain(full_model):
    with pytest.raises(ValueError, match=r"Chebyshev domain \[-1, 1\]"):
        check_bounds([(-1.5, 0.0), (0.0, 1.0)], full_model.spec)
