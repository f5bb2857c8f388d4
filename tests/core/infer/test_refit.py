"""The fixed-cost refit core: bucket sizes, padding with a mask, Adam + Gauss-Newton.

The truths are independent: bucket sizes from their definition, the MVP's
negative log posterior written in numpy (float64) and minimised by scipy, and
its Gauss-Newton precision from numpy finite differences.
"""

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.optimize import minimize

from psyphy_numpyro.core.infer.laplace import fisher_precision
from psyphy_numpyro.core.infer.refit import bucket_size, map_laplace_refit, pad_trials
from psyphy_numpyro.core.trials import Trials

SCALE, SLOPE, DIAG = 0.5, 1.5, 1e-6  # the conftest model's prior sd, slope, diag_term
STEPS, LR, NEWTON = 1000, 1e-2, 6  # MAPLaplaceRefit's cold start
ADAM_ONLY = 300  # a cheaper program for the padded-vs-unpadded comparisons
POINT = {"log_diag": np.array([-0.5, -1.5], np.float32)}


# -- the MVP in numpy ------------------------------------------------------------------
def mvp_log_hit_miss(theta, trials):
    """log p(correct) and log p(wrong), p = 2/3 + tanh(slope d) / 3 (float64)."""
    delta2 = (np.asarray(trials.probe, float) - np.asarray(trials.ref, float)) ** 2
    z = SLOPE * np.sqrt((delta2 / (np.exp(theta) + DIAG)).sum(-1))
    log_miss = np.log(2.0 / 3.0) - np.logaddexp(0.0, 2.0 * z)  # (1 - tanh z) / 3
    return np.log1p(-np.exp(log_miss)), log_miss


def mvp_neg_log_posterior(theta, trials):
    """-log p(theta, y), normalising constants included."""
    theta = np.asarray(theta, float)
    y = np.asarray(trials.responses, float)
    log_hit, log_miss = mvp_log_hit_miss(theta, trials)
    log_prior = -0.5 * (theta**2).sum() / SCALE**2 - theta.size * np.log(
        np.sqrt(2.0 * np.pi) * SCALE)
    return -(y * log_hit + (1.0 - y) * log_miss).sum() - log_prior


def mvp_hessian(theta, trials, h=1e-4):
    """Hessian of :func:`mvp_neg_log_posterior` by central differences (float64)."""
    theta = np.asarray(theta, float)
    eye = np.eye(theta.size) * h

    def f(t):
        return mvp_neg_log_posterior(t, trials)

    return np.array([[(f(theta + a + b) - f(theta + a - b) - f(theta - a + b)
                       + f(theta - a - b)) / (4 * h * h) for b in eye] for a in eye])


def mvp_gauss_newton(theta, trials, h=1e-5):
    """I / scale^2 + J^T diag(p (1 - p)) J, with J by central differences."""

    def logits(t):
        log_hit, log_miss = mvp_log_hit_miss(t, trials)
        return log_hit - log_miss

    J = np.stack([(logits(theta + h * e) - logits(theta - h * e)) / (2 * h)
                  for e in np.eye(theta.size)], axis=1)
    p = 1.0 / (1.0 + np.exp(-logits(theta)))
    return np.eye(theta.size) / SCALE**2 + (J.T * (p * (1.0 - p))) @ J


@pytest.fixture(scope="module")
def trials(mvp_model, seed_data):
    return mvp_model.trials(seed_data)  # 400 trials: bucket 512


@pytest.fixture(scope="module")
def scipy_map(trials):
    fit = minimize(mvp_neg_log_posterior, np.zeros(2), args=(trials,), method="BFGS",
                   options={"gtol": 1e-8})
    assert fit.success, fit.message
    return fit.x


@pytest.fixture(scope="module")
def padded_refit(mvp_model, trials):
    padded, mask = pad_trials(trials, bucket_size(len(trials.ref)))
    return map_laplace_refit(mvp_model.spec, {"log_diag": jnp.zeros(2)}, padded, mask,
                             num_steps=STEPS, learning_rate=LR, newton_steps=NEWTON)


# -- bucket sizes ----------------------------------------------------------------------
def expected_bucket(n):
    """The smallest power of 2 that is >= n and >= 256."""
    return next(2**m for m in range(8, 40) if 2**m >= n)


@pytest.mark.parametrize("n, size", [(1, 256), (255, 256), (256, 256), (257, 512),
                                     (400, 512), (512, 512), (513, 1024),
                                     (2000, 2048), (2049, 4096), (100_000, 131_072)])
def test_bucket_size_values(n, size):
    assert bucket_size(n) == size == expected_bucket(n)


def test_bucket_sizes_hold_the_trials_grow_with_them_and_at_most_double_them():
    n = np.arange(1, 20_001)
    sizes = np.array([bucket_size(int(k)) for k in n])
    np.testing.assert_array_equal(sizes, [expected_bucket(k) for k in n])
    assert np.all(sizes >= n)
    assert np.all(np.diff(sizes) >= 0)
    big = n > 256
    assert np.all(sizes[big] < 2 * n[big])
    assert np.all(sizes[~big] == 256)
    assert len(np.unique(sizes)) == 8  # 256, 512, ..., 32768: few compilations


@pytest.mark.parametrize("n, error", [(0, ValueError), (-3, ValueError),
                                      (2.5, TypeError), (True, TypeError)])
def test_bucket_size_refuses_a_non_positive_count(n, error):
    with pytest.raises(error, match="num_trials"):
        bucket_size(n)


# -- padding ---------------------------------------------------------------------------
def test_padding_repeats_the_first_trial_with_answer_zero_and_masks_it(trials):
    padded, mask = pad_trials(trials, 512)
    assert isinstance(padded, Trials)
    assert padded.ref.shape == padded.probe.shape == (512, 2)
    assert padded.responses.shape == mask.shape == (512,)
    for got, want in zip(padded, trials, strict=True):
        np.testing.assert_array_equal(got[:400], want)
    np.testing.assert_array_equal(padded.ref[400:], np.repeat(trials.ref[:1], 112, 0))
    np.testing.assert_array_equal(padded.probe[400:],
                                  np.repeat(trials.probe[:1], 112, 0))
    np.testing.assert_array_equal(padded.responses[400:], 0)
    np.testing.assert_array_equal(mask, np.r_[np.ones(400), np.zeros(112)])
    same, ones = pad_trials(trials, 400)
    np.testing.assert_array_equal(same.ref, trials.ref)
    np.testing.assert_array_equal(ones, 1.0)
    with pytest.raises(ValueError, match="smaller than the 400 trials"):
        pad_trials(trials, 399)


def test_the_masked_loss_is_the_unpadded_negative_log_posterior(mvp_model, trials):
    spec, n = mvp_model.spec, len(trials.ref)
    log_lik = spec.log_likelihood(POINT, trials)
    want = -float(log_lik.sum() + spec.prior.distribution().log_prob(POINT["log_diag"]))
    np.testing.assert_allclose(want, mvp_neg_log_posterior(POINT["log_diag"], trials),
                               rtol=1e-5)  # the numpy version is the same density
    for size in (n, 512):
        padded, mask = pad_trials(trials, size)
        result = map_laplace_refit(spec, POINT, padded, mask, num_steps=ADAM_ONLY,
                                   learning_rate=LR, newton_steps=0)
        # the loss is the mean per real trial; losses[0] is at the start
        np.testing.assert_allclose(float(result.losses[0]) * n, want, rtol=1e-5,
                                   err_msg=f"padded to {size}")


# -- the refit -------------------------------------------------------------------------
def test_the_refit_reaches_the_map_and_its_gauss_newton_precision(
        mvp_model, trials, scipy_map, padded_refit):
    params = padded_refit.params
    assert set(params) == {"log_diag"} and params["log_diag"].shape == (2,)
    np.testing.assert_allclose(params["log_diag"], scipy_map, atol=1e-4)
    np.testing.assert_allclose(float(padded_refit.losses[-1]) * len(trials.ref),
                               mvp_neg_log_posterior(scipy_map, trials), rtol=1e-6)
    assert padded_refit.losses.shape == (STEPS + NEWTON,)
    assert padded_refit.losses[-1] < padded_refit.losses[0]
    # the MVP's precision is the exact Hessian (as LaplaceApproximation's)
    precision = np.asarray(padded_refit.precision)
    np.testing.assert_allclose(precision, mvp_hessian(scipy_map, trials), rtol=2e-3)
    assert not np.allclose(precision, fisher_precision(mvp_model, params, trials),
                           rtol=0.05)
    np.testing.assert_allclose(precision, precision.T, rtol=1e-6)


def test_padding_does_not_change_the_refit(mvp_model, trials):
    start = {"log_diag": jnp.zeros(2)}
    results = [map_laplace_refit(mvp_model.spec, start, *pad_trials(trials, size),
                                 num_steps=ADAM_ONLY, learning_rate=LR, newton_steps=0)
               for size in (len(trials.ref), 512)]
    unpadded, padded = results
    assert np.abs(padded.params["log_diag"]).max() > 0.4  # it moved
    np.testing.assert_allclose(unpadded.params["log_diag"], padded.params["log_diag"],
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(unpadded.losses, padded.losses, rtol=1e-5)
    np.testing.assert_allclose(unpadded.precision, padded.precision, rtol=1e-5)
    np.testing.assert_allclose(  # the curvature of the real trials only
        padded.precision, mvp_hessian(np.asarray(padded.params["log_diag"], float),
                                      trials), rtol=2e-3)


@pytest.fixture(scope="module")
def newton_only(mvp_model, trials):
    """``f(init) -> RefitResult``: 16 Gauss-Newton steps, no Adam step (one program)."""
    padded, mask = pad_trials(trials, 512)

    def refit(init):
        return map_laplace_refit(mvp_model.spec, init, padded, mask, num_steps=0,
                                 learning_rate=LR, newton_steps=16)

    return refit


def test_gauss_newton_steps_alone_reach_the_map_and_never_raise_the_loss(
        trials, scipy_map, newton_only):
    start = np.array([-0.4, -2.8], np.float32)  # 0.06 and 0.3 from the MAP
    result = newton_only({"log_diag": start})
    # Gauss-Newton converges linearly here (about halving the error per step) to
    # where float32 losses stop telling the step lengths apart (~1e-3 from the MAP)
    np.testing.assert_allclose(result.params["log_diag"], scipy_map, atol=1e-3)
    losses = np.asarray(result.losses, float)
    assert losses.shape == (16,)
    assert np.all(np.diff(losses) <= 1e-6 * abs(losses[0]))
    np.testing.assert_allclose(losses[0] * len(trials.ref),
                               mvp_neg_log_posterior(start, trials), rtol=1e-5)
    final = mvp_neg_log_posterior(np.asarray(result.params["log_diag"], float), trials)
    np.testing.assert_allclose(final, mvp_neg_log_posterior(scipy_map, trials),
                               rtol=1e-7)


def test_a_warm_start_at_the_map_stays_there(padded_refit, newton_only):
    warm = newton_only(padded_refit.params)
    np.testing.assert_allclose(warm.params["log_diag"],
                               padded_refit.params["log_diag"], atol=1e-4)
    np.testing.assert_allclose(warm.losses, padded_refit.losses[-1], rtol=1e-6)
    np.testing.assert_allclose(warm.precision, padded_refit.precision, rtol=1e-5)


@pytest.mark.parametrize("mask", [np.ones(511), np.ones((512, 1))])
def test_a_mask_of_another_shape_is_refused(mvp_model, trials, mask):
    # (converted with jnp.asarray, i.e. compiled, before its shape is checked)
    padded, _ = pad_trials(trials, 512)
    with pytest.raises(ValueError, match=r"mask must have shape \(512,\)"):
        map_laplace_refit(mvp_model.spec, POINT, padded, mask, num_steps=5,
                          learning_rate=LR)


@pytest.mark.parametrize("kwargs, error, match", [
    ({"num_steps": -1}, ValueError, "num_steps"),
    ({"num_steps": 1.5}, TypeError, "num_steps"),
    ({"newton_steps": -1}, ValueError, "newton_steps"),
    ({"learning_rate": 0.0}, ValueError, "learning_rate"),
    ({"init_params": {"log_diag": np.zeros(3)}}, ValueError, "init_params"),
    ({"init_params": {"W": np.zeros(2)}}, ValueError, "init_params"),
])
def test_bad_arguments_are_refused_before_compiling(mvp_model, trials, no_compilation,
                                                    kwargs, error, match):
    padded, mask = pad_trials(trials, 512)
    args = {"init_params": POINT, "mask": mask, "num_steps": 5, "learning_rate": LR,
            "newton_steps": 2, **kwargs}
    with no_compilation(), pytest.raises(error, match=match):
        map_laplace_refit(mvp_model.spec, args.pop("init_params"), padded,
                          args.pop("mask"), **args)
