"""Stimulus geometry for trial placement: reference points and comparisons.

:func:`reference_points` lays references over a box (grid or scrambled
Sobol), and :func:`comparisons_along_directions` puts comparisons at given
distances along unit directions. The placement classes in
:mod:`psyphy_numpyro.trial_placement` build on them.
"""

from __future__ import annotations

import itertools
import warnings
from typing import Any

import jax
import numpy as np
from scipy.stats import qmc

from psyphy_numpyro.core import checks as check


def reference_points(
    n: int, input_dim: int, *, method: str = "sobol", seed: int | None = 0
) -> np.ndarray:
    """Spread ``n`` reference stimuli over the domain :math:`[-1, 1]^d`.

    Parameters
    ----------
    n
        Number of points.
    input_dim
        Stimulus dimension ``d``.
    method
        ``"sobol"``: the first ``n`` points of a scrambled Sobol sequence
        (balanced exactly when ``n`` is a power of 2; other ``n`` are allowed
        without a warning). ``"grid"``: the centres of a regular grid of
        ``m**d = n`` cells, e.g. ``n = 25`` in 2-D gives ``-0.8, -0.4, 0, 0.4,
        0.8`` per axis (the last axis varies fastest); keeps points off the
        domain's edge.
    seed
        Seed of the Sobol scrambling (unused by ``"grid"``).

    Returns
    -------
    numpy.ndarray
        float64 points of shape ``(n, input_dim)``.

    Examples
    --------
    >>> reference_points(4, 1, method="grid").ravel().tolist()
    [-0.75, -0.25, 0.25, 0.75]
    """
    n = check.positive_int("n", n)
    input_dim = check.positive_int("input_dim", input_dim)
    if method == "sobol":
        engine = qmc.Sobol(d=input_dim, scramble=True, seed=seed)
        with warnings.catch_warnings():  # documented above: balance needs 2**m
            warnings.filterwarnings("ignore", "The balance properties", UserWarning)
            return 2.0 * engine.random(n) - 1.0
    if method == "grid":
        m = round(n ** (1.0 / input_dim))
        m = next((k for k in (m - 1, m, m + 1) if k >= 1 and k**input_dim == n), None)
        if m is None:
            raise ValueError(
                f"method='grid' needs n = m**{input_dim} points for some integer m, "
                f"got n={n}."
            )
        axis = -1.0 + (2.0 * np.arange(m) + 1.0) / m
        return np.array(list(itertools.product(axis, repeat=input_dim)), dtype=float)
    raise ValueError(f"method must be 'sobol' or 'grid', got {method!r}.")


def comparisons_along_directions(
    key: jax.Array,
    refs: Any,
    trials_per_ref: int,
    *,
    min_distance: float,
    max_distance: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Comparisons at uniform random directions and distances from each reference.

    Each comparison is ``ref + t * u`` with ``u`` uniform on the unit sphere and
    ``t`` uniform in ``[min_distance, max_distance)``. A comparison is never
    clipped: a draw that would leave :math:`[-1, 1]^d` is redrawn, so the
    trials follow that distribution conditioned on staying inside the domain.
    For a reference at least ``max_distance`` from every face nothing is
    redrawn and the directions are exactly isotropic; nearer the edge, outward
    directions are correspondingly rarer.

    Parameters
    ----------
    key
        ``jax.random`` key.
    refs
        References, shape ``(R, d)`` (or ``(d,)`` for one), inside the domain.
    trials_per_ref
        Comparisons per reference.
    min_distance, max_distance
        Range of the distance ``t``, ``0 <= min_distance <= max_distance``.

    Returns
    -------
    ref, cmp
        float64 arrays of shape ``(R * trials_per_ref, d)``; rows
        ``i * trials_per_ref`` to ``(i + 1) * trials_per_ref - 1`` belong to
        reference ``i``.

    Raises
    ------
    ValueError
        If a reference lies outside the domain, if no point of the domain is
        ``min_distance`` away from it, or if too few draws fit (a reference in a
        corner with a large ``max_distance``); the message names the reference.

    Examples
    --------
    >>> ref, cmp = comparisons_along_directions(
    ...     jax.random.key(0), [[0.0, 0.0]], 3, min_distance=0.1, max_distance=0.2)
    >>> ref.shape, cmp.shape
    ((3, 2), (3, 2))
    """
    refs = check.finite_array("refs", refs)
    if refs.ndim == 1:
        refs = refs[None]
    if refs.ndim != 2 or refs.shape[0] == 0:
        raise ValueError(f"refs must have shape (R, d), got {refs.shape}.")
    trials_per_ref = check.positive_int("trials_per_ref", trials_per_ref)
    min_distance = check.non_negative("min_distance", min_distance)
    max_distance = check.positive("max_distance", max_distance)
    if min_distance > max_distance:
        raise ValueError(
            f"min_distance ({min_distance}) must not exceed max_distance "
            f"({max_distance})."
        )
    outside = np.flatnonzero(np.any(np.abs(refs) > 1.0, axis=1))
    if outside.size:
        raise ValueError(
            f"refs must lie in [-1, 1]^d; reference {outside[0]} is "
            f"{refs[outside[0]].tolist()}."
        )
    farthest = np.linalg.norm(1.0 + np.abs(refs), axis=1)
    unreachable = np.flatnonzero(farthest < min_distance)
    if unreachable.size:
        i = unreachable[0]
        raise ValueError(
            f"no point of [-1, 1]^d is min_distance={min_distance} from reference "
            f"{i} ({refs[i].tolist()}); the farthest is {farthest[i]:.4g} away."
        )

    ref = np.repeat(refs, trials_per_ref, axis=0)
    probe = np.full_like(ref, np.nan)
    pending = np.arange(ref.shape[0])
    dim = ref.shape[1]
    shape = (ref.shape[0], _CANDIDATES)  # one shape every round: one compilation
    for attempt in range(_MAX_ROUNDS):
        key_dir, key_dist = jax.random.split(jax.random.fold_in(key, attempt))
        z = np.asarray(jax.random.normal(key_dir, (*shape, dim)), float)[pending]
        v = np.asarray(jax.random.uniform(key_dist, shape), float)[pending]
        norm = np.linalg.norm(z, axis=-1, keepdims=True)
        t = min_distance + (max_distance - min_distance) * v
        with np.errstate(invalid="ignore", divide="ignore"):
            cand = ref[pending, None] + t[..., None] * (z / norm)
        fits = (norm[..., 0] > 0) & np.all(np.abs(cand) <= 1.0, axis=-1)
        found = fits.any(axis=1)
        first = fits.argmax(axis=1)
        probe[pending[found]] = cand[found, first[found]]
        pending = pending[~found]
        if not pending.size:
            return ref, probe
    i = pending[0] // trials_per_ref
    raise ValueError(
        f"could not place {pending.size} comparison(s) inside [-1, 1]^d after "
        f"{_MAX_ROUNDS * _CANDIDATES} draws each, e.g. around reference {i} "
        f"({refs[i].tolist()}); lower max_distance or move the reference away from "
        "the edge."
    )


_MAX_ROUNDS = 64
_CANDIDATES = 16


def sobol_pairs(
    start: int, n: int, bounds: np.ndarray, radius: float, *, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Points ``start`` to ``start + n - 1`` of a space-filling sequence of trials.

    One scrambled Sobol sequence over ``(reference, offset)``: the reference
    fills ``bounds``, the offset fills ``[-radius, radius]^d``, and an offset
    that would take the comparison out of ``bounds`` along an axis is turned
    round along that axis (which always lands inside when ``radius`` is at most
    half the box's narrowest side). The same ``seed`` gives the same sequence,
    so trial ``k`` is the same whichever call asks for it.

    Returns
    -------
    ref, probe
        float64 arrays of shape ``(n, d)``.

    Examples
    --------
    >>> box = np.array([[-1.0, 1.0], [-1.0, 1.0]])
    >>> ref, probe = sobol_pairs(0, 4, box, 0.2, seed=0)
    >>> bool(np.all(np.abs(probe - ref) <= 0.2)), ref.shape
    (True, (4, 2))
    """
    start = check.positive_int("start", start, minimum=0)
    n = check.positive_int("n", n)
    low, high = bounds[:, 0], bounds[:, 1]
    radius = check.positive("radius", radius)
    if radius > 0.5 * float(np.min(high - low)):
        raise ValueError(
            f"radius={radius} exceeds half the narrowest side of bounds "
            f"({0.5 * float(np.min(high - low)):.4g})."
        )
    d = bounds.shape[0]
    engine = qmc.Sobol(d=2 * d, scramble=True, seed=seed)
    if start:  # scipy cannot fast-forward by 0
        engine.fast_forward(start)
    with warnings.catch_warnings():  # documented above: any count, any start
        warnings.filterwarnings("ignore", "The balance properties", UserWarning)
        points = engine.random(n)
    return pairs_in_box(points, bounds, radius)


def pairs_in_box(points: np.ndarray, bounds: np.ndarray, radius: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    """Map points of the unit cube ``(n, 2 d)`` to (reference, comparison) pairs.

    The first ``d`` coordinates place the reference in ``bounds``, the last
    ``d`` the offset in ``[-radius, radius]^d``, turned round along an axis
    where it would leave the box (see :func:`sobol_pairs`).
    """
    d = bounds.shape[0]
    low, high = bounds[:, 0], bounds[:, 1]
    ref = low + (high - low) * points[:, :d]
    offset = radius * (2.0 * points[:, d:] - 1.0)
    outside = (ref + offset > high) | (ref + offset < low)
    return ref, ref + np.where(outside, -offset, offset)
