"""Closed-form threshold contours against a numerical search along each direction."""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import brentq

import psyphy_numpyro as pn
from psyphy_numpyro.core.readouts import (
    covariance_entries,
    covariance_field,
    find_thresholds,
    fit_ellipse,
    reference_grid,
)


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


# -- the generic root finder against the MVP's closed form --------------------------
@pytest.mark.parametrize("task", [pn.OddityTask(slope=1.5), pn.TwoAFC(slope=2.0)],
                         ids=["oddity", "2afc"])
def test_find_thresholds_matches_mvp_closed_form(task):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2), task=task)
    params = {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}
    exact = pn.threshold_contour(model, params, criterion=0.8, num_angles=24)
    u = jnp.stack([jnp.cos(exact.angles), jnp.sin(exact.angles)], -1)
    ref = jnp.zeros((24, 2))

    def p_fn(t):
        return jax.nn.sigmoid(model.trial_logits(params, ref, ref + t[:, None] * u))

    radii, reached = jax.jit(find_thresholds, static_argnums=0)(
        p_fn, jnp.full(24, 5.0), 0.8)
    assert bool(jnp.all(reached))
    np.testing.assert_allclose(radii, exact.radii, rtol=1e-4)


def test_find_thresholds_reports_unreached_and_zero():
    p_fn = lambda t: jnp.array([0.3, 0.9, 0.3]) + t * jnp.array([1.0, 1.0, 0.1])
    radii, reached = find_thresholds(p_fn, jnp.array([1.0, 1.0, 1.0]), 0.5)
    assert reached.tolist() == [True, True, False]
    np.testing.assert_allclose(radii[:2], [0.2, 0.0], atol=1e-6)
    assert radii[2] == np.inf


# -- the full WPPM's numerical readout ------------------------------------------------
REFS = np.array([[0.0, 0.0], [0.5, -0.4], [-0.6, 0.7]])


@pytest.fixture(scope="module")
def full():
    task = pn.OddityTask(config=pn.OddityTaskConfig(num_samples=500, bandwidth=1e-2))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=4, variance_scale=3e-4), task)
    params = model.init_params(jax.random.PRNGKey(3))
    return model, params


def _p_along(model, params, contour, t, num_samples=None):
    """p(correct) along the contour's directions: the readouts' default rule
    (quadrature), or Monte Carlo on the default key's draws."""
    spec = model.spec.fixed_density_spec() if num_samples is None else model.spec
    noise = spec.draw_mc_samples(jax.random.PRNGKey(0), None, num_samples)
    u = np.stack([np.cos(contour.angles), np.sin(contour.angles)], -1)
    x = np.atleast_2d(contour.ref)[:, None, :]
    return np.asarray(jax.jit(spec.p_correct)(params, x, x + t[..., None] * u, noise))


@pytest.mark.parametrize("num_samples", [None, 500], ids=["quadrature", "mc"])
def test_full_contour_sits_on_the_criterion(full, num_samples):
    model, params = full
    c = pn.threshold_contour(model, params, ref=REFS, num_angles=32,
                             num_samples=num_samples)
    assert c.radii.shape == c.reached.shape == (3, 32)
    assert c.criterion == pytest.approx(2 / 3) and c.reached.all()
    np.testing.assert_array_equal(c.ref, REFS)
    p = _p_along(model, params, c, c.radii, num_samples)
    np.testing.assert_allclose(p, 2 / 3, atol=1e-3)
    assert np.all(_p_along(model, params, c, 0.9 * c.radii, num_samples) < 2 / 3)
    assert np.all(_p_along(model, params, c, 1.1 * c.radii, num_samples) > 2 / 3)


def test_unreachable_criterion_is_reported(full):
    model, params = full
    c = pn.threshold_contour(model, params, ref=[0.95, 0.9], criterion=0.99,
                             num_angles=32)
    assert c.radii.shape == (32,)
    assert not c.reached.all()
    np.testing.assert_array_equal(np.isinf(c.radii), ~c.reached)
    assert not np.any(np.isnan(c.radii))
    # unreached directions end at the edge of [-1, 1]^2 below the criterion
    u = np.stack([np.cos(c.angles), np.sin(c.angles)], -1)
    with np.errstate(divide="ignore"):
        steps = np.where(u > 0, (1 - c.ref) / u,
                         np.where(u < 0, (-1 - c.ref) / u, np.inf))
    edge = np.min(steps, axis=-1)
    assert np.all(edge >= 0)
    assert np.all(_p_along(model, params, c, edge[None])[0][~c.reached] < 0.99)


def test_posterior_stack_matches_single_draws_and_bands(full):
    model, params = full
    draws = {"W": jnp.stack([params["W"] * s for s in (0.8, 1.0, 1.25)])}
    c = pn.threshold_contour(model, draws, ref=REFS, num_angles=32)
    assert c.radii.shape == (3, 3, 32)
    single = pn.threshold_contour(model, params, ref=REFS, num_angles=32)
    np.testing.assert_allclose(c.radii[1], single.radii, rtol=1e-5)
    band = pn.contour_band(c, prob=0.9)
    assert band.median.shape == (3, 32) and band.reached.shape == (3, 32)
    np.testing.assert_allclose(band.median, single.radii, rtol=1e-5)
    assert np.all(band.lower <= band.median) and np.all(band.median <= band.upper)


def test_band_keeps_unreached_draws_infinite():
    radii = np.array([[1.0, 2.0], [2.0, 3.0], [np.inf, 4.0]])
    c = pn.Contour(np.array([0.0, np.pi]), radii, 0.7, np.isfinite(radii))
    band = pn.contour_band(c, prob=0.5)
    np.testing.assert_array_equal(band.lower, [1.5, 2.5])
    np.testing.assert_array_equal(band.median, [2.0, 3.0])
    np.testing.assert_array_equal(band.upper, [np.inf, 3.5])
    np.testing.assert_allclose(band.reached, [2 / 3, 1.0])


@pytest.mark.parametrize(
    "kwargs, match",
    [({}, "reference"), ({"ref": [1.5, 0.0]}, r"\[-1, 1\]"),
     ({"ref": [0.0, 0.0], "criterion": 0.3}, "chance"),
     ({"ref": np.zeros((2, 3))}, "shape")],
    ids=["missing-ref", "outside", "below-chance", "bad-shape"],
)
def test_full_contour_argument_errors(full, kwargs, match):
    model, params = full
    with pytest.raises(ValueError, match=match):
        pn.threshold_contour(model, params, **kwargs)


def test_mvp_contour_ignores_ref(mvp_model, seed_truth):
    a = pn.threshold_contour(mvp_model, seed_truth, num_angles=8)
    b = pn.threshold_contour(mvp_model, seed_truth, ref=REFS, num_angles=8)
    np.testing.assert_array_equal(a.radii, b.radii)
    assert b.reached.all() and b.ref is None


def test_xy_around_several_refs(full):
    model, params = full
    c = pn.threshold_contour(model, params, ref=REFS, num_angles=32)
    x, y = c.xy()
    assert x.shape == (3, 33)
    np.testing.assert_allclose(np.hypot(x - REFS[:, :1], y - REFS[:, 1:])[:, :-1],
                               c.radii, rtol=1e-5)


# -- ellipse fit --------------------------------------------------------------------
@pytest.mark.parametrize("weighting", ["relative", "uniform"])
@pytest.mark.parametrize("task", [pn.OddityTask(slope=1.5), pn.TwoAFC(slope=2.0)],
                         ids=["oddity", "2afc"])
def test_fit_ellipse_recovers_the_mvp_ellipse(task, weighting):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2), task=task)
    var = np.array([0.05, 0.002])
    draws = {"log_diag": jnp.log(jnp.stack([jnp.asarray(var), jnp.asarray(var[::-1])]))}
    c = pn.threshold_contour(model, draws, num_angles=64)
    fit = fit_ellipse(c, weighting=weighting)
    d_star = float(task.discriminability(c.criterion))
    for k, v in enumerate([var, var[::-1]]):
        expected = d_star**2 * (np.diag(v) + model.diag_term * np.eye(2))
        np.testing.assert_allclose(fit.cov[k], expected, rtol=1e-5,
                                   atol=1e-5 * expected.max())
    assert fit.valid.all() and np.all(fit.max_rel_error < 1e-5)
    np.testing.assert_allclose(fit.radii, c.radii, rtol=1e-5)


def test_fit_ellipse_of_full_contours_reports_the_miss(full):
    model, params = full
    c = pn.threshold_contour(model, params, ref=REFS, num_angles=32)
    fit = fit_ellipse(c)
    assert fit.cov.shape == (3, 2, 2) and fit.valid.all()
    np.testing.assert_allclose(fit.cov, np.swapaxes(fit.cov, -1, -2))
    assert np.all(np.linalg.eigvalsh(fit.cov) > 0)
    miss = np.max(np.abs(fit.radii - c.radii) / c.radii, axis=-1)
    np.testing.assert_allclose(fit.max_rel_error, miss, rtol=1e-4)
    assert np.all(fit.max_rel_error < 0.5)


def _wobbly_contours(num, angles, seed=0):
    """Thin and round ellipses times smooth wobbles: best fits miss by 5-40%."""
    rng = np.random.default_rng(seed)
    radii = []
    for _ in range(num):
        a, b = np.exp(rng.normal(-2.0, 1.0, 2))
        tilt = rng.uniform(0.0, np.pi)
        ellipse = 1 / np.hypot(np.cos(angles - tilt) / a, np.sin(angles - tilt) / b)
        wobble = sum(rng.normal(0.0, 0.08) * np.cos(m * angles + rng.uniform(0, 6))
                     for m in (1, 3, 4, 5))
        radii.append(ellipse * np.exp(wobble))
    return np.array(radii)


def test_relative_fit_is_the_least_squares_ellipse_in_relative_radius(
        best_ellipse_miss):
    angles = np.linspace(0.0, 2 * np.pi, 64, endpoint=False)
    radii = _wobbly_contours(40, angles)
    fit = fit_ellipse(pn.Contour(angles, radii, 2 / 3))
    assert fit.valid.all()
    for r, ours in zip(radii, fit.radii):
        best = best_ellipse_miss(r, angles)
        assert np.sum((ours / r - 1) ** 2) <= 1.001 * np.sum(best**2)
        assert np.max(np.abs(ours / r - 1)) <= np.max(np.abs(best)) + 0.005


def test_threshold_ellipses_are_as_close_to_the_truth_as_the_best_ellipse(
        prior_field_thresholds, best_ellipse_miss, ellipse_radii):
    """Issue 17's goal, on fields drawn from the prior: every threshold ellipse
    misses the true thresholds by at most the best ellipse's misfit + 0.05."""
    model, draws, refs, angles, true = prior_field_thresholds
    twice = [jax.tree.map(lambda w, k=k: jnp.stack([w[k], w[k]]), draws)
             for k in range(2)]  # a point posterior as a stack of draws
    readouts = {  # (draw, ref, 2, 2) threshold covariances at default settings
        "fit_ellipse": fit_ellipse(pn.threshold_contour(model, draws, ref=refs)).cov,
        "threshold_bands": np.stack([pn.threshold_bands(p, model=model, ref=refs)
                                     .ellipse.cov for p in twice]),
    }
    best = np.array([[np.max(np.abs(best_ellipse_miss(r, angles))) for r in t]
                     for t in true])
    for name, cov in readouts.items():
        miss = np.max(np.abs(ellipse_radii(cov, angles) / true - 1), axis=-1)
        assert np.all(miss <= best + 0.05), (name, miss, best)


def test_fit_ellipse_skips_unreached_and_flags_too_few():
    angles = np.linspace(0, 2 * np.pi, 8, endpoint=False)
    radii = np.full((2, 8), 0.1)
    radii[0, 0] = np.inf
    radii[1, 2:] = np.inf
    fit = fit_ellipse(pn.Contour(angles, radii, 0.7, np.isfinite(radii)))
    assert fit.valid.tolist() == [True, False]
    np.testing.assert_allclose(fit.cov[0], 0.01 * np.eye(2), atol=1e-7)
    assert np.all(np.isnan(fit.cov[1])) and np.isnan(fit.max_rel_error[1])


# -- covariance field ---------------------------------------------------------------
def test_covariance_field_single_and_stack(full):
    model, params = full
    grid = reference_grid(4, margin=0.1)
    assert grid.shape == (16, 2) and np.all(np.abs(grid) <= 0.9 + 1e-12)
    cov = covariance_field(model, params, grid)
    assert cov.shape == (16, 2, 2)
    np.testing.assert_allclose(cov, model.local_covariance(params, grid), rtol=1e-6)
    assert np.all(np.linalg.eigvalsh(cov) > 0)
    draws = {"W": jnp.stack([params["W"], 2.0 * params["W"]])}
    stack = covariance_field(model, draws, grid.reshape(4, 4, 2))
    assert stack.shape == (2, 4, 4, 2, 2)
    np.testing.assert_allclose(stack[0].reshape(16, 2, 2), cov, rtol=1e-6)


def test_covariance_field_of_the_mvp_is_constant(mvp_model, seed_truth):
    cov = covariance_field(mvp_model, seed_truth, np.zeros((5, 2)))
    assert cov.shape == (5, 2, 2)
    np.testing.assert_allclose(cov, np.broadcast_to(np.diag([0.9, 0.01]), (5, 2, 2)),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        covariance_field(mvp_model, seed_truth, np.zeros((5, 3)))


def test_reference_grid_in_three_dimensions_enumerates_the_product():
    grid = reference_grid(3, margin=0.2, input_dim=3)
    axis = np.linspace(-0.8, 0.8, 3)
    # every point of the product once, the first coordinate varying fastest
    want = [point[::-1] for point in itertools.product(axis, repeat=3)]
    np.testing.assert_allclose(grid, want)
    with pytest.raises(ValueError, match="input_dim"):
        reference_grid(3, input_dim=0)


def test_covariance_entries_per_chain_and_draw(full, mvp_model):
    model, params = full
    grid = reference_grid(3)
    eps = model.diag_term * np.eye(2)  # Sigma = U U^T + eps I, U linear in W
    base = covariance_field(model, params, grid) - eps
    scales = np.array([[1.0, 2.0, 0.5], [3.0, 1.5, 0.25]])
    draws = {"W": scales[..., None, None, None, None] * np.asarray(params["W"])}
    entries = covariance_entries(model, draws, grid)
    assert sorted(entries) == ["Sigma11", "Sigma12", "Sigma22"]
    for name, a, b in (("Sigma11", 0, 0), ("Sigma12", 0, 1), ("Sigma22", 1, 1)):
        assert entries[name].shape == (2, 3, 9)
        np.testing.assert_allclose(entries[name], scales[..., None] ** 2
                                   * base[:, a, b] + eps[a, b], rtol=1e-5)
    # the MVP: Sigma = diag(exp(log_diag)) at every point
    log_diag = np.random.default_rng(0).normal(size=(2, 4, 2))
    mvp = covariance_entries(mvp_model, {"log_diag": log_diag}, grid)
    np.testing.assert_allclose(mvp["Sigma11"], np.exp(log_diag[..., :1]).repeat(9, -1),
                               rtol=1e-5)
    np.testing.assert_allclose(mvp["Sigma22"], np.exp(log_diag[..., 1:]).repeat(9, -1),
                               rtol=1e-5)
    np.testing.assert_array_equal(mvp["Sigma12"], 0.0)
    with pytest.raises(ValueError, match="must hold the site 'W'"):
        covariance_entries(model, {"log_diag": log_diag}, grid)
    with pytest.raises(ValueError, match=r"num_chains, num_draws"):
        covariance_entries(model, {"W": np.asarray(params["W"])[None]}, grid)


def test_full_criterion_must_lie_below_the_tasks_clip():
    task = pn.OddityTask(config=pn.OddityTaskConfig(num_samples=8, clip=0.01))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1), task)
    params = model.init_params(jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"1 - clip = 0\.99; got 0\.995"):
        pn.threshold_contour(model, params, ref=[0.0, 0.0], criterion=0.995)
