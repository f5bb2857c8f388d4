"""Figures of goodness of fit: binned checks, residuals, held-out psychometric functions.

Each function draws one result of :mod:`psyphy_numpyro.core.fit_checks` on a
matplotlib axes (a new figure when ``ax`` is None) and returns the axes, or
for :func:`plot_held_out` the array of axes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.bands import PsychometricBand
from psyphy_numpyro.core.fit_checks import BinnedCheck, Residuals, residual_trend
from psyphy_numpyro.viz.bands import plot_psychometric_band
from psyphy_numpyro.viz.style import axes

__all__ = ["plot_binned_check", "plot_held_out", "plot_residuals"]

#: What :func:`plot_residuals` can put on its x axis, and the axis label.
RESIDUAL_AXES = {
    "order": "trial (order in the data)",
    "distance": "distance of the comparison from the reference",
    "mahalanobis": "Mahalanobis distance (posterior median)",
}


def plot_binned_check(result: BinnedCheck, *, ax: Any = None, color: str = "tab:blue",
                      legend_loc: str = "upper left"):
    """Observed proportion correct against predicted p(correct), per bin.

    The band of each bin (vertical bar) is where replicated data put the
    bin's proportion; the diagonal is perfect agreement.

    Parameters
    ----------
    result
        From :func:`~psyphy_numpyro.core.fit_checks.binned_check`.
    ax, color, legend_loc
        Axes, colour of the bands, legend position.
    """
    check.instance("result", result, BinnedCheck)
    ax = axes(ax, figsize=(5, 5))
    lo = min(float(result.band.lower.min()), float(result.predicted.min()),
             float(result.observed.min()))
    ax.plot([lo, 1.0], [lo, 1.0], color="0.5", ls=":", lw=1, label="observed = predicted")
    err = np.maximum(np.stack([result.predicted - result.band.lower,
                               result.band.upper - result.predicted]), 0.0)
    ax.errorbar(result.predicted, result.predicted, yerr=err, fmt="none", color=color,
                lw=6, alpha=0.35, label=f"{result.prob:.0%} band of replicated data")
    ax.plot(result.predicted, result.observed, "o", color="k", ms=4,
            label=f"observed ({int(result.count.sum())} trials, "
                  f"{len(result.count)} bins)")
    ax.set_xlabel("predicted p(correct)")
    ax.set_ylabel("proportion correct")
    ax.set_title("Posterior predictive check, binned by predicted p")
    ax.legend(loc=legend_loc, fontsize="small")
    return ax


def plot_residuals(result: Residuals, against: str = "order", *, bins: Any = 10,
                   ax: Any = None, color: str = "tab:blue", legend_loc: str = "best"):
    """Deviance residuals against trial order or distance, with their binned mean.

    Parameters
    ----------
    result
        From :func:`~psyphy_numpyro.core.fit_checks.deviance_residuals`.
    against
        ``"order"`` (learning, fatigue), ``"distance"`` or ``"mahalanobis"``.
    bins
        Bins of the mean (:func:`~psyphy_numpyro.core.fit_checks.residual_trend`).
    ax, color, legend_loc
        Axes, colour of the mean, legend position.
    """
    check.instance("result", result, Residuals)
    if against not in RESIDUAL_AXES:
        raise ValueError(f"against must be one of {tuple(RESIDUAL_AXES)}, got {against!r}.")
    x = getattr(result, against)
    trend = residual_trend(x, result.residual, bins)
    ax = axes(ax, figsize=(6, 4))
    ax.plot(x, result.residual, ".", color="0.6", ms=2, alpha=0.5,
            label=f"trials ({x.size})")
    ax.axhline(0.0, color="0.3", lw=0.8)
    ax.errorbar(trend.x, trend.mean, yerr=2.0 * trend.stderr, fmt="o-", color=color, ms=4,
                capsize=2, label="binned mean (± 2 s.e.)")
    ax.set_xlabel(RESIDUAL_AXES[against])
    ax.set_ylabel("deviance residual")
    ax.set_title(f"Deviance residuals against {against}")
    ax.legend(loc=legend_loc, fontsize="small")
    return ax


def plot_held_out(bands: list[PsychometricBand], *, criterion: float | None = None,
                  ncols: int = 3, axs: Any = None):
    """One panel per held-out psychometric function (predicted band, observed bins).

    Parameters
    ----------
    bands
        From :func:`~psyphy_numpyro.core.fit_checks.held_out_bands`.
    criterion
        Optional horizontal line (e.g. the threshold criterion).
    ncols
        Panels per row of a new figure.
    axs
        Existing axes, one per band.

    Returns
    -------
    numpy.ndarray
        The axes, one per band.
    """
    if not isinstance(bands, (list, tuple)) or not bands:
        raise TypeError("bands must be a non-empty list of PsychometricBand "
                        "(from held_out_bands).")
    for band in bands:
        check.instance("bands[i]", band, PsychometricBand)
    ncols = min(check.positive_int("ncols", ncols), len(bands))
    if axs is None:
        import matplotlib.pyplot as plt

        nrows = -(-len(bands) // ncols)
        _, axs = plt.subplots(nrows, ncols, figsize=(5 * ncols, 3.6 * nrows),
                              squeeze=False)
    axs = np.asarray(axs).ravel()
    if axs.size < len(bands):
        raise ValueError(f"axs holds {axs.size} axes for {len(bands)} bands.")
    for band, ax in zip(bands, axs):
        plot_psychometric_band(band, criterion=criterion, ax=ax)
    for ax in axs[len(bands):]:
        ax.set_visible(False)
    return axs[: len(bands)]
