"""Credible bands of thresholds, covariances and psychometric functions.

Truths: the MVP's exact posterior by grid quadrature, under which the
threshold is a closed-form function of ``log_diag`` (so its posterior
quantiles are weighted quantiles over the grid); stacks of full-WPPM draws
built from a known field by rotations of the embedding (which leave every
readout unchanged) and known scale factors (which scale a constant field's
thresholds exactly); p(correct) evaluated draw by draw; plain-numpy counts."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.bands import (
    binned_proportions,
    covariance_band,
    ellipse_radius,
    psychometric_band,
    threshold_bands,
)
from psyphy_numpyro.core.draws import posterior_draws

SCALE, SLOPE = 0.5, 1.5  # the conftest MVP's prior sd and task slope
EPS = 1e-6  # the models' diag_term


# -- the MVP against grid quadrature ---------------------------------------------------
def weighted_quantile(values, weights, q):
    """Quantile ``q`` of a discrete distribution (midpoint interpolation)."""
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cdf = np.cumsum(w) - 0.5 * w
    return np.interp(q, cdf, v)


@pytest.fixture(scope="module")
def mvp_nuts(mvp_model, seed_data):
    sampler = pn.NUTSSampler(num_warmup=300, num_samples=1000, num_chains=4, seed=3,
                             progress_bar=False)
    return sampler.fit(mvp_model, seed_data,
                       init_params={"log_diag": jnp.array([-0.3, -3.0])})


@pytest.mark.slow
def test_mvp_threshold_band_matches_quadrature(mvp_model, mvp_nuts,
                                               seed_grid_posterior):
    num_angles = 12
    tb = threshold_bands(mvp_nuts.samples, model=mvp_model, prob=0.9,
                         num_angles=num_angles)
    # truth: the closed-form threshold at every grid point, weighted quantiles
    grid, w = seed_grid_posterior
    d_star = np.arctanh(3 * (5 / 6) - 2) / SLOPE  # oddity: p = 2/3 + tanh(s d)/3
    angles = np.linspace(0, 2 * np.pi, num_angles, endpoint=False)
    u2 = np.stack([np.cos(angles), np.sin(angles)], 1) ** 2
    t = d_star / np.sqrt(u2 @ (1.0 / (np.exp(grid) + EPS)).T)  # (A, G)
    truth = np.array([[weighted_quantile(t[a], w, q) for a in range(num_angles)]
                      for q in (0.05, 0.5, 0.95)])
    np.testing.assert_allclose(tb.band.angles, angles)
    np.testing.assert_allclose(tb.band.median, truth[1], rtol=0.02)
    np.testing.assert_allclose(tb.band.lower, truth[0], rtol=0.035)
    np.testing.assert_allclose(tb.band.upper, truth[2], rtol=0.035)
    assert tb.refs is None and tb.criterion == pytest.approx(5 / 6)
    assert tb.draws.radii.shape == (4000, num_angles)
    # the ellipse of the median contour follows it closely
    assert tb.ellipse.valid and tb.ellipse.max_rel_error < 0.05
    np.testing.assert_allclose(tb.ellipse.radii, tb.band.median, rtol=0.05)


@pytest.mark.slow
def test_a_posterior_and_its_draws_give_the_same_bands(mvp_model, mvp_nuts):
    key = jax.random.PRNGKey(5)
    from_post = threshold_bands(mvp_nuts, num_draws=64, key=key, num_angles=8)
    from_stack = threshold_bands(mvp_nuts.sample(64, key=key), model=mvp_model,
                                 num_angles=8)
    for a, b in zip(from_post.band, from_stack.band):
        np.testing.assert_array_equal(a, b)
    # a stack is thinned evenly, not resampled
    _, kept = posterior_draws(mvp_nuts.samples, model=mvp_model, num_draws=3)
    stored = np.asarray(mvp_nuts.samples["log_diag"])
    np.testing.assert_array_equal(kept["log_diag"], stored[[0, 2000, 3999]])


# -- full WPPM: stacks built from a known field ---------------------------------------
def full_model(degree, diag_term=EPS):
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=degree), task, pn.GaussianNoise(),
                   diag_term=diag_term)


REFS = np.array([[0.0, 0.0], [0.4, -0.3]])


def test_rotated_weights_give_the_truth_with_a_zero_width_band(random_rotations):
    # W R for orthogonal R leaves Sigma(x), so every threshold, unchanged
    model = full_model(2)
    truth = model.init_params(jax.random.PRNGKey(1))
    R = random_rotations(jax.random.PRNGKey(2), 6)
    R[0] = np.eye(3)  # draw 0 is the truth itself
    stack = {"W": jnp.asarray(np.einsum("...e,nef->n...f", np.asarray(truth["W"]), R),
                              jnp.float32)}
    tb = threshold_bands(stack, REFS, model=model, num_angles=16)
    true = tb.draws.radii[0]
    assert np.isfinite(true).all() and tb.band.lower.shape == (2, 16)
    assert not np.allclose(stack["W"][1], stack["W"][0], atol=1e-2)
    for bound in (tb.band.lower, tb.band.median, tb.band.upper):
        np.testing.assert_allclose(bound, true, rtol=1e-3)
    cb = covariance_band(stack, REFS, model=model)
    np.testing.assert_allclose(cb.cov.lower, cb.cov.upper, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(cb.cov.median, pn.covariance_field(model, truth, REFS),
                               rtol=1e-4)


def test_scaled_constant_field_has_scaled_threshold_quantiles(scaled_stack):
    # Sigma -> s^2 Sigma everywhere scales every threshold by s exactly, so the
    # band is the quantiles of s times the true contour, which contains the truth
    model, truth, s, stack = scaled_stack
    tb = threshold_bands(stack, REFS, model=model, prob=0.8, num_angles=16)
    true = tb.draws.radii[0]
    np.testing.assert_allclose(tb.draws.radii, s[:, None, None] * true, rtol=1e-4)
    qs = np.percentile(s, [10, 50, 90])
    for q, bound in zip(qs, (tb.band.lower, tb.band.median, tb.band.upper)):
        np.testing.assert_allclose(bound, q * true, rtol=1e-4)
    assert np.all((tb.band.lower < true) & (true < tb.band.upper))
    # a constant field's contour is the ellipse of Sigma: S proportional to Sigma
    sigma = np.asarray(truth["W"])[0, 0] @ np.asarray(truth["W"])[0, 0].T
    cov = tb.ellipse.cov / np.trace(tb.ellipse.cov, axis1=-2, axis2=-1)[:, None, None]
    np.testing.assert_allclose(cov, np.broadcast_to(sigma / np.trace(sigma), cov.shape),
                               rtol=1e-2, atol=1e-4)
    assert np.all(tb.ellipse.max_rel_error < 1e-2)


def test_covariance_band_of_scaled_draws(scaled_stack):
    model, truth, s, stack = scaled_stack
    U = np.asarray(truth["W"], float)[0, 0]
    sigma0 = U @ U.T
    cb = covariance_band(stack, REFS, prob=0.8, model=model)
    # each entry is s^2 sigma0: its quantiles follow s^2's (reversed if < 0)
    q_lo, q_med, q_hi = np.percentile(s**2, [10, 50, 90])
    lo = np.minimum(q_lo * sigma0, q_hi * sigma0)
    hi = np.maximum(q_lo * sigma0, q_hi * sigma0)
    np.testing.assert_allclose(cb.cov.lower, np.broadcast_to(lo, (2, 2, 2)), rtol=1e-3)
    np.testing.assert_allclose(cb.cov.upper, np.broadcast_to(hi, (2, 2, 2)), rtol=1e-3)
    np.testing.assert_allclose(cb.cov.median[0], q_med * sigma0, rtol=1e-3)
    eig, vec = np.linalg.eigh(sigma0)
    semi = s[:, None] * np.sqrt(eig[::-1])
    np.testing.assert_allclose(cb.semi_axes.median[0],
                               np.percentile(semi, 50, axis=0), rtol=1e-4)
    angle = np.mod(np.arctan2(vec[1, -1], vec[0, -1]), np.pi)
    for bound in cb.orientation:  # scaling does not turn the ellipse
        np.testing.assert_allclose(np.mod(bound, np.pi), angle, atol=1e-3)
    assert cb.draws.shape == (40, 2, 2, 2)


def test_orientation_band_wraps_around_half_turns():
    model = full_model(0)
    theta = np.array([-0.1, -0.05, 0.05, 0.1, np.pi - 0.02])  # 0 and pi are one axis
    rot = np.stack([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    U = np.einsum("ijn,jk->nik", rot, np.array([[0.2, 0.0, 0.0], [0.0, 0.05, 0.0]]))
    cb = covariance_band({"W": jnp.asarray(U[:, None, None], jnp.float32)},
                         [[0.0, 0.0]], prob=0.5, model=model)
    np.testing.assert_allclose(cb.orientation.median, [-0.02], atol=1e-4)
    np.testing.assert_allclose(cb.orientation.lower, [-0.05], atol=1e-4)
    np.testing.assert_allclose(cb.orientation.upper, [0.05], atol=1e-4)
    np.testing.assert_allclose(cb.semi_axes.median, [[0.2, 0.05]], rtol=1e-3)
    # the ellipse's radius along its axes is its semi-axes
    r = ellipse_radius(np.diag([0.04, 0.0025]), [0.0, np.pi / 2])
    np.testing.assert_allclose(r, [0.2, 0.05], rtol=1e-5)


# -- psychometric functions ------------------------------------------------------------
def test_mvp_psychometric_mean_is_the_average_over_draws(mvp_model):
    log_diag = np.log([[0.04, 0.01], [0.09, 0.02], [0.02, 0.005], [0.05, 0.01]])
    t = np.linspace(0.0, 0.4, 9)
    u = np.array([np.cos(0.7), np.sin(0.7)])
    pb = psychometric_band({"log_diag": jnp.asarray(log_diag, jnp.float32)},
                           [0.0, 0.0], 0.7, t, prob=0.5, model=mvp_model)
    d = t[None] * np.sqrt((u**2 / (np.exp(log_diag) + EPS)).sum(1))[:, None]
    p = 2 / 3 + np.tanh(SLOPE * d) / 3
    np.testing.assert_allclose(pb.draws, p, rtol=1e-5)
    np.testing.assert_allclose(pb.mean, p.mean(0), rtol=1e-5)
    np.testing.assert_allclose(pb.band.lower, np.percentile(p, 25, axis=0), rtol=1e-5)
    np.testing.assert_allclose(pb.direction, u)
    assert pb.observed is None


@pytest.mark.parametrize("estimator", ["quadrature", "mc"])
def test_full_psychometric_mean_is_the_average_over_draws(estimator):
    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator=estimator,
                                                    num_samples=64))
    model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2), task, pn.GaussianNoise())
    stack = jax.vmap(model.init_params)(jax.random.split(jax.random.PRNGKey(0), 5))
    ref, u, t = np.array([0.2, -0.1]), np.array([0.6, 0.8]), np.linspace(0, 0.3, 7)
    mc_key = jax.random.PRNGKey(9)
    pb = psychometric_band(stack, ref, u, t, model=model, mc_key=mc_key)
    refs = np.broadcast_to(ref, (7, 2)).astype(np.float32)
    probe = (ref + t[:, None] * u).astype(np.float32)
    noise = model.draw_mc_samples(mc_key, None)
    one_draw = jax.jit(lambda w: model.p_correct({"W": w}, refs, probe, noise))
    direct = np.array([np.asarray(one_draw(w)) for w in stack["W"]])
    np.testing.assert_allclose(pb.draws, direct, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(pb.mean, direct.mean(0), rtol=1e-5)


def test_observed_proportions_count_the_matching_trials(mvp_model):
    rng = np.random.default_rng(0)
    ref, u = np.array([0.1, 0.2]), np.array([0.0, 1.0])
    levels = np.repeat([0.05, 0.1, 0.2], 20)
    along = np.stack([np.broadcast_to(ref, (60, 2)), ref + levels[:, None] * u], 1)
    elsewhere = np.stack([np.zeros((10, 2)), rng.uniform(-0.3, 0.3, (10, 2))], 1)
    sideways = np.stack([np.broadcast_to(ref, (5, 2)),
                         ref + 0.1 * np.array([1.0, 0.0])[None].repeat(5, 0)], 1)
    y = rng.integers(0, 2, 75)
    data = pn.TrialData(np.concatenate([along, elsewhere, sideways]), y)
    edges = [0.0, 0.075, 0.15, 0.25]
    obs = binned_proportions(data, ref, u, model=mvp_model, bins=edges, prob=0.9)
    np.testing.assert_array_equal(obs.count, [20, 20, 20])
    np.testing.assert_allclose(obs.distance, [0.05, 0.1, 0.2])
    np.testing.assert_allclose(obs.proportion, y[:60].reshape(3, 20).mean(1))
    assert np.all((obs.lower < obs.proportion) & (obs.proportion < obs.upper))
    pb = psychometric_band({"log_diag": jnp.zeros((2, 2))}, ref, u, [0.0, 0.1],
                           model=mvp_model, data=data, bins=edges)
    np.testing.assert_array_equal(pb.observed.count, obs.count)
    with pytest.raises(ValueError, match="no trial"):
        binned_proportions(data, ref, [1.0, 1.0], model=mvp_model)
    with pytest.raises(ValueError, match="outside the bin edges"):
        binned_proportions(data, ref, u, model=mvp_model, bins=[0.0, 0.15])


# -- input checks ----------------------------------------------------------------------
@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda m, s: threshold_bands(s, prob=1.0, model=m), ValueError, "prob"),
        (lambda m, s: threshold_bands(s), ValueError, "model="),
        (lambda m, s: threshold_bands({"log_diag": jnp.zeros(2)}, model=m), ValueError,
         "leading draw axis"),
        (lambda m, s: threshold_bands(object()), TypeError, "sample"),
        (lambda m, s: threshold_bands(s, model=m, num_draws=5), ValueError,
         "num_draws"),
        (lambda m, s: covariance_band(s, [[0.0, 0.0, 0.0]], model=m), ValueError,
         "points"),
        (lambda m, s: psychometric_band(s, [0.0, 0.0], [0.0, 0.0], [0.1], model=m),
         ValueError, "direction"),
        (lambda m, s: psychometric_band(s, [0.0, 0.0], 0.0, [-0.1], model=m),
         ValueError, "distances"),
        (lambda m, s: psychometric_band(s, [0.0], 0.0, [0.1], model=m), ValueError,
         "ref"),
    ],
)
def test_bad_input_is_rejected(mvp_model, call, error, match):
    stack = {"log_diag": jnp.zeros((3, 2))}
    with pytest.raises(error, match=match):
        call(mvp_model, stack)
