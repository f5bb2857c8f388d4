"""Matplotlib figures: threshold contours, credible bands, fields, learning curves.

Also psyphy 0.0.5's ellipse drawing for arrays of 2 x 2 covariances (noise
fields, threshold covariances, posterior draws): :func:`ellipse_segments`
(the geometry, no plotting backend), :func:`auto_scale` (a magnification
that fits the ellipses to the spacing of their centres) and
:func:`plot_ellipses`.
"""

from __future__ import annotations

import warnings
from numbers import Real
from typing import Any

import numpy as np

from . import _validation as check
from .data import Trials
from .readouts import Contour, ContourBand, _is_stack, threshold_contour

__all__ = [
    "auto_scale",
    "ellipse_segments",
    "plot_ellipse_field",
    "plot_ellipses",
    "plot_learning_curve",
    "plot_thresholds",
]

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


# -- ellipses from covariance arrays (psyphy 0.0.5's viz) ------------------------------
def _ellipse_field(centers: Any, covs: Any) -> tuple[np.ndarray, np.ndarray]:
    """Check one field: centres ``(n, 2)`` (finite) and covariances ``(n, 2, 2)``."""
    centers = check.finite_array("centers", centers)
    if centers.ndim != 2 or centers.shape[1] != 2:
        raise ValueError(
            f"centers must have shape (n_points, 2), got {centers.shape}; ellipses "
            "are drawn in a 2-D stimulus space."
        )
    try:
        covs = np.asarray(covs, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"covs must be an array of numbers: {err}") from None
    if covs.ndim == 3 and covs.shape[1] == covs.shape[2] and covs.shape[1] != 2:
        raise NotImplementedError(
            f"covs are {covs.shape[1]} x {covs.shape[1]}: only 2 x 2 covariances are "
            "drawn as ellipses; an ellipsoid (3-D) view is not implemented."
        )
    if covs.ndim != 3 or covs.shape[1:] != (2, 2):
        raise ValueError(f"covs must have shape (n_points, 2, 2), got {covs.shape}.")
    if len(covs) != len(centers):
        raise ValueError(
            f"centers and covs must have the same length, got {len(centers)} centers "
            f"and {len(covs)} covariances."
        )
    finite = np.all(np.isfinite(covs), axis=(1, 2))
    off = np.abs(covs[:, 0, 1] - covs[:, 1, 0])
    size = np.maximum(np.abs(covs[:, 0, 0]), np.abs(covs[:, 1, 1]))
    asym = finite & (off > 1e-5 * size + 1e-30)
    if np.any(asym):
        i = int(np.argmax(asym))
        raise ValueError(
            f"covs[{i}] is not symmetric ({covs[i].tolist()}); a covariance must be."
        )
    return centers, covs


def _positive_definite(covs: np.ndarray) -> np.ndarray:
    """Which covariances are finite and positive definite, shape ``(n,)``."""
    finite = np.all(np.isfinite(covs), axis=(1, 2))
    safe = np.where(finite[:, None, None], covs, np.eye(2))
    return finite & np.all(np.linalg.eigvalsh(safe) > 0, axis=-1)


def ellipse_segments(
    centers: Any,
    covs: Any,
    *,
    scale: float = 1.0,
    n_points: int = 100,
) -> tuple[list[np.ndarray], np.ndarray]:
    r"""Closed polylines of the ellipses :math:`(x - c)^T \Sigma^{-1} (x - c) = s^2`.

    Each positive-definite covariance :math:`\Sigma` becomes its
    one-standard-deviation ellipse around its centre :math:`c`, magnified by
    ``scale`` (:math:`s`): its semi-axes are :math:`s \sqrt{\lambda_i}` along
    the eigenvectors of :math:`\Sigma`. Needs no plotting backend.

    Parameters
    ----------
    centers
        Centres, shape ``(n, 2)``, e.g. the reference stimuli.
    covs
        Covariances, shape ``(n, 2, 2)``.
    scale
        Magnification of every semi-axis (1 is true size; see
        :func:`auto_scale`).
    n_points
        Vertices per ellipse; the first and last coincide.

    Returns
    -------
    segments : list of np.ndarray
        One ``(n_points, 2)`` array per positive-definite covariance, in
        input order.
    valid : np.ndarray
        Boolean, shape ``(n,)``: which covariances were finite and positive
        definite (and so drawn). Check ``valid.all()``.

    Examples
    --------
    >>> segs, valid = ellipse_segments(np.zeros((1, 2)), np.diag([4.0, 1.0])[None])
    >>> bool(valid.all()), segs[0].shape, round(float(np.abs(segs[0][:, 0]).max()), 3)
    (True, (100, 2), 2.0)
    """
    centers, covs = _ellipse_field(centers, covs)
    scale = check.positive("scale", scale)
    n_points = check.positive_int("n_points", n_points, minimum=3)
    valid = _positive_definite(covs)
    angle = np.linspace(0.0, 2.0 * np.pi, n_points)
    circle = np.stack([np.cos(angle), np.sin(angle)])  # (2, n_points)
    segments = []
    for c, cov in zip(centers[valid], covs[valid]):
        lam, vec = np.linalg.eigh(0.5 * (cov + cov.T))
        segments.append(c + scale * ((vec * np.sqrt(lam)) @ circle).T)
    return segments, valid


def auto_scale(centers: Any, covs: Any, *, fraction: float = 0.35) -> float:
    r"""Magnification that makes a field of ellipses legible on its own grid.

    The typical ellipse (the median over the positive-definite covariances of
    the root-mean-square semi-axis, :math:`\sqrt{\operatorname{tr}\Sigma / 2}`)
    gets a radius of ``fraction`` times the typical spacing of the centres
    (the median distance from a centre to its nearest neighbour). The factor
    may be below 1 on a dense grid. Use one factor for every field you
    compare (:func:`plot_ellipses` does).

    Parameters
    ----------
    centers
        Centres, shape ``(n, 2)``, at least two distinct.
    covs
        Covariances, shape ``(n, 2, 2)``.
    fraction
        Typical radius over typical spacing.

    Returns
    -------
    float
        The ``scale`` to pass to :func:`ellipse_segments` or :func:`plot_ellipses`.

    Examples
    --------
    >>> centers = np.array([[0.0, 0.0], [0.5, 0.0], [1.0, 0.0]])
    >>> round(auto_scale(centers, np.tile(0.01 * np.eye(2), (3, 1, 1))), 6)
    1.75
    """
    from scipy.spatial import cKDTree

    centers, covs = _ellipse_field(centers, covs)
    fraction = check.positive("fraction", fraction)
    if len(centers) < 2:
        raise ValueError(
            f"auto_scale needs at least 2 centers to measure their spacing, got "
            f"{len(centers)}; pass an explicit scale instead."
        )
    nearest, _ = cKDTree(centers).query(centers, k=2)  # column 0 is the point itself
    spacing = float(np.median(nearest[:, 1]))
    if spacing <= 0.0:
        raise ValueError(
            "most centers coincide with another one (median nearest-neighbour "
            "distance 0), so there is no spacing to fit; pass an explicit scale."
        )
    valid = _positive_definite(covs)
    if not np.any(valid):
        raise ValueError(
            "no covariance is finite and positive definite, so there is no typical "
            "ellipse size; pass an explicit scale."
        )
    radius = float(np.median(np.sqrt(np.trace(covs[valid], axis1=1, axis2=2) / 2.0)))
    return fraction * spacing / radius


def _as_fields(covs: Any) -> list[np.ndarray]:
    """One field ``(n, 2, 2)``, a stack ``(m, n, 2, 2)`` or a list of fields."""
    if isinstance(covs, (list, tuple)):
        return [np.asarray(c, dtype=float) for c in covs]
    arr = np.asarray(covs, dtype=float)
    if arr.ndim == 3:
        return [arr]
    if arr.ndim == 4:
        return list(arr)
    raise ValueError(
        f"covs must be one field of shape (n_points, 2, 2), a stack of fields "
        f"(n_fields, n_points, 2, 2) such as posterior draws, or a list of "
        f"(n_points, 2, 2) arrays; got shape {arr.shape}."
    )


def _per_field(value: Any, n_fields: int, *, color: bool = False) -> list[Any]:
    """Broadcast a styling option to the fields.

    A list or tuple of length ``n_fields`` (more than one field) sets each field;
    for colours, a sequence of numbers is one RGB(A) colour and an array is a
    colour per ellipse, shared by the fields.
    """
    if (
        isinstance(value, (list, tuple))
        and n_fields > 1
        and len(value) == n_fields
        and not (color and all(isinstance(v, Real) for v in value))
    ):
        return list(value)
    return [value] * n_fields


def _scale_value(scale: Any, first_field: np.ndarray, centers: Any) -> float:
    if isinstance(scale, str):
        if scale != "auto":
            raise ValueError(
                f"scale must be a positive number or 'auto', got {scale!r}."
            )
        return auto_scale(centers, first_field)
    if np.ndim(scale) != 0:
        raise TypeError(
            f"scale must be a single number or 'auto', got {scale!r}: one factor is "
            "applied to every field, because fields magnified independently cannot "
            "be compared by eye."
        )
    if not isinstance(scale, (Real, bool)) and hasattr(scale, "__array__"):
        scale = np.asarray(scale).item()  # a 0-d numpy or JAX array
    return check.positive("scale", scale)


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

    fields = _as_fields(covs)
    if not fields:
        raise ValueError("covs holds no covariance field.")
    checked = [_ellipse_field(centers, f) for f in fields]
    centers = checked[0][0]
    factor = _scale_value(scale, checked[0][1], centers)
    n = len(fields)
    colors_f = _per_field(colors, n, color=True)
    labels_f = _per_field(labels, n)
    styles_f = _per_field(linestyles, n)
    widths_f = _per_field(linewidths, n)
    alpha_f = _per_field(alpha, n)
    drawn = [ellipse_segments(centers, f, scale=factor, n_points=n_points)
             for _, f in checked]
    skipped = [int(np.sum(~valid)) for _, valid in drawn]
    if sum(skipped) and not skip_non_pd:
        bad = [i for i, k in enumerate(skipped) if k]
        raise ValueError(
            f"{sum(skipped)} non-positive-definite covariance(s) (in field(s) "
            f"{bad}); pass skip_non_pd=True to draw the others."
        )
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
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
    if any(label is not None for label in labels_f):
        ax.legend(fontsize="small")
    return (ax, factor) if return_scale else ax
