r"""Threshold contours read out from a fitted model.

For a reference :math:`x` and a unit direction :math:`u`, the threshold is
the distance :math:`t` at which p(correct) reaches the criterion. With the
MVP's closed-form tasks this is exact: the task gives the discriminability
:math:`d^*` at the criterion, and

.. math:: t(u) = d^* / \sqrt{u^T (\Sigma + \epsilon I)^{-1} u},

which traces the ellipse :math:`\delta^T (\Sigma+\epsilon I)^{-1} \delta =
{d^*}^2`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from . import _validation as check
from .covariance import mahalanobis

__all__ = ["Contour", "ContourBand", "threshold_contour", "contour_band"]


class Contour(NamedTuple):
    """Threshold distance per direction: ``radii`` of shape ``(..., num_angles)``."""

    angles: np.ndarray
    radii: np.ndarray
    criterion: float

    def xy(self, ref: Any = (0.0, 0.0)) -> tuple[np.ndarray, np.ndarray]:
        """Cartesian points of the contour around ``ref`` (closed curve)."""
        a = np.append(self.angles, self.angles[0])
        r = np.concatenate([self.radii, self.radii[..., :1]], axis=-1)
        return ref[0] + r * np.cos(a), ref[1] + r * np.sin(a)


class ContourBand(NamedTuple):
    """Pointwise credible band of the threshold in each direction."""

    angles: np.ndarray
    lower: np.ndarray
    median: np.ndarray
    upper: np.ndarray
    prob: float


def threshold_contour(
    model: Any,
    params: dict,
    *,
    criterion: float | None = None,
    num_angles: int = 180,
) -> Contour:
    """Threshold distance along ``num_angles`` directions in the plane.

    Parameters
    ----------
    model
        An MVP WPPM with ``input_dim=2``.
    params
        One parameter set, or a stack of them (leading axis: draws).
    criterion
        p(correct) that defines the threshold; the task's
        ``default_criterion`` when None.
    num_angles
        Directions, evenly spaced on [0, 2 pi).

    Returns
    -------
    Contour
        ``radii`` of shape ``(num_angles,)`` or ``(num_draws, num_angles)``.
    """
    if model.input_dim != 2:
        raise ValueError(f"threshold contours need input_dim=2, got {model.input_dim}.")
    task = model.task
    criterion = task.default_criterion if criterion is None else criterion
    check.open_unit_interval("criterion", criterion)
    if not criterion > task.floor:
        raise ValueError(
            f"criterion must exceed the task's p(correct) at zero discriminability "
            f"({task.floor:.4g}), got {criterion!r}."
        )
    num_angles = check.positive_int("num_angles", num_angles, minimum=3)
    angles = np.linspace(0.0, 2 * np.pi, num_angles, endpoint=False)
    u = jnp.stack([jnp.cos(angles), jnp.sin(angles)], -1)
    d_star = task.discriminability(criterion)

    def radii(p):
        cov = model.local_covariance(p)
        return d_star / mahalanobis(cov, u, model.diag_term)

    log_diag = jnp.asarray(params[model.prior.site])
    fn = jax.vmap(radii) if log_diag.ndim == 2 else radii
    return Contour(angles, np.asarray(fn({model.prior.site: log_diag})), float(criterion))


def contour_band(contour: Contour, prob: float = 0.9) -> ContourBand:
    """Pointwise central ``prob`` band of a stack of contours (posterior draws)."""
    check.open_unit_interval("prob", prob)
    if contour.radii.ndim != 2:
        raise ValueError("contour_band needs a stack of contours (one per draw).")
    tail = 50.0 * (1.0 - prob)
    lo, med, hi = np.percentile(contour.radii, [tail, 50.0, 100.0 - tail], axis=0)
    return ContourBand(contour.angles, lo, med, hi, prob)
