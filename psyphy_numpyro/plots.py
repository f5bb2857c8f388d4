"""Matplotlib figures: threshold contours, credible bands, fields, learning curves."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validation as check
from .data import Trials
from .readouts import Contour, ContourBand, _is_stack, threshold_contour

__all__ = ["plot_ellipse_field", "plot_learning_curve", "plot_thresholds"]

_STYLES = ["k-", "k:", "b--", "m-.", "c-"]


def _ring(ax: Any, ref: Any, angles: np.ndarray, lo: np.ndarray,
          hi: np.ndarray, **style: Any) -> None:
    """Shade the region between two closed contours around ``ref``."""
    a = np.append(angles, angles[0])
    lo, hi = np.append(lo, lo[0]), np.append(hi, hi[0])
    back = a[::-1]
    xs = np.concatenate([ref[0] + hi * np.cos(a), ref[0] + lo[::-1] * np.cos(back)])
    ys = np.concatenate([ref[1] + hi * np.sin(a), ref[1] + lo[::-1] * np.sin(back)])
    ax.fill(xs, ys, lw=0, **style)


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
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    ref = np.asarray(trials.ref[0] if ref is None else ref)
    y = np.asarray(trials.responses).astype(bool)
    ax.scatter(*trials.probe[y].T, s=8, c="tab:green", alpha=0.5, label="correct")
    ax.scatter(*trials.probe[~y].T, s=8, c="tab:red", alpha=0.5, label="wrong")
    if band is not None:
        _ring(ax, ref, band.angles, band.lower, band.upper, color="tab:blue",
              alpha=0.25, label=f"{band.prob:.0%} credible band")
    for (label, contour), style in zip(contours.items(), _STYLES):
        ax.plot(*contour.xy(ref), style, lw=1.6, label=label)
    ax.plot(*ref, "k+", ms=10)
    ax.set_aspect("equal")
    ax.set_xlabel("stimulus dim 0")
    ax.set_ylabel("stimulus dim 1")
    ax.legend(loc=legend_loc, fontsize="small")
    return ax


def _labelled(model: Any, params: dict) -> dict[str, dict]:
    """``{label: params}`` from one params dict or a dict of labelled ones."""
    site = model.prior.site
    if site in params and not isinstance(params[site], dict):
        return {"model": params}
    if not params or not all(isinstance(p, dict) for p in params.values()):
        raise TypeError(
            f"params must be one parameter dict (with {site!r}) or a dict of them "
            f"by label, e.g. {{'truth': W_true, 'MAP': W_map}}; got keys "
            f"{sorted(params)}."
        )
    return dict(params)


def plot_ellipse_field(
    model: Any,
    params: dict,
    refs: Any,
    *,
    criterion: float | None = None,
    ax: Any = None,
    band: ContourBand | None = None,
    scale: float = 1.0,
    num_angles: int = 64,
    key: Any = None,
    legend_loc: str = "upper right",
):
    """Threshold contours at a set of references, for one or several fits.

    The contour is the closed form for the MVP and the numerical one of
    :func:`~psyphy_numpyro.threshold_contour` for the full WPPM. Directions
    whose p(correct) never reaches the criterion inside the domain are left
    as gaps, and counted in the legend.

    Parameters
    ----------
    model
        A WPPM with ``input_dim=2``.
    params
        One parameter set, or labelled sets drawn in different styles, e.g.
        ``{"truth": W_true, "MAP": W_map}`` (at most 5).
    refs
        References, shape ``(num_refs, 2)`` (e.g. :func:`reference_grid`).
    criterion
        p(correct) at threshold (the model's default when None).
    ax
        Axes to draw on; a new figure when None.
    band
        Pointwise credible band at the same references, from
        :func:`~psyphy_numpyro.contour_band` of a stack of draws (``lower``
        and ``upper`` of shape ``(num_refs, num_angles)``, or
        ``(num_angles,)`` for the MVP); drawn as shaded rings.
    scale
        Contours and band are magnified by this factor around their
        references, for visibility; shown in the title.
    num_angles
        Directions per contour.
    key
        Key of the full WPPM's fixed Monte Carlo draws.
    legend_loc
        Where the legend goes (matplotlib's ``loc``).

    Returns
    -------
    matplotlib.axes.Axes
        One line per (label, reference).
    """
    import matplotlib.pyplot as plt

    scale = check.positive("scale", scale)
    labelled = _labelled(model, params)
    if len(labelled) > len(_STYLES):
        raise ValueError(
            f"at most {len(_STYLES)} labelled params, got {len(labelled)}."
        )
    refs = np.atleast_2d(check.finite_array("refs", refs))
    if refs.ndim != 2 or refs.shape[1] != 2:
        raise ValueError(f"refs must have shape (num_refs, 2), got {refs.shape}.")
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    if band is not None:
        lo, hi = (np.broadcast_to(b, refs.shape[:1] + band.angles.shape)
                  for b in (band.lower, band.upper))
        bounded = np.flatnonzero(np.all(np.isfinite(hi), axis=-1))
        text = f"{band.prob:.0%} credible band"
        if len(bounded) < len(refs):
            text += f" ({len(refs) - len(bounded)} refs unbounded, not drawn)"
        for n, i in enumerate(bounded):
            _ring(ax, refs[i], band.angles, scale * lo[i], scale * hi[i],
                  color="tab:blue", alpha=0.25, label=text if n == 0 else None)
    for (label, p), style in zip(labelled.items(), _STYLES):
        if _is_stack(model, p):
            raise ValueError(
                f"params {label!r} is a stack of draws; plot its spread with "
                "band=contour_band(threshold_contour(model, draws, ref=refs))."
            )
        contour = threshold_contour(model, p, ref=refs, criterion=criterion,
                                    num_angles=num_angles, key=key)
        radii = np.broadcast_to(contour.radii, refs.shape[:1] + contour.angles.shape)
        reached = np.broadcast_to(contour.reached, radii.shape)
        missed = int((~reached).sum())
        text = label if missed == 0 else f"{label} ({missed} directions unreached)"
        r = scale * np.where(reached, radii, np.nan)  # gaps, not clipped lines
        a = np.append(contour.angles, contour.angles[0])
        r = np.concatenate([r, r[:, :1]], axis=-1)
        for i, ref in enumerate(refs):
            ax.plot(ref[0] + r[i] * np.cos(a), ref[1] + r[i] * np.sin(a), style,
                    lw=1.4, label=text if i == 0 else None)
    ax.scatter(refs[:, 0], refs[:, 1], marker="+", c="k", s=30, zorder=3)
    title = f"Threshold contours at p(correct) = {contour.criterion:.3f}"
    ax.set_title(title + (f" (x{scale:g})" if scale != 1.0 else ""))
    ax.set_aspect("equal")
    ax.set_xlabel("stimulus dim 0")
    ax.set_ylabel("stimulus dim 1")
    ax.legend(loc=legend_loc, fontsize="small")
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
