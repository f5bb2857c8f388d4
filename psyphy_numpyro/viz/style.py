"""The shared look of the figures: new axes, closed contours, finished stimulus axes."""

from __future__ import annotations

from typing import Any

import numpy as np

STYLES = ["k-", "k:", "b--", "m-.", "c-"]
"""Line styles of labelled contours, in order."""


def axes(ax: Any = None, figsize: tuple[float, float] = (6, 6)) -> Any:
    """``ax``, or the axes of a new figure of ``figsize``."""
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=figsize)
    return ax


def closed_contour(ref: Any, angles: np.ndarray, r: np.ndarray) -> tuple:
    """``(x, y)`` of the contour ``ref + r(angle) u(angle)``, closed on its first point."""
    a = np.append(angles, angles[0])
    r = np.append(r, r[0])
    with np.errstate(invalid="ignore"):  # an unreached direction (inf) plots as a gap
        return ref[0] + r * np.cos(a), ref[1] + r * np.sin(a)


def ring(ax: Any, ref: Any, angles: np.ndarray, lo: np.ndarray,
         hi: np.ndarray, **style: Any) -> None:
    """Shade the region between two closed contours around ``ref``."""
    x_hi, y_hi = closed_contour(ref, angles, hi)
    x_lo, y_lo = closed_contour(ref, angles, lo)
    ax.fill(np.concatenate([x_hi, x_lo[::-1]]), np.concatenate([y_hi, y_lo[::-1]]),
            lw=0, **style)


def finish_stimulus_axes(ax: Any, title: str | None = None, *, scale: float = 1.0,
                         legend_loc: str | None = "best") -> Any:
    """Equal aspect, labelled stimulus axes, the title (with the magnification), a legend."""
    if title is not None:
        ax.set_title(title + (f" (x{scale:g})" if scale != 1.0 else ""))
    ax.set_aspect("equal")
    label_stimulus_axes(ax)
    if legend_loc is not None:
        ax.legend(loc=legend_loc, fontsize="small")
    return ax


def label_stimulus_axes(ax: Any) -> Any:
    """Name the axes as the stimulus space's dimensions 0 and 1."""
    ax.set_xlabel("stimulus dim 0")
    ax.set_ylabel("stimulus dim 1")
    return ax
