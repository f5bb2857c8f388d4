"""Ellipse geometry for arrays of 2 x 2 covariances (psyphy's ``viz.geometry``).

:func:`ellipse_segments` turns covariances into closed outlines and
:func:`auto_scale` picks a magnification so that neighbouring ellipses do not
overlap; :mod:`psyphy_numpyro.viz.ellipses` draws them.
"""

from __future__ import annotations

from numbers import Real
from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check

__all__ = ["auto_scale", "ellipse_segments"]


def ellipse_field(centers: Any, covs: Any) -> tuple[np.ndarray, np.ndarray]:
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
    centers, covs = ellipse_field(centers, covs)
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

    centers, covs = ellipse_field(centers, covs)
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


def as_fields(covs: Any) -> list[np.ndarray]:
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


def per_field(value: Any, n_fields: int, *, color: bool = False) -> list[Any]:
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


def scale_value(scale: Any, first_field: np.ndarray, centers: Any) -> float:
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
