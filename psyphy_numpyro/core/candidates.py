r"""Candidate trials for posterior-driven placement, scaled by the current thresholds.

A candidate is a reference from a scrambled Sobol set over the box (or from
given references), a direction, and a distance: a multiple, spread
log-uniformly over ``distance_range``, of the posterior's threshold along
that direction, :math:`d^* / \sqrt{u^T \bar\Sigma(x)^{-1} u}`, where
:math:`\bar\Sigma(x)` is the posterior mean of the covariance at the reference
(rotation-invariant, so the mean is meaningful for the full WPPM too) and
:math:`d^*` the Mahalanobis distance at which p(correct) reaches the
criterion (:func:`threshold_distance`). So candidates sit where answers are
informative, from easy to hard, whatever the field's scale.

Reference: Hong et al. (2025), eLife RP108943 (see the docs' references).
"""

from __future__ import annotations

import warnings
from functools import lru_cache
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from scipy.stats import norm, qmc

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.readouts import find_thresholds, threshold_criterion

_PROBE_SCALE = 0.1  # sd of the constant field on which d* is measured (full WPPM)


@lru_cache(maxsize=32)
def threshold_distance(spec: Any, criterion: float) -> float:
    """Mahalanobis distance :math:`d^*` at which p(correct) reaches ``criterion``.

    The MVP's is its link's inverse. The full WPPM's is measured once on a
    constant field :math:`\\Sigma = (s^2 + \\epsilon) I` with the model's own
    estimator (fixed draws from the task's ``default_key_seed``), where
    p(correct) depends on the Mahalanobis distance alone.
    """
    criterion = threshold_criterion(spec, criterion)
    if spec.is_mvp:
        return float(spec.task.discriminability(criterion))
    d = spec.input_dim
    W = jnp.zeros(spec.prior.shape).at[(0,) * d + (slice(None), slice(0, d))].set(
        _PROBE_SCALE * jnp.eye(d))
    key = jax.random.PRNGKey(spec.task.config.default_key_seed)
    mc_samples = spec.draw_mc_samples(key, None)
    origin, axis = jnp.zeros((1, d)), jnp.eye(d)[:1]

    def p_fn(t):
        return spec.p_correct({"W": W}, origin, origin + t[:, None] * axis, mc_samples)

    radius, reached = jax.jit(lambda: find_thresholds(p_fn, jnp.ones(1), criterion))()
    if not bool(reached[0]):
        raise ValueError(f"criterion={criterion} is not reached by this model's task.")
    return float(radius[0]) / float(np.sqrt(_PROBE_SCALE**2 + spec.diag_term))


def mean_covariance(spec: Any, draws: dict, refs: jnp.ndarray) -> jnp.ndarray:
    """Posterior mean of :math:`\\Sigma(x)` over a stack of draws, shape ``(R, d, d)``."""
    d = spec.input_dim

    def one(params):
        cov = spec.local_covariance(params, None if spec.is_mvp else refs)
        return jnp.broadcast_to(cov, (refs.shape[0], d, d))

    return jax.vmap(one)(draws).mean(axis=0)


def posterior_candidates(
    spec: Any,
    draws: dict,
    num_candidates: int,
    *,
    bounds: np.ndarray,
    seed: Any,
    references: np.ndarray | None = None,
    distance_range: tuple[float, float] = (0.2, 3.0),
    criterion: float,
) -> tuple[np.ndarray, np.ndarray]:
    """``num_candidates`` (reference, comparison) pairs, all inside ``bounds``.

    Parameters
    ----------
    spec
        The model specification.
    draws
        Posterior draws (the prior's site with a leading draw axis).
    num_candidates
        Pairs to return (always exactly this many, so shapes stay fixed).
    bounds
        ``(d, 2)`` box of ``(low, high)`` holding references and comparisons.
    seed
        Seed of the Sobol scrambling (an int or a ``numpy.random.SeedSequence``).
    references
        References to use in turn instead of Sobol points, shape ``(R, d)``.
    distance_range
        Range of the multiple of the threshold distance.
    criterion
        p(correct) that defines the threshold.

    Returns
    -------
    ref, probe
        float32 arrays of shape ``(num_candidates, d)``. A comparison that
        would leave the box is turned round, or, if it leaves it both ways,
        brought in to 95% of the room there.
    """
    d = spec.input_dim
    low, high = bounds[:, 0], bounds[:, 1]
    engine = qmc.Sobol(d=2 * d + 1, scramble=True, seed=np.random.default_rng(seed))
    with warnings.catch_warnings():  # balance needs 2**m points; not needed here
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        points = engine.random(num_candidates)
    if references is None:
        refs = low + (high - low) * points[:, :d]
    else:
        refs = references[np.arange(num_candidates) % references.shape[0]]
    if d == 1:
        u = np.where(points[:, 1:2] < 0.5, -1.0, 1.0)
    else:
        u = norm.ppf(np.clip(points[:, d:2 * d], 1e-6, 1 - 1e-6))
        u /= np.linalg.norm(u, axis=1, keepdims=True)
    lo, hi = np.log(distance_range[0]), np.log(distance_range[1])
    multiple = np.exp(lo + (hi - lo) * points[:, -1])
    inv = np.linalg.inv(np.asarray(mean_covariance(spec, draws, jnp.asarray(refs,
                                                                          jnp.float32))))
    length = np.sqrt(np.einsum("nd,nde,ne->n", u, inv, u))
    t = threshold_distance(spec, criterion) * multiple / length
    room_out, room_back = _room(refs, u, low, high), _room(refs, -u, low, high)
    flip = (t > room_out) & (room_back > room_out)
    u = np.where(flip[:, None], -u, u)
    t = np.minimum(t, 0.95 * np.where(flip, room_back, room_out))
    return refs.astype(np.float32), (refs + t[:, None] * u).astype(np.float32)


def _room(refs: np.ndarray, u: np.ndarray, low: np.ndarray, high: np.ndarray
          ) -> np.ndarray:
    """Largest ``t`` keeping ``refs + t u`` inside the box."""
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.where(u > 0, (high - refs) / u, np.where(u < 0, (low - refs) / u, np.inf))
    return np.min(t, axis=1)


def check_bounds(bounds: Any, spec: Any) -> np.ndarray:
    """A ``(d, 2)`` box of ``(low, high)``; inside ``[-1, 1]^d`` for the full WPPM."""
    d = spec.input_dim
    if bounds is None:
        return np.tile([-1.0, 1.0], (d, 1))
    box = check.finite_array("bounds", bounds, ndim=2)
    if box.shape != (d, 2) or not np.all(box[:, 0] < box[:, 1]):
        raise ValueError(
            f"bounds must be {d} pairs (low, high) with low < high, got {box.tolist()}."
        )
    if not spec.is_mvp and np.any(np.abs(box) > 1.0):
        raise ValueError(
            "bounds must lie in the Chebyshev domain [-1, 1] of the full WPPM, got "
            f"{box.tolist()}."
        )
    return box
