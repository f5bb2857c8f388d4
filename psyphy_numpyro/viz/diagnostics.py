"""Fitting diagnostics: the learning curve of a MAP fit."""

from __future__ import annotations

from typing import Any

from psyphy_numpyro.viz.style import axes


def plot_learning_curve(steps: Any, losses: Any, *, ax: Any = None):
    """Loss (negative log posterior) against step."""
    ax = axes(ax, figsize=(6, 3.5))
    ax.plot(steps, losses, lw=1.2)
    ax.set_xlabel("step")
    ax.set_ylabel("negative log posterior")
    ax.set_title("MAP learning curve")
    return ax
