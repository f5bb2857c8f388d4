"""WPPMPredictivePosterior: psyphy 0.0.5's numbers at a MAP point; bands from draws."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.readouts import fit_ellipse, threshold_contour
from psyphy_numpyro.posterior.predictive_posterior import (
    PredictivePosterior,
    ThresholdConfig,
    WPPMPredictivePosterior,
)

psyphy_model = pytest.importorskip("psyphy.model")
psyphy_posterior = pytest.importorskip("psyphy.posterior")

SETTINGS = {"basis_degree": 2, "variance_scale": 1e-3,
            "decay_rate": 0.4, "extra_embedding_dims": 1}
REFS = np.array([[0.0, 0.0], [0.4, -0.3]])
PAIRS = jnp.array([[[0.0, 0.0], [0.08, 0.0]], [[0.4, -0.3], [0.4, -0.2]],
                   [[-0.5, 0.5], [-0.6, 0.55]]])


class DrawsPosterior:
    """A posterior held as draws (as NUTS, Laplace and SVI posteriors are)."""

    def __init__(self, model, draws, site="W"):
        self.model, self.draws, self.size = model, draws, len(draws[site])
        self.params = jax.tree.map(lambda x: x[0], draws)

    def sample(self, n, *, key):
        idx = jax.random.randint(key, (n,), 0, self.size)
        return jax.tree.map(lambda x: x[idx], self.draws)


@pytest.fixture(scope="module")
def full(psyphy_twins):
    ours, theirs = psyphy_twins(2, SETTINGS, num_samples=300)
    draws = jax.vmap(ours.init_params)(jax.random.split(jax.random.PRNGKey(1), 4))
    return ours, theirs, draws


def test_map_p_correct_and_field_equal_psyphys(full):
    ours, theirs, draws = full
    W = {"W": draws["W"][0]}
    pred = WPPMPredictivePosterior(pn.MAPPosterior(W, ours), PAIRS, n_samples=2)
    other = psyphy_posterior.WPPMPredictivePosterior(
        psyphy_posterior.MAPPosterior(W, theirs), PAIRS, n_samples=2)
    assert isinstance(pred, PredictivePosterior)
    assert pred.mean.shape == pred.variance.shape == (3,)
    np.testing.assert_allclose(pred.mean, other.mean, rtol=1e-5)
    np.testing.assert_allclose(pred.variance, 0.0, atol=1e-12)  # one point, no spread
    refs = pred.cov_field(PAIRS[:, 0])
    np.testing.assert_allclose(refs, other.cov_field(PAIRS[:, 0]), rtol=1e-5, atol=1e-9)
    both = pred.cov_field(PAIRS)  # all stimuli: (n_test, 2, d, d)
    assert both.shape == (3, 2, 2, 2)
    np.testing.assert_allclose(both[:, 0], refs, rtol=1e-6)
    np.testing.assert_allclose(both[:, 1], pred.cov_field(PAIRS[:, 1]), rtol=1e-6)


def test_bands_from_draws_are_the_spread_of_per_draw_values(full):
    ours, theirs, draws = full
    post = DrawsPosterior(ours, draws)
    key = jax.random.PRNGKey(4)
    pred = WPPMPredictivePosterior(post, PAIRS, n_samples=6, key=key)
    # independently: psyphy's predict_prob at each posterior draw and pair
    predict = jax.jit(jax.vmap(jax.vmap(
        lambda p, x: theirs.predict_prob(p, (x[0], x[1])), (None, 0)), (0, None)))
    each = np.asarray(predict(post.sample(6, key=key), PAIRS))
    np.testing.assert_allclose(pred.samples, each, rtol=1e-5)
    np.testing.assert_allclose(pred.mean, each.mean(0), rtol=1e-5)
    np.testing.assert_allclose(pred.variance, each.var(0), rtol=1e-3, atol=1e-12)
    assert np.all(pred.variance > 1e-6)
    other = jax.random.PRNGKey(9)
    got = pred.rsample((2, 3), key=other)
    assert got.shape == (2, 3, 3)
    np.testing.assert_allclose(got.reshape(6, 3), predict(post.sample(6, key=other),
                                                          PAIRS), rtol=1e-5)
    assert pred.rsample(key=other).shape == (3,)


@pytest.fixture(scope="module")
def mvp_draws(mvp_model, seed_truth):
    """MVP draws spread around the seed's truth, as a posterior would be."""
    noise = 0.1 * jax.random.normal(jax.random.PRNGKey(3), (40, 2))
    return DrawsPosterior(mvp_model, {"log_diag": seed_truth["log_diag"] + noise},
                          site="log_diag")


def test_threshold_mode_of_draws_matches_the_closed_form(mvp_draws):
    model = mvp_draws.model
    cfg = ThresholdConfig(n_theta=12, target_pc=5 / 6)
    pred = WPPMPredictivePosterior(mvp_draws, REFS, n_samples=20, threshold_pred=True,
                                   threshold_config=cfg)
    # by hand: the oddity MVP's p = 2/3 + tanh(slope d) / 3 reaches 5/6 at d*,
    # and the threshold ellipse is delta^T (Sigma + eps I)^-1 delta = d*^2
    d_star = np.arctanh(3 * (5 / 6) - 2) / model.task.slope
    log_diag = np.asarray(mvp_draws.sample(20, key=jax.random.PRNGKey(0))["log_diag"],
                          dtype=float)
    S = d_star**2 * (np.exp(log_diag)[:, None, :] * np.eye(2) + 1e-6 * np.eye(2))
    S = np.broadcast_to(S[:, None], (20, 2, 2, 2))
    assert pred.mean.shape == pred.variance.shape == (2, 2, 2)
    np.testing.assert_allclose(pred.samples, S, rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(pred.mean, S.mean(0), rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(pred.variance, S.var(0), rtol=2e-3, atol=1e-12)
    assert pred.variance[0, 0, 0] > 0 and pred.variance[0, 1, 1] > 0  # a real band
    # and p(correct) bands from the same draws
    probs = WPPMPredictivePosterior(mvp_draws, PAIRS, n_samples=20)
    assert np.all(probs.variance > 0)


def test_threshold_mode_of_draws_is_the_per_draw_readout(full):
    ours, _, draws = full
    post = DrawsPosterior(ours, draws)
    cfg = ThresholdConfig(n_theta=8)
    pred = WPPMPredictivePosterior(post, REFS, n_samples=3, threshold_pred=True,
                                   threshold_config=cfg)
    assert pred.mean.shape == (2, 2, 2)
    each = []
    for i in range(3):  # one draw at a time, through the readouts
        params = jax.tree.map(lambda x, i=i: x[i],
                              post.sample(3, key=jax.random.PRNGKey(0)))
        contour = threshold_contour(ours, params, ref=REFS, num_angles=8,
                                    criterion=2 / 3)
        each.append(fit_ellipse(contour).cov)
    each = np.stack(each)
    np.testing.assert_allclose(pred.samples, each, rtol=1e-4, atol=1e-9)
    np.testing.assert_allclose(pred.mean, each.mean(0), rtol=1e-4, atol=1e-9)
    assert np.all(np.diagonal(pred.variance, axis1=-2, axis2=-1) > 0)
    assert np.all(np.linalg.eigvalsh(np.asarray(pred.mean)) > 0)
    # rsample with the same key and count draws the same parameter sets
    np.testing.assert_allclose(pred.rsample((3,), key=jax.random.PRNGKey(0)),
                               pred.samples, rtol=1e-6)


def test_unreached_directions_are_reported(full):
    ours, _, draws = full
    post = DrawsPosterior(ours, draws)
    cfg = ThresholdConfig(n_theta=8, target_pc=0.97)
    pred = WPPMPredictivePosterior(post, [[0.0, 0.0], [0.97, 0.97]], n_samples=3,
                                   threshold_pred=True, threshold_config=cfg)
    with pytest.warns(RuntimeWarning, match="never reach"):
        _ = pred.mean


def test_default_threshold_ellipses_are_as_close_to_the_truth_as_the_best_ellipse(
        prior_field_thresholds, best_ellipse_miss, ellipse_radii):
    """Issue 17's goal through psyphy's API at its default ThresholdConfig: on
    fields drawn from the prior the ellipses miss the true thresholds by at most
    the best ellipse's misfit + 0.05."""
    model, draws, refs, angles, true = prior_field_thresholds
    for k in range(2):
        post = pn.MAPPosterior(jax.tree.map(lambda w, k=k: w[k], draws), model)
        pred = WPPMPredictivePosterior(post, refs, n_samples=1, threshold_pred=True)
        cov = pred.mean
        miss = np.max(np.abs(ellipse_radii(cov, angles) / true[k] - 1), axis=-1)
        best = [np.max(np.abs(best_ellipse_miss(r, angles))) for r in true[k]]
        assert np.all(miss <= np.array(best) + 0.05), (k, miss, best)


@pytest.mark.slow
def test_threshold_covariance_agrees_with_psyphys_grid_search(psyphy_twins):
    ours, theirs = psyphy_twins(2, SETTINGS, num_samples=500)
    W = ours.init_params(jax.random.PRNGKey(1))
    refs = jnp.array([[0.1, -0.2]])
    ours_pred = WPPMPredictivePosterior(
        pn.MAPPosterior(W, ours), refs, n_samples=1, threshold_pred=True,
        threshold_config=ThresholdConfig(n_theta=8, weighting="uniform"))
    their_pred = psyphy_posterior.WPPMPredictivePosterior(
        psyphy_posterior.MAPPosterior(W, theirs), refs, n_samples=1,
        threshold_pred=True,
        threshold_config=psyphy_posterior.ThresholdConfig(n_theta=8, n_length=60,
                                                          bounds=(5e-4, 0.25)))
    # semi-axes: psyphy's grid step is 0.004 and its Monte Carlo noise is fresh
    # at every grid point, so agreement is to a few percent
    ours_axes = np.sqrt(np.linalg.eigvalsh(np.asarray(ours_pred.mean)))
    their_axes = np.sqrt(np.linalg.eigvalsh(np.asarray(their_pred.mean)))
    np.testing.assert_allclose(ours_axes, their_axes, rtol=0.1)


def test_bad_input_is_named(full, mvp_model, seed_truth):
    ours, theirs, draws = full
    post = pn.MAPPosterior({"W": draws["W"][0]}, ours)
    with pytest.raises(ValueError, match="bare reference points"):
        _ = WPPMPredictivePosterior(post, PAIRS, threshold_pred=True).mean
    with pytest.raises(ValueError, match="too small"):
        _ = WPPMPredictivePosterior(post, REFS, threshold_pred=True,
                                    threshold_config=ThresholdConfig(n_theta=2)).mean
    with pytest.raises(ValueError, match=r"pairs of shape \(n_test, 2, 2\)"):
        _ = WPPMPredictivePosterior(post, REFS).mean
    with pytest.warns(UserWarning, match="Chebyshev domain"):  # evaluated, as psyphy does
        _ = WPPMPredictivePosterior(post, 2 * PAIRS).mean
    with pytest.raises(TypeError, match="sample"):
        WPPMPredictivePosterior(object(), PAIRS)
    with pytest.raises(TypeError, match="psyphy_numpyro.WPPM"):
        WPPMPredictivePosterior(psyphy_posterior.MAPPosterior(post.params, theirs),
                                PAIRS)
    with pytest.raises(TypeError, match="ThresholdConfig"):
        WPPMPredictivePosterior(post, REFS, threshold_pred=True,
                                threshold_config={"n_theta": 8})
    with pytest.raises(ValueError, match="n_samples"):
        WPPMPredictivePosterior(post, PAIRS, n_samples=0)
    with pytest.raises(ValueError, match="sample_shape"):
        WPPMPredictivePosterior(post, PAIRS).rsample((0,), key=jax.random.PRNGKey(0))
    with pytest.raises(ValueError, match=r"\(n_test, 2\)"):
        WPPMPredictivePosterior(post, PAIRS).cov_field(jnp.zeros(2))
    mvp = pn.MAPPosterior(seed_truth, mvp_model)
    with pytest.raises(ValueError, match="criterion must exceed"):  # MVP floor is 2/3
        _ = WPPMPredictivePosterior(mvp, REFS, threshold_pred=True).mean


@pytest.mark.parametrize("kwargs, match", [
    ({"bounds": (0.3, 0.1)}, "min < max"),
    ({"bounds": (0.1,)}, "pair"),
    ({"target_pc": 1.0}, "target_pc"),
    ({"n_length": 0}, "n_length"),
    ({"chunk": 2.5}, "chunk"),
    ({"weighting": "l1"}, "weighting"),
])
def test_threshold_config_checks_its_fields(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        ThresholdConfig(**kwargs)
