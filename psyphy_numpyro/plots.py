"""Matplotlib figures: trials with threshold contours and bands, learning curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Trials
from .readouts import Contour, ContourBand

__all__ = ["plot_thresholds", "plot_learning_curve"]


def plot_thresholds(
    trials: Trials,
    contours: dict[str, Contour],
    band: ContourBand | None = None,
    *,
    ref: Any = None,
    ax: Any = None,
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

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ref = np.asarray(trials.ref[0] if ref is None else ref)
    y = np.asarray(trials.responses).astype(bool)
    ax.scatter(*trials.probe[y].T, s=8, c="tab:green", alpha=0.5, label="correct")
    ax.scatter(*trials.probe[~y].T, s=8, c="tab:red", alpha=0.5, label="wrong")
    if band is not None:
        a = np.append(band.angles, band.angles[0])
        lo, hi = (np.append(r, r[0]) for r in (band.lower, band.upper))
        xs = np.concatenate([ref[0] + hi * np.cos(a), ref[0] + lo[::-1] * np.cos(a[::-1])])
        ys = np.concatenate([ref[1] + hi * np.sin(a), ref[1] + lo[::-1] * np.sin(a[::-1])])
        ax.fill(xs, ys, color="tab:blue", alpha=0.25, lw=0,
                label=f"{band.prob:.0%} credible band")
    styles = ["k-", "k:", "b--", "m-.", "c-"]
    for (label, contour), style in zip(contours.items(), styles):
        ax.plot(*contour.xy(ref), style, lw=1.6, label=label)
    ax.plot(*ref, "k+", ms=10)
    ax.set_aspect("equal")
    ax.set_xlabel("stimulus dim 0")
    ax.set_ylabel("stimulus dim 1")
    ax.legend(loc="upper right", fontsize="small")
    return ax


def plot_learning_curve(steps: Any, losses: Any, *, ax: Any = None):
    """Loss (negative log posterior) against step."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    ax.plot(steps, losses, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("negative log posterior")
    ax.set_title("MAP learning curve")
    return ax
