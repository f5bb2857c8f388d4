"""Threshold contours of a fit on the stimulus plane, with optional truth."""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core.readouts import Contour, ContourBand
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.viz.style import STYLES, axes, finish_stimulus_axes, ring


def plot_thresholds(
    trials: Trials,
    contours: dict[str, Contour],
    band: ContourBand | None = None,
    *,
    ref: Any = None,
    ax: Any = None,
    legend_loc: str = "upper right",
):
    """Trials (coloured by answer) with threshold contours and a credible band.

    Parameters
    ----------
    trials
        The data; probes are drawn relative to their references' position.
    contours
        Label -> contour, e.g. ``{"true": ..., "MAP": ...}``.
    band
        Pointwise credible band of the contour, drawn as a shaded ring.
    ref
        Centre of the contours; the first trial's reference by default.
    ax
        Axes to draw on; a new figure when None.
    legend_loc
        Where the legend goes (matplotlib's ``loc``).

    Returns
    -------
    matplotlib.axes.Axes
    """

    ax = axes(ax)
    ref = np.asarray(trials.ref[0] if ref is None else ref)
    y = np.asarray(trials.responses).astype(bool)
    ax.scatter(*trials.probe[y].T, s=8, c="tab:green", alpha=0.5, label="correct")
    ax.scatter(*trials.probe[~y].T, s=8, c="tab:red", alpha=0.5, label="wrong")
    if band is not None:
        ring(ax, ref, band.angles, band.lower, band.upper, color="tab:blue",
              alpha=0.25, label=f"{band.prob:.0%} credible band")
    for (label, contour), style in zip(contours.items(), STYLES):
        ax.plot(*contour.xy(ref), style, lw=1.6, label=label)
    ax.plot(*ref, "k+", ms=10)
    return finish_stimulus_axes(ax, legend_loc=legend_loc)
