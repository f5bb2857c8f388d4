r"""Ellipse figures: a fit's covariance field, and psyphy's ``plot_ellipses``.

:func:`plot_ellipse_field` draws :math:`\Sigma(x)` over a grid of references
from a model and its parameters; :func:`plot_ellipses` is psyphy 0.0.5's
drawing of arrays of 2 x 2 covariances (geometry in
:mod:`psyphy_numpyro.viz.geometry`).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.readouts import ContourBand, is_stack, threshold_contour
from psyphy_numpyro.viz.geometry import (
    as_fields,
    ellipse_field,
    ellipse_segments,
    per_field,
    scale_value,
)
from psyphy_numpyro.viz.style import (
    STYLES,
    axes,
    closed_contour,
    finish_stimulus_axes,
    label_stimulus_axes,
    ring,
)


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
    mc_key: Any = None,
    num_samples: int | None = None,
    legend_loc: str = "upper right",
):
    """Threshold contours at a set of references, for one or several fits.

    The contour is the closed form for the MVP and the numerical one of
    :func:`~psyphy_numpyro.threshold_contour` for the full WPPM. Directions
    whose p(correct) never reaches the criterion inside the domain are left
    as gaps, and counted in the legend. For the full WPPM the domain
    :math:`[-1, 1]^2` is outlined and everything is clipped to it (a
    magnified contour near the edge would otherwise run past it).

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
    mc_key
        Key of the full WPPM's fixed Monte Carlo draws.
    num_samples
        Full WPPM: Monte Carlo draws behind each contour. By default (neither
        this nor ``mc_key`` given) the contour is a root of the deterministic
        quadrature p(correct) where it applies (see
        :func:`~psyphy_numpyro.threshold_contour`); with Monte Carlo, a few
        dozen draws give jagged contours, a few thousand smooth ones.
    legend_loc
        Where the legend goes (matplotlib's ``loc``).

    Returns
    -------
    matplotlib.axes.Axes
        One line per (label, reference).
    """

    scale = check.positive("scale", scale)
    labelled = _labelled(model, params)
    if len(labelled) > len(STYLES):
        raise ValueError(
            f"at most {len(STYLES)} labelled params, got {len(labelled)}."
        )
    refs = np.atleast_2d(check.finite_array("refs", refs))
    if refs.ndim != 2 or refs.shape[1] != 2:
        raise ValueError(f"refs must have shape (num_refs, 2), got {refs.shape}.")
    ax = axes(ax)
    if band is not None:
        lo, hi = (np.broadcast_to(b, refs.shape[:1] + band.angles.shape)
                  for b in (band.lower, band.upper))
        bounded = np.flatnonzero(np.all(np.isfinite(hi), axis=-1))
        text = f"{band.prob:.0%} credible band"
        if len(bounded) < len(refs):
            text += f" ({len(refs) - len(bounded)} refs unbounded, not drawn)"
        for n, i in enumerate(bounded):
            ring(ax, refs[i], band.angles, scale * lo[i], scale * hi[i],
                  color="tab:blue", alpha=0.25, label=text if n == 0 else None)
    for (label, p), style in zip(labelled.items(), STYLES):
        if is_stack(model, p):
            raise ValueError(
                f"params {label!r} is a stack of draws; plot its spread with "
                "band=contour_band(threshold_contour(model, draws, ref=refs))."
            )
        contour = threshold_contour(model, p, ref=refs, criterion=criterion,
                                    num_angles=num_angles, mc_key=mc_key,
                                    num_samples=num_samples)
        radii = np.broadcast_to(contour.radii, refs.shape[:1] + contour.angles.shape)
        reached = np.broadcast_to(contour.reached, radii.shape)
        missed = int((~reached).sum())
        text = label if missed == 0 else f"{label} ({missed} directions unreached)"
        r = scale * np.where(reached, radii, np.nan)  # gaps, not clipped lines
        for i, ref in enumerate(refs):
            ax.plot(*closed_contour(ref, contour.angles, r[i]), style,
                    lw=1.4, label=text if i == 0 else None)
    ax.scatter(refs[:, 0], refs[:, 1], marker="+", c="k", s=30, zorder=3)
    if not model.is_mvp:
        _clip_to_domain(ax)
    return finish_stimulus_axes(
        ax, f"Threshold contours at p(correct) = {contour.criterion:.3f}", scale=scale,
        legend_loc=legend_loc)


def _clip_to_domain(ax: Any) -> None:
    """Outline the full WPPM's domain [-1, 1]^2 and clip the drawing to it."""
    from matplotlib.patches import Rectangle

    box = Rectangle((-1.0, -1.0), 2.0, 2.0, fill=False, ec="0.6", lw=0.8, zorder=0)
    ax.add_patch(box)
    for artist in [*ax.lines, *ax.patches, *ax.collections]:
        if artist is not box:
            artist.set_clip_path(box)
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)


# -- ellipses from covariance arrays (psyphy 0.0.5's viz) ------------------------------
def plot_ellipses(
    centers: Any,
    covs: Any,
    *,
    ax: Any = None,
    scale: float | str = 1.0,
    colors: Any = None,
    labels: Any = None,
    linestyles: Any = None,
    linewidths: Any = None,
    alpha: Any = None,
    show_centers: bool = False,
    skip_non_pd: bool = True,
    return_scale: bool = False,
    n_points: int = 100,
):
    """Draw one or more fields of 2-D covariance ellipses on shared axes.

    Each field is one ``LineCollection`` of the ellipses of
    :func:`ellipse_segments`, all magnified by one factor.

    Parameters
    ----------
    centers
        Centres shared by every field, shape ``(n_points, 2)``.
    covs
        One field ``(n_points, 2, 2)``; a stack ``(n_fields, n_points, 2, 2)``
        (e.g. :meth:`WPPMPredictivePosterior.rsample` draws); or a list of
        fields to overlay (e.g. truth and fit).
    ax
        Axes to draw on; a new figure when None.
    scale
        One magnification for all fields, or ``"auto"``: :func:`auto_scale` of
        the first field, applied to all.
    colors
        A colour for every field, a list of one per field, or an array
        ``(n_points, 3 or 4)`` with one colour per ellipse. Default: the
        colour cycle.
    labels
        Legend entry per field (a string for one field).
    linestyles, linewidths, alpha
        Line style per field, broadcast like ``colors``.
    show_centers
        Also mark the centres.
    skip_non_pd
        Leave out covariances that are not positive definite, with a warning
        that counts them; when False, raise instead.
    return_scale
        Also return the factor used.
    n_points
        Vertices per ellipse.

    Returns
    -------
    matplotlib.axes.Axes, or ``(Axes, scale)`` when ``return_scale`` is True.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import LineCollection

    fields = as_fields(covs)
    if not fields:
        raise ValueError("covs holds no covariance field.")
    checked = [ellipse_field(centers, f) for f in fields]
    centers = checked[0][0]
    factor = scale_value(scale, checked[0][1], centers)
    n = len(fields)
    colors_f = per_field(colors, n, color=True)
    labels_f = per_field(labels, n)
    styles_f = per_field(linestyles, n)
    widths_f = per_field(linewidths, n)
    alpha_f = per_field(alpha, n)
    drawn = [ellipse_segments(centers, f, scale=factor, n_points=n_points)
             for _, f in checked]
    skipped = [int(np.sum(~valid)) for _, valid in drawn]
    if sum(skipped) and not skip_non_pd:
        bad = [i for i, k in enumerate(skipped) if k]
        raise ValueError(
            f"{sum(skipped)} non-positive-definite covariance(s) (in field(s) "
            f"{bad}); pass skip_non_pd=True to draw the others."
        )
    ax = axes(ax)
    cycle = plt.rcParams["axes.prop_cycle"].by_key().get("color", ["C0"])
    for i, (segments, valid) in enumerate(drawn):
        color = colors_f[i] if colors_f[i] is not None else cycle[i % len(cycle)]
        per_point = isinstance(color, np.ndarray) and color.ndim == 2
        if per_point and len(color) != len(centers):
            raise ValueError(
                f"colors has {len(color)} rows but there are {len(centers)} ellipses."
            )
        style = styles_f[i] if styles_f[i] is not None else "solid"
        width = widths_f[i] if widths_f[i] is not None else 1.4
        ax.add_collection(LineCollection(
            segments, colors=color[valid] if per_point else color,
            linestyles=style, linewidths=width, alpha=alpha_f[i]))
        if show_centers:
            ax.scatter(centers[:, 0], centers[:, 1], s=10, zorder=3,
                       c=color if per_point else [color])
        if labels_f[i] is not None:  # a LineCollection makes no legend entry
            ax.plot([], [], color="0.3" if per_point else color, linestyle=style,
                    linewidth=width, label=labels_f[i])
    if sum(skipped):
        warnings.warn(
            f"{sum(skipped)} non-positive-definite (or non-finite) covariance(s) "
            "were not drawn; the field shown is incomplete.",
            UserWarning,
            stacklevel=2,
        )
    ax.autoscale_view()
    ax.set_aspect("equal")
    if not ax.get_xlabel() and not ax.get_ylabel():  # keep the caller's own labels
        label_stimulus_axes(ax)
    if factor != 1.0 and not ax.get_title():
        ax.set_title(f"Covariance ellipses (x{factor:.3g})")
    if any(label is not None for label in labels_f):
        ax.legend(fontsize="small")
    return (ax, factor) if return_scale else ax
