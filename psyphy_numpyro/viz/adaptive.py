"""Figures of adaptive experiments: how fast each placement strategy learns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from psyphy_numpyro.viz.style import axes


def plot_threshold_error(runs: Sequence[Any], *, ax: Any = None, log: bool | None = None):
    """Threshold error of the fit against the number of answers, one line per run.

    Parameters
    ----------
    runs
        Results of
        :func:`~psyphy_numpyro.experiment.simulate.run_simulated_session` (or
        anything with ``strategy``, ``num_trials`` and ``error``), e.g. one
        per placement strategy; ``strategy`` labels the line.
    ax
        Axes to draw on; a new figure when None.
    log
        Logarithmic error axis. None: logarithmic when every finite error is
        positive.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> run = SimpleNamespace(strategy="bald", num_trials=[100, 200], error=[0.3, 0.2])
    >>> ax = plot_threshold_error([run])
    >>> [line.get_label() for line in ax.lines], ax.get_yscale()
    (['bald'], 'log')
    """
    runs = list(runs)
    if not runs:
        raise ValueError("runs must hold at least one run, got none.")
    curves = []
    for i, run in enumerate(runs):
        missing = [a for a in ("strategy", "num_trials", "error") if not hasattr(run, a)]
        if missing:
            raise TypeError(f"runs[{i}] must have strategy, num_trials and error "
                            f"(a SimulatedRun); {type(run).__name__} lacks {missing}.")
        n = np.asarray(run.num_trials, dtype=float)
        err = np.asarray(run.error, dtype=float)
        if n.ndim != 1 or n.shape != err.shape:
            raise ValueError(f"runs[{i}] ({run.strategy!r}): num_trials and error must "
                             f"be vectors of one length, got shapes {n.shape} and "
                             f"{err.shape}.")
        curves.append((str(run.strategy), n, err))
    finite = np.concatenate([err[np.isfinite(err)] for _, _, err in curves])
    if log is None:
        log = finite.size > 0 and bool(np.all(finite > 0))
    ax = axes(ax, figsize=(6, 4))
    for label, n, err in curves:
        ax.plot(n, err, "o-", ms=3, lw=1.4, label=label)
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("answers (trials)")
    ax.set_ylabel("threshold error (mean |log fitted / true|)")
    ax.set_title("Threshold error of the fit against the truth")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(title="strategy", fontsize="small")
    return ax
