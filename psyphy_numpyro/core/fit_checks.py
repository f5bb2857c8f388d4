r"""Goodness of fit: posterior predictive checks, deviance residuals, held-out data.

Three checks of a fitted model against trials (the fitted ones, or held-out
ones), all from posterior draws (:func:`~psyphy_numpyro.core.draws.posterior_draws`)
and the answers' p(correct), the task's lapses included:

- :func:`binned_check`: trials binned by predicted p(correct); the observed
  proportion correct of each bin against the band of proportions that
  replicated data (one Bernoulli draw per trial and posterior draw) give.
  Lapses the model ignores show as observed proportions below the band at
  high predicted p.
- :func:`deviance_residuals`: one residual per trial, with its position in
  the session (learning, fatigue) and its distance from the reference
  (stimulus and Mahalanobis); :func:`residual_trend` bins them.
- :func:`held_out_bands`: psychometric functions at chosen references and
  directions, predicted with bands, with the held-out trials along them
  (:func:`~psyphy_numpyro.core.bands.psychometric_band`).

References
----------
Wichmann, F. A. & Hill, N. J. (2001). The psychometric function: I. Fitting,
sampling, and goodness of fit. Perception & Psychophysics 63, 1293–1313.
Gelman, A., Meng, X.-L. & Stern, H. (1996). Posterior predictive assessment
of model fitness via realized discrepancies. Statistica Sinica 6, 733–807.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.bands import PsychometricBand, psychometric_band
from psyphy_numpyro.core.covariance import mahalanobis
from psyphy_numpyro.core.draws import p_correct_draws, posterior_draws
from psyphy_numpyro.core.intervals import Interval, central_interval
from psyphy_numpyro.core.keys import default_draw_key, default_mc_key

__all__ = [
    "BinnedCheck",
    "ResidualTrend",
    "Residuals",
    "binned_check",
    "deviance_residuals",
    "held_out_bands",
    "residual_trend",
]


#: Bound on the predicted p(correct) of a residual's trial (see :func:`deviance_residuals`).
_P_FLOOR = 1e-9


class BinnedCheck(NamedTuple):
    """Posterior predictive check of proportions correct, binned by predicted p.

    Attributes
    ----------
    edges
        Bin edges of predicted p(correct), ``(num_bins + 1,)``.
    predicted
        Mean predicted p(correct) of the trials in each non-empty bin.
    observed
        Observed proportion correct in each bin.
    count
        Trials in each bin.
    band
        :class:`Interval` of the bin's proportion correct in replicated data
        (parameter uncertainty and Bernoulli noise).
    prob
        Probability of the band.
    """

    edges: np.ndarray
    predicted: np.ndarray
    observed: np.ndarray
    count: np.ndarray
    band: Interval
    prob: float


class Residuals(NamedTuple):
    """Deviance residuals of every trial, with what to plot them against.

    Attributes
    ----------
    residual
        :math:`\\operatorname{sign}(y - p)\\sqrt{-2\\log P(y)}` per trial, ``(N,)``.
    p
        Posterior-predictive p(correct) of each trial (mean over draws).
    order
        Position of each trial in the data (0, 1, ...): learning and fatigue.
    distance
        Euclidean length of comparison - reference.
    mahalanobis
        Posterior median of the Mahalanobis length of comparison - reference
        under :math:`\\Sigma` at the reference (the MVP's discriminability).
    """

    residual: np.ndarray
    p: np.ndarray
    order: np.ndarray
    distance: np.ndarray
    mahalanobis: np.ndarray


class ResidualTrend(NamedTuple):
    """Mean residual in bins of a covariate (:func:`residual_trend`).

    Attributes
    ----------
    x
        Mean covariate of each non-empty bin.
    mean
        Mean residual of the bin.
    stderr
        Its standard error (sample sd / sqrt(count); 0 for a single trial).
    count
        Trials in the bin.
    """

    x: np.ndarray
    mean: np.ndarray
    stderr: np.ndarray
    count: np.ndarray


def _predict(posterior: Any, data: Any, model: Any, num_draws: int | None,
             key: jax.Array | None, mc_key: jax.Array | None) -> tuple:
    """Model, draws, trials and the answers' p(correct), ``(num_draws, N)``, float64.

    The full WPPM's Monte Carlo draws are shared by every trial (``mc_key``,
    default ``PRNGKey(task.config.default_key_seed)``).
    """
    model, draws = posterior_draws(posterior, model=model, num_draws=num_draws, key=key)
    trials = model.trials(data)
    mc_samples = None
    if model.needs_draws:
        mc_samples = model.draw_mc_samples(default_mc_key(model, mc_key), None)
    dtype = jnp.asarray(draws[model.prior.site]).dtype
    p = p_correct_draws(model, draws, jnp.asarray(trials.ref, dtype),
                        jnp.asarray(trials.probe, dtype), mc_samples)
    return model, draws, trials, np.asarray(p, dtype=np.float64)


def binned_check(
    posterior: Any,
    data: Any,
    *,
    model: Any = None,
    bins: Any = 8,
    prob: float = 0.9,
    num_draws: int | None = None,
    key: jax.Array | None = None,
    mc_key: jax.Array | None = None,
) -> BinnedCheck:
    """Observed vs predicted proportion correct in bins of predicted p(correct).

    Each trial's predicted p is the mean over posterior draws. The band of
    a bin is the central ``prob`` interval, over draws, of the proportion
    correct of replicated answers (each trial answered once per draw with
    that draw's p), so an observed proportion outside it is a misfit at the
    ``1 - prob`` level.

    Parameters
    ----------
    posterior, model, num_draws, key
        A posterior or a stack of draws (see :func:`posterior_draws`); ``key``
        also seeds the replicated answers.
    data
        Trials in any form ``model.trials`` accepts (fitted or held out).
    mc_key
        Full WPPM: key of the Monte Carlo draws, shared by every trial
        (default ``PRNGKey(task.config.default_key_seed)``).
    bins
        Number of bins with (nearly) equal numbers of trials, or the bin
        edges in [0, 1]. Empty bins are left out.
    prob
        Probability of the band.

    Returns
    -------
    BinnedCheck
    """
    check.open_unit_interval("prob", prob)
    if isinstance(bins, (int, np.integer)) and not isinstance(bins, bool):
        check.positive_int("bins", bins)
    else:
        edges = check.finite_array("bins", bins, ndim=1)
        if edges.size < 2 or np.any(np.diff(edges) <= 0) or edges[0] < 0 or edges[-1] > 1:
            raise ValueError("bins must be a number of bins or increasing edges in [0, 1] "
                             f"(at least two), got {bins!r}.")
    model, _, trials, p = _predict(posterior, data, model, num_draws, key, mc_key)
    mean = p.mean(axis=0)
    if isinstance(bins, (int, np.integer)):
        edges = np.unique(np.quantile(mean, np.linspace(0.0, 1.0, int(bins) + 1)))
        if edges.size < 2:  # every trial has the same prediction
            edges = np.array([mean[0], mean[0]])
    which = np.clip(np.searchsorted(edges, mean, side="right") - 1, 0, len(edges) - 2)
    inside = (mean >= edges[0]) & (mean <= edges[-1])
    onehot = (which[:, None] == np.arange(len(edges) - 1)[None]) & inside[:, None]
    count = onehot.sum(axis=0)
    full = count > 0
    onehot, count = onehot[:, full], count[full]
    y = np.asarray(trials.responses, dtype=np.float64)
    replicated = np.asarray(
        jax.random.bernoulli(jax.random.fold_in(default_draw_key(key), 1), jnp.asarray(p)),
        dtype=np.float64)
    return BinnedCheck(
        edges,
        (mean @ onehot) / count,
        (y @ onehot) / count,
        count,
        central_interval((replicated @ onehot) / count, prob),
        float(prob),
    )


def deviance_residuals(
    posterior: Any,
    data: Any,
    *,
    model: Any = None,
    num_draws: int | None = None,
    key: jax.Array | None = None,
    mc_key: jax.Array | None = None,
) -> Residuals:
    """Deviance residual of every trial at its posterior-predictive p(correct).

    Parameters
    ----------
    posterior, data, model, num_draws, key, mc_key
        As in :func:`binned_check`.

    Returns
    -------
    Residuals
        ``p`` is the posterior-predictive p(correct) kept inside
        [1e-9, 1 - 1e-9], so that a miss where a float32 p rounds to 1 has
        a large, finite residual. Plot ``residual`` against ``order`` or ``distance`` (see
        :func:`residual_trend`); a trend shows learning, fatigue or a
        misfit psychometric function.
    """
    model, draws, trials, p = _predict(posterior, data, model, num_draws, key, mc_key)
    # a float32 p(correct) can round to exactly 1: keep P(y) of a miss > 0
    mean = np.clip(p.mean(axis=0), _P_FLOOR, 1.0 - _P_FLOOR)
    y = np.asarray(trials.responses, dtype=np.float64)
    log_prob = np.where(y > 0, np.log(mean), np.log1p(-mean))
    residual = np.sign(y - mean) * np.sqrt(-2.0 * log_prob)
    ref, probe = np.asarray(trials.ref), np.asarray(trials.probe)
    lengths = _mahalanobis_draws(model, draws, jnp.asarray(ref), jnp.asarray(probe))
    return Residuals(residual, mean, np.arange(y.size), np.linalg.norm(probe - ref, axis=-1),
                     np.median(np.asarray(lengths), axis=0))


def _mahalanobis_draws(model: Any, draws: dict, ref, probe) -> jnp.ndarray:
    """Mahalanobis length of probe - ref under Sigma(ref), ``(num_draws, N)``."""

    def one(params):
        cov = model.local_covariance(params, None if model.is_mvp else ref)
        return mahalanobis(cov, probe - ref, model.diag_term)

    return jax.lax.map(one, draws)


def residual_trend(x: Any, residual: Any, bins: Any = 10) -> ResidualTrend:
    """Mean residual in bins of ``x`` (equal-width, ``numpy.histogram``'s ``bins``).

    Examples
    --------
    >>> t = residual_trend([0, 1, 2, 3], [1.0, -1.0, 2.0, 2.0], bins=2)
    >>> t.mean.tolist(), t.count.tolist()
    ([0.0, 2.0], [2, 2])
    """
    x = check.finite_array("x", x, ndim=1)
    residual = check.finite_array("residual", residual, ndim=1)
    if x.shape != residual.shape or x.size == 0:
        raise ValueError(f"x and residual must be non-empty vectors of one length, got "
                         f"shapes {x.shape} and {residual.shape}.")
    edges = np.histogram_bin_edges(x, bins=bins)
    which = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
    count = np.bincount(which, minlength=len(edges) - 1)
    full = count > 0
    total = np.bincount(which, weights=residual, minlength=len(edges) - 1)[full]
    squares = np.bincount(which, weights=residual**2, minlength=len(edges) - 1)[full]
    xs = np.bincount(which, weights=x, minlength=len(edges) - 1)[full]
    n = count[full]
    mean = total / n
    var = np.where(n > 1, (squares - n * mean**2) / np.maximum(n - 1, 1), 0.0)
    return ResidualTrend(xs / n, mean, np.sqrt(np.maximum(var, 0.0) / n), n)


def held_out_bands(
    posterior: Any,
    data: Any,
    refs: Any,
    directions: Any,
    distances: Any,
    prob: float = 0.9,
    **options: Any,
) -> list[PsychometricBand]:
    """Predicted psychometric functions with bands against held-out trials.

    One :func:`~psyphy_numpyro.core.bands.psychometric_band` per reference
    and direction, each with the trials of ``data`` along it binned by
    distance (``observed``).

    Parameters
    ----------
    posterior
        A posterior, or a stack of draws with ``model=`` in ``options``.
    data
        The held-out trials.
    refs
        References, ``(num_refs, input_dim)``.
    directions
        One direction per reference, ``(num_refs, input_dim)``, or in 2-D
        angles in radians, ``(num_refs,)``.
    distances
        Distances of the predicted curves, ``(num_distances,)``.
    prob
        Probability of the bands.
    **options
        Passed to :func:`psychometric_band` (``model``, ``bins``,
        ``angle_tol``, ``ref_tol``, ``num_draws``, ``key``, ...).

    Returns
    -------
    list of PsychometricBand
    """
    refs = np.atleast_2d(check.finite_array("refs", refs))
    directions = check.finite_array("directions", directions)
    if directions.shape[:1] != refs.shape[:1]:
        raise ValueError(f"directions must hold one direction per reference "
                         f"({refs.shape[0]}), got shape {directions.shape}.")
    return [psychometric_band(posterior, ref, direction, distances, prob, data=data,
                              **options)
            for ref, direction in zip(refs, directions)]
