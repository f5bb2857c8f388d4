"""Figures of credible bands: threshold fields, covariance fields, psychometric curves.

Each function draws one result of :mod:`psyphy_numpyro.core.bands` on a matplotlib
axes (a new figure when ``ax`` is None) and returns the axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.bands import (
    CovarianceBand,
    PsychometricBand,
    ThresholdBands,
    ellipse_radius,
)
from psyphy_numpyro.core.intervals import central_interval
from psyphy_numpyro.core.readouts import Contour
from psyphy_numpyro.viz.style import (
    STYLES,
    axes,
    closed_contour,
    finish_stimulus_axes,
    ring,
)

_BAND = {"color": "tab:blue", "alpha": 0.25}


def _centres(refs: Any) -> np.ndarray:
    refs = np.atleast_2d(check.finite_array("ref", refs))
    if refs.ndim != 2 or refs.shape[1] != 2:
        raise ValueError(f"references must have shape (num_refs, 2), got {refs.shape}.")
    return refs


def plot_threshold_bands(
    bands: ThresholdBands,
    contours: dict[str, Contour] | None = None,
    *,
    ref: Any = None,
    scale: float = 1.0,
    ax: Any = None,
    legend_loc: str = "upper right",
):
    """Field of threshold ellipses: the posterior median with its pointwise band.

    At each reference the shaded ring is the band of the threshold in each
    direction, and the blue line the ellipse fitted to the median contour.
    A reference whose band has no upper end in some direction (too many draws
    never reach the criterion inside the domain) gets no ring; the legend
    counts them. Directions where a comparison contour is unreached are gaps.

    Parameters
    ----------
    bands
        From :func:`~psyphy_numpyro.core.bands.threshold_bands`.
    contours
        Other contours at the same references to compare, by label (e.g. the
        simulated truth, ``threshold_contour(model, truth, ref=bands.refs)``);
        drawn in black styles.
    ref
        Centre for the MVP's contour (default (0, 0)); ignored when the bands
        have their own references.
    scale
        Magnification of contours and bands around their references.
    ax
        Axes to draw on.
    legend_loc
        matplotlib's ``loc`` of the legend.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check.instance("bands", bands, ThresholdBands)
    scale = check.positive("scale", scale)
    contours = {} if contours is None else dict(contours)
    if len(contours) > len(STYLES):
        raise ValueError(f"at most {len(STYLES)} contours, got {len(contours)}.")
    refs = _centres((0.0, 0.0) if ref is None else ref) if bands.refs is None \
        else _centres(bands.refs)
    ax = axes(ax)
    band, n = bands.band, refs.shape[0]
    lo = np.broadcast_to(band.lower, (n,) + band.angles.shape)
    hi = np.broadcast_to(band.upper, (n,) + band.angles.shape)
    bounded = np.all(np.isfinite(hi), axis=-1)
    text = f"{band.prob:.0%} credible band"
    if not np.all(bounded):
        text += f" ({int((~bounded).sum())} refs unbounded, not drawn)"
    for n_drawn, i in enumerate(np.flatnonzero(bounded)):
        ring(ax, refs[i], band.angles, scale * lo[i], scale * hi[i],
              label=text if n_drawn == 0 else None, **_BAND)
    if not np.any(bounded):  # keep the band, and why it is missing, in the legend
        ax.fill([], [], label=text, **_BAND)
    ell = np.broadcast_to(bands.ellipse.radii, (n,) + band.angles.shape)
    for i in range(n):
        ax.plot(*closed_contour(refs[i], band.angles, scale * ell[i]), color="tab:blue",
                lw=1.4, label="posterior median (ellipse)" if i == 0 else None)
    for (label, contour), style in zip(contours.items(), STYLES):
        if not isinstance(contour, Contour):
            raise TypeError(
                f"contours[{label!r}] must be a Contour (threshold_contour(...)), "
                f"got {type(contour).__name__}."
            )
        radii = np.asarray(contour.radii)
        if radii.shape not in (contour.angles.shape, (n,) + contour.angles.shape):
            raise ValueError(
                f"contours[{label!r}] must hold one contour per reference, radii of "
                f"shape ({n}, {contour.angles.size}); got {radii.shape}."
            )
        radii = np.broadcast_to(radii, (n,) + contour.angles.shape)
        missed = int(np.sum(~np.isfinite(radii)))
        text = label if missed == 0 else f"{label} ({missed} directions unreached)"
        for i in range(n):  # unreached directions (inf) are left as gaps
            ax.plot(*closed_contour(refs[i], contour.angles, scale * radii[i]), style, lw=1.2,
                    label=text if i == 0 else None)
    ax.scatter(refs[:, 0], refs[:, 1], marker="+", c="k", s=30, zorder=3)
    return finish_stimulus_axes(ax, f"Thresholds at p(correct) = {bands.criterion:.3f}",
                                scale=scale, legend_loc=legend_loc)


def plot_covariance_band(
    band: CovarianceBand,
    truth: Any = None,
    *,
    scale: float = 1.0,
    num_angles: int = 64,
    ax: Any = None,
    legend_loc: str = "upper right",
):
    r"""Field of noise ellipses :math:`x^T \Sigma^{-1} x = 1` with pointwise bands.

    The shaded ring at each point is the central band, over posterior draws,
    of the ellipse's radius in each direction; the blue line is the median
    radius. Needs a 2-D model.

    Parameters
    ----------
    band
        From :func:`~psyphy_numpyro.core.bands.covariance_band`, points of shape
        ``(num_points, 2)``.
    truth
        Optional covariances at the same points, ``(num_points, 2, 2)`` (e.g.
        ``covariance_field(model, truth, band.points)``), drawn in black.
    scale
        Magnification of the ellipses around their points.
    num_angles
        Directions per ellipse.
    ax, legend_loc
        Axes and legend position.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check.instance("band", band, CovarianceBand)
    scale = check.positive("scale", scale)
    num_angles = check.positive_int("num_angles", num_angles, minimum=3)
    points = np.asarray(band.points)
    if points.ndim != 2 or points.shape[1] != 2:
        raise ValueError(
            f"plot_covariance_band needs 2-D points of shape (num_points, 2), got "
            f"{points.shape}."
        )
    n = points.shape[0]
    angles = np.linspace(0.0, 2 * np.pi, num_angles, endpoint=False)
    radii = ellipse_radius(band.draws, angles)  # (draws, n, A)
    lo, med, hi = central_interval(radii, band.prob)
    true_r = None
    if truth is not None:
        truth = check.finite_array("truth", truth)
        if truth.shape != (n, 2, 2):
            raise ValueError(f"truth must have shape ({n}, 2, 2), got {truth.shape}.")
        true_r = ellipse_radius(truth, angles)
    ax = axes(ax)
    for i in range(n):
        ring(ax, points[i], angles, scale * lo[i], scale * hi[i],
              label=f"{band.prob:.0%} credible band" if i == 0 else None, **_BAND)
        ax.plot(*closed_contour(points[i], angles, scale * med[i]), color="tab:blue", lw=1.4,
                label="posterior median" if i == 0 else None)
        if true_r is not None:
            ax.plot(*closed_contour(points[i], angles, scale * true_r[i]), "k-", lw=1.2,
                    label="truth" if i == 0 else None)
    ax.scatter(points[:, 0], points[:, 1], marker="+", c="k", s=30, zorder=3)
    return finish_stimulus_axes(ax, r"Noise ellipses $x^T \Sigma^{-1} x = 1$",
                                scale=scale, legend_loc=legend_loc)


def plot_psychometric_band(
    band: PsychometricBand,
    *,
    criterion: float | None = None,
    label: str = "posterior predictive",
    color: str = "tab:blue",
    ax: Any = None,
    legend_loc: str = "lower right",
):
    """Psychometric function with its band and, if present, the observed proportions.

    Parameters
    ----------
    band
        From :func:`~psyphy_numpyro.core.bands.psychometric_band`.
    criterion
        Draw a horizontal line at this p(correct) (e.g. the threshold's).
    label, color
        Label and colour of the curve and band (call again with another
        ``ax=`` to overlay several posteriors).
    ax, legend_loc
        Axes and legend position.

    Returns
    -------
    matplotlib.axes.Axes
    """
    check.instance("band", band, PsychometricBand)
    ax = axes(ax, figsize=(6, 4))
    t = band.distances
    ax.fill_between(t, band.band.lower, band.band.upper, color=color, alpha=0.25, lw=0,
                    label=f"{band.prob:.0%} credible band")
    ax.plot(t, band.mean, color=color, lw=1.6, label=label)
    obs = band.observed
    if obs is not None:
        # interval ends can sit a rounding error inside the proportion at 0 or 1
        err = np.maximum(np.stack([obs.proportion - obs.lower, obs.upper - obs.proportion]), 0.0)
        ax.errorbar(obs.distance, obs.proportion, yerr=err, fmt="o", color="k", ms=4,
                    capsize=2, label=f"observed ({int(obs.count.sum())} trials)")
    if criterion is not None:
        check.open_unit_interval("criterion", criterion)
        ax.axhline(criterion, color="0.5", ls=":", lw=1, label="criterion")
    ax.set_xlabel("distance from the reference")
    ax.set_ylabel("p(correct)")
    ax.set_ylim(0.0, 1.02)
    angle = np.degrees(np.arctan2(band.direction[1], band.direction[0])) \
        if band.direction.shape == (2,) else None
    where = np.round(band.ref, 3).tolist()
    ax.set_title(f"Psychometric function at {where}"
                 + (f", direction {angle:.0f} deg" if angle is not None else ""))
    ax.legend(loc=legend_loc, fontsize="small")
    return ax
