r"""Credible bands of readouts, for any posterior: thresholds, covariances, p(correct).

Every function here takes a posterior (anything with ``.model`` and
``.sample(n, *, key)``: NUTS, SVI, Laplace, Langevin, MAP) or a stack of
parameter draws (a params dict whose entries have a leading draw axis,
e.g. ``nuts_posterior.samples``, with ``model=``). It evaluates one readout
per draw and summarises the draws pointwise by their median and central
``prob`` interval:

- :func:`threshold_bands`: the threshold along each direction around each
  reference (:func:`~psyphy_numpyro.threshold_contour`, summarised by
  :func:`~psyphy_numpyro.contour_band`), and the ellipse fitted to the median
  contour (:func:`~psyphy_numpyro.fit_ellipse`);
- :func:`covariance_band`: the entries of :math:`\Sigma(x)` over a set of
  points (:func:`~psyphy_numpyro.covariance_field`) and, in 2-D, the
  semi-axes and orientation of its ellipse;
- :func:`psychometric_band`: p(correct) along a direction from a reference,
  the posterior-predictive psychometric function, with the observed
  proportions correct of matching trials (how Hong et al. validated their
  fits against held-out psychometric functions).

For the full WPPM individual entries of ``W`` are not identified (rotating
``W`` in its embedding leaves the field unchanged); these readouts are, so
they are what to compare across posteriors and against a simulated truth.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.covariance import mahalanobis
from psyphy_numpyro.core.draws import p_correct_draws, posterior_draws
from psyphy_numpyro.core.intervals import Interval, central_interval
from psyphy_numpyro.core.keys import default_mc_key
from psyphy_numpyro.core.readouts import (
    Contour,
    ContourBand,
    EllipseFit,
    contour_band,
    covariance_field,
    fit_ellipse,
    threshold_contour,
)


class ThresholdBands(NamedTuple):
    """Threshold contours of posterior draws at a set of references.

    Attributes
    ----------
    refs
        References, shape ``(num_refs, 2)``; None for the MVP, whose contour
        is the same everywhere.
    band
        :class:`~psyphy_numpyro.ContourBand`: ``lower``, ``median`` and
        ``upper`` threshold per direction, shape ``([num_refs,] num_angles)``,
        and ``reached``, the fraction of draws reaching the criterion.
    ellipse
        :class:`~psyphy_numpyro.EllipseFit` of the median contour: ``cov``
        of shape ``([num_refs,] 2, 2)``.
    draws
        The per-draw :class:`~psyphy_numpyro.Contour`, ``radii`` of shape
        ``(num_draws, [num_refs,] num_angles)``.
    criterion
        p(correct) at threshold.
    """

    refs: np.ndarray | None
    band: ContourBand
    ellipse: EllipseFit
    draws: Contour
    criterion: float

    @property
    def median_contour(self) -> Contour:
        """The pointwise median as a :class:`~psyphy_numpyro.Contour`."""
        return _median_contour(self.band, self.criterion, self.refs)


class CovarianceBand(NamedTuple):
    r"""Pointwise bands of :math:`\Sigma(x)` over a set of points.

    Attributes
    ----------
    points
        The points, shape ``(..., d)``.
    cov
        :class:`Interval` of each entry of :math:`\Sigma(x)`, shape
        ``(..., d, d)`` (entrywise quantiles: the bounds need not be
        covariance matrices).
    semi_axes
        :class:`Interval` of the square roots of the eigenvalues of
        :math:`\Sigma(x)`, largest first, shape ``(..., d)``: the semi-axes of
        the one-standard-deviation noise ellipse.
    orientation
        2-D only (else None): :class:`Interval` of the angle of the major
        axis in radians, shape ``(...)``. Angles are taken modulo :math:`\pi`
        around their circular median, so the bounds may leave
        :math:`[0, \pi)`.
    draws
        :math:`\Sigma(x)` of every draw, ``(num_draws, ..., d, d)``.
    prob
        Probability of the central interval.
    """

    points: np.ndarray
    cov: Interval
    semi_axes: Interval
    orientation: Interval | None
    draws: np.ndarray
    prob: float


class BinnedProportions(NamedTuple):
    """Observed proportion correct of trials binned by distance.

    Attributes
    ----------
    distance
        Mean distance of the trials in each non-empty bin, ``(num_bins,)``.
    proportion
        Fraction answered correctly.
    count
        Trials in each bin.
    lower, upper
        Central ``prob`` interval of the proportion: quantiles of the
        Jeffreys posterior ``Beta(k + 1/2, n - k + 1/2)``.
    """

    distance: np.ndarray
    proportion: np.ndarray
    count: np.ndarray
    lower: np.ndarray
    upper: np.ndarray


class PsychometricBand(NamedTuple):
    """Posterior-predictive p(correct) along a direction from a reference.

    Attributes
    ----------
    ref, direction
        The reference, shape ``(d,)``, and the unit direction.
    distances
        Distances from the reference, ``(num_distances,)``.
    mean
        Posterior-predictive p(correct): the mean over draws.
    band
        :class:`Interval` over draws, shape ``(num_distances,)``.
    draws
        p(correct) of every draw, ``(num_draws, num_distances)``.
    prob
        Probability of the central interval.
    observed
        :class:`BinnedProportions` of the matching trials, when data are given.
    """

    ref: np.ndarray
    direction: np.ndarray
    distances: np.ndarray
    mean: np.ndarray
    band: Interval
    draws: np.ndarray
    prob: float
    observed: BinnedProportions | None = None




def _median_contour(band: ContourBand, criterion: float, refs: Any) -> Contour:
    return Contour(band.angles, band.median, criterion, np.isfinite(band.median), refs)


# -- thresholds -----------------------------------------------------------------------
def threshold_bands(
    posterior: Any,
    ref: Any = None,
    prob: float = 0.9,
    *,
    model: Any = None,
    num_draws: int | None = None,
    key: jax.Array | None = None,
    criterion: float | None = None,
    num_angles: int | None = None,
    mc_key: jax.Array | None = None,
    num_samples: int | None = None,
) -> ThresholdBands:
    """Pointwise credible bands of the threshold contour at each reference.

    Parameters
    ----------
    posterior
        A posterior with ``.model`` and ``.sample(n, *, key)``, or a stack of
        draws with ``model=`` (see :func:`posterior_draws`).
    ref
        Full WPPM: references, shape ``(2,)`` or ``(num_refs, 2)``, in
        ``[-1, 1]^2``. Ignored by the MVP.
    prob
        Probability of the central band (0.9: 5% to 95% quantiles).
    model, num_draws, key
        See :func:`posterior_draws`.
    criterion, num_angles, num_samples
        Passed to :func:`~psyphy_numpyro.threshold_contour`.
    mc_key
        Key of the full WPPM's fixed Monte Carlo draws (``key`` there).

    Returns
    -------
    ThresholdBands
        A direction where a draw never reaches the criterion inside the
        domain counts as infinitely far; a band bound is then ``inf``, and
        ``band.reached`` says for what fraction of draws.

    Examples
    --------
    >>> import jax, jax.numpy as jnp
    >>> from psyphy_numpyro import WPPM, Prior
    >>> model = WPPM(input_dim=2, prior=Prior.default(2))
    >>> draws = {"log_diag": jnp.log(jnp.array([[0.5, 0.1], [0.6, 0.1], [0.7, 0.1]]))}
    >>> tb = threshold_bands(draws, model=model, num_angles=4)
    >>> tb.band.median.shape, tb.ellipse.cov.shape
    ((4,), (2, 2))
    """
    check.open_unit_interval("prob", prob)
    model, draws = posterior_draws(posterior, model=model, num_draws=num_draws, key=key)
    contours = threshold_contour(model, draws, ref=ref, criterion=criterion,
                                 num_angles=num_angles, mc_key=mc_key,
                                 num_samples=num_samples)
    band = contour_band(contours, prob)
    refs = contours.ref
    ellipse = fit_ellipse(_median_contour(band, contours.criterion, refs))
    return ThresholdBands(refs, band, ellipse, contours, contours.criterion)


# -- covariance field -----------------------------------------------------------------
def covariance_band(
    posterior: Any,
    points: Any,
    prob: float = 0.9,
    *,
    model: Any = None,
    num_draws: int | None = None,
    key: jax.Array | None = None,
) -> CovarianceBand:
    r"""Pointwise credible bands of :math:`\Sigma(x)` and its ellipse at ``points``.

    Parameters
    ----------
    posterior
        A posterior or a stack of draws with ``model=`` (see
        :func:`posterior_draws`).
    points
        Stimuli, shape ``(..., input_dim)`` (e.g. ``reference_grid(5)``).
    prob
        Probability of the central intervals.
    model, num_draws, key
        See :func:`posterior_draws`.

    Returns
    -------
    CovarianceBand

    Examples
    --------
    >>> import jax.numpy as jnp
    >>> from psyphy_numpyro import WPPM, Prior
    >>> model = WPPM(input_dim=2, prior=Prior.default(2))
    >>> draws = {"log_diag": jnp.log(jnp.array([[0.04, 0.01], [0.09, 0.01]]))}
    >>> cb = covariance_band(draws, [[0.0, 0.0]], model=model, prob=0.5)
    >>> cb.semi_axes.median.round(3).tolist()
    [[0.25, 0.1]]
    """
    check.open_unit_interval("prob", prob)
    model, draws = posterior_draws(posterior, model=model, num_draws=num_draws, key=key)
    covs = covariance_field(model, draws, points)
    points = np.asarray(points, dtype=float)
    eigval, eigvec = np.linalg.eigh(covs)  # ascending
    semi = np.sqrt(np.clip(eigval[..., ::-1], 0.0, None))
    orientation = None
    if model.input_dim == 2:
        major = eigvec[..., :, -1]
        theta = np.mod(np.arctan2(major[..., 1], major[..., 0]), np.pi)
        # circular median of axial angles: centre on the mean of the doubled angle
        centre = 0.5 * np.angle(np.mean(np.exp(2j * theta), axis=0))
        wrapped = centre + np.mod(theta - centre + 0.5 * np.pi, np.pi) - 0.5 * np.pi
        orientation = central_interval(wrapped, prob)
    return CovarianceBand(points, central_interval(covs, prob), central_interval(semi, prob),
                          orientation, covs, float(prob))


def ellipse_radius(covs: Any, angles: Any) -> np.ndarray:
    r"""Distance from the centre to the ellipse :math:`x^T \Sigma^{-1} x = 1`.

    Parameters
    ----------
    covs
        Covariances, shape ``(..., 2, 2)``.
    angles
        Directions in radians, shape ``(num_angles,)``.

    Returns
    -------
    np.ndarray
        Shape ``(..., num_angles)``: :math:`1 / \sqrt{u^T \Sigma^{-1} u}`.
    """
    covs = jnp.asarray(covs)
    angles = jnp.asarray(angles, dtype=covs.dtype)
    u = jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    u = jnp.broadcast_to(u, covs.shape[:-2] + u.shape)
    return np.asarray(1.0 / mahalanobis(covs[..., None, :, :], u, 0.0))


# -- psychometric functions -----------------------------------------------------------
def psychometric_band(
    posterior: Any,
    ref: Any,
    direction: Any,
    distances: Any,
    prob: float = 0.9,
    *,
    model: Any = None,
    data: Any = None,
    bins: Any = 8,
    angle_tol: float = 0.05,
    ref_tol: float = 1e-6,
    num_draws: int | None = None,
    key: jax.Array | None = None,
    mc_key: jax.Array | None = None,
    num_samples: int | None = None,
) -> PsychometricBand:
    """Posterior-predictive p(correct) along ``direction`` from ``ref``, with a band.

    Evaluates p(correct) of the pairs ``(ref, ref + t u)`` for every
    posterior draw; the mean over draws is the posterior-predictive
    probability of a correct answer, and the interval shows the parameter
    uncertainty. The full WPPM's Monte Carlo estimators use one fixed set of
    standard draws for every evaluation (as :func:`threshold_contour` does).

    Parameters
    ----------
    posterior, model, num_draws, key
        A posterior, or a stack of draws with ``model=``; see
        :func:`posterior_draws`.
    ref
        Reference stimulus, shape ``(input_dim,)``.
    direction
        Direction, shape ``(input_dim,)`` (normalised here), or in 2-D an
        angle in radians.
    distances
        Distances ``t >= 0`` from the reference, shape ``(num_distances,)``.
    prob
        Probability of the central band.
    data
        Optional trials (e.g. held-out data): those at ``ref`` whose
        comparison lies along ``direction`` are binned by distance into
        :attr:`PsychometricBand.observed` (see :func:`binned_proportions`).
    bins, angle_tol, ref_tol
        Passed to :func:`binned_proportions`.
    mc_key, num_samples
        Full WPPM: key and size of the fixed Monte Carlo draws (default
        ``PRNGKey(task.config.default_key_seed)`` and
        ``task.config.num_samples``).

    Returns
    -------
    PsychometricBand

    Examples
    --------
    Two draws of the MVP; at distance 0 both give the oddity mapping's floor, 2/3:

    >>> import jax.numpy as jnp
    >>> from psyphy_numpyro import WPPM
    >>> pb = psychometric_band({"log_diag": jnp.zeros((2, 2))}, [0.0, 0.0], 0.0,
    ...                        [0.0, 0.1, 0.2], model=WPPM())
    >>> pb.mean.shape, round(float(pb.mean[0]), 4)
    ((3,), 0.6667)
    """
    check.open_unit_interval("prob", prob)
    model, draws = posterior_draws(posterior, model=model, num_draws=num_draws, key=key)
    ref, u = _ref_and_direction(model, ref, direction)
    distances = check.finite_array("distances", distances, ndim=1)
    if distances.size == 0 or np.any(distances < 0):
        raise ValueError("distances must be a non-empty vector of values >= 0.")
    probe = ref[None] + distances[:, None] * u[None]
    refs = np.broadcast_to(ref, probe.shape)
    model.check_stimuli(refs, probe)
    observed = None
    if data is not None:
        observed = binned_proportions(data, ref, u, model=model, bins=bins, prob=prob,
                                      angle_tol=angle_tol, ref_tol=ref_tol)
    mc_samples = None
    if model.needs_draws:
        mc_key = default_mc_key(model, mc_key)
        if num_samples is not None:
            num_samples = check.positive_int("num_samples", num_samples)
        mc_samples = model.draw_mc_samples(mc_key, None, num_samples)
    dtype = jnp.asarray(draws[model.prior.site]).dtype
    p = np.asarray(p_correct_draws(model, draws, jnp.asarray(refs, dtype),
                                    jnp.asarray(probe, dtype), mc_samples))
    return PsychometricBand(ref, u, distances, p.mean(axis=0), central_interval(p, prob), p,
                            float(prob), observed)


def _ref_and_direction(model: Any, ref: Any, direction: Any) -> tuple[np.ndarray,
                                                                       np.ndarray]:
    d = model.input_dim
    ref = check.finite_array("ref", ref)
    if ref.shape != (d,):
        raise ValueError(f"ref must have shape ({d},), got {ref.shape}.")
    u = check.finite_array("direction", direction)
    if u.ndim == 0:
        if d != 2:
            raise ValueError(
                "direction as an angle needs input_dim=2; pass a vector of shape "
                f"({d},)."
            )
        u = np.array([np.cos(u), np.sin(u)])
    if u.shape != (d,):
        raise ValueError(
            f"direction must have shape ({d},) or be an angle, got {u.shape}."
        )
    norm = np.linalg.norm(u)
    if norm == 0:
        raise ValueError("direction must not be the zero vector.")
    return ref, u / norm


def binned_proportions(
    data: Any,
    ref: Any,
    direction: Any,
    *,
    model: Any,
    bins: Any = 8,
    prob: float = 0.9,
    angle_tol: float = 0.05,
    ref_tol: float = 1e-6,
) -> BinnedProportions:
    """Proportion correct of the trials along a direction, binned by distance.

    A trial counts when its reference is within ``ref_tol`` of ``ref``
    (largest coordinate difference) and its comparison lies within
    ``angle_tol`` radians of ``direction``; its distance is the length of
    comparison - reference.

    Parameters
    ----------
    data
        Trials in any form ``model.trials`` accepts.
    ref, direction
        As in :func:`psychometric_band`.
    model
        The model (checks the data's dimension).
    bins
        Number of equal-width bins over the matching distances, or the bin
        edges (``numpy.histogram``'s ``bins``). Empty bins are left out.
    prob
        Probability of each bin's interval.
    angle_tol, ref_tol
        Tolerances of the selection.

    Returns
    -------
    BinnedProportions

    Raises
    ------
    ValueError
        If no trial matches.
    """
    check.open_unit_interval("prob", prob)
    angle_tol = check.non_negative("angle_tol", angle_tol)
    ref_tol = check.non_negative("ref_tol", ref_tol)
    ref, u = _ref_and_direction(model, ref, direction)
    trials = model.trials(data)
    delta = trials.probe - trials.ref
    dist = np.linalg.norm(delta, axis=-1)
    at_ref = np.max(np.abs(trials.ref - ref), axis=-1) <= ref_tol
    cos = (delta @ u) / np.where(dist > 0, dist, 1.0)
    along = (dist == 0) | (np.arccos(np.clip(cos, -1.0, 1.0)) <= angle_tol)
    keep = at_ref & along
    if not np.any(keep):
        raise ValueError(
            f"no trial of data has its reference at {ref.tolist()} (within "
            f"ref_tol={ref_tol}) and its comparison along {u.tolist()} (within "
            f"angle_tol={angle_tol} rad)."
        )
    dist, y = dist[keep], trials.responses[keep].astype(float)
    edges = np.histogram_bin_edges(dist, bins=bins)
    which = np.clip(np.searchsorted(edges, dist, side="right") - 1, 0, len(edges) - 2)
    outside = (dist < edges[0]) | (dist > edges[-1])
    if np.any(outside):
        raise ValueError(
            f"{int(outside.sum())} matching trial(s) fall outside the bin edges "
            f"[{edges[0]:.4g}, {edges[-1]:.4g}]; widen bins."
        )
    count = np.bincount(which, minlength=len(edges) - 1)
    hits = np.bincount(which, weights=y, minlength=len(edges) - 1)
    total = np.bincount(which, weights=dist, minlength=len(edges) - 1)
    full = count > 0
    count, hits, total = count[full], hits[full], total[full]
    from scipy.stats import beta

    tail = 0.5 * (1.0 - prob)
    lower = beta.ppf(tail, hits + 0.5, count - hits + 0.5)
    upper = beta.ppf(1.0 - tail, hits + 0.5, count - hits + 0.5)
    return BinnedProportions(total / count, hits / count, count, lower, upper)
