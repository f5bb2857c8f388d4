"""Compiled code and small results that repeated fits reuse, and how to release them.

What the package keeps, each bounded:

- :func:`~psyphy_numpyro.core.infer.map.fit_map`'s compiled SVI loops, one per
  model, optimizer and data shape: the 16 most recent;
- the optimizers they use (:func:`~psyphy_numpyro.core.infer.map.sgd_with_momentum`,
  :func:`~psyphy_numpyro.core.infer.map.clip_then`), the quadrature rules
  (:func:`~psyphy_numpyro.core.oddity.quadrature.quadrature_rule`) and the
  threshold distances of placement
  (:func:`~psyphy_numpyro.core.candidates.threshold_distance`): 32 each.

JAX itself keeps every program it compiles (thousands per cache) for as long as
the process lives, so a process that fits many new data sizes, or runs many
NUTS fits (each builds new NumPyro functions and compiles them again), grows
by the size of those programs, about 15 MB per MVP NUTS fit on CPU. A lab that
runs hundreds of such fits in one notebook calls :func:`clear_caches` between
them; the next fit compiles again. An adaptive session's default refit pads
trials to powers of two, so it compiles a few programs and stays flat.
"""

from __future__ import annotations

import jax

from psyphy_numpyro.core.candidates import threshold_distance
from psyphy_numpyro.core.infer import map as map_runner
from psyphy_numpyro.core.oddity.quadrature import quadrature_rule

__all__ = ["clear_caches"]


def clear_caches() -> None:
    """Release every compiled program and cached result, the package's and JAX's.

    Examples
    --------
    >>> clear_caches()  # between fits in a long-running process
    """
    map_runner.clear_runners()
    for cached in (map_runner.sgd_with_momentum, map_runner.clip_then, quadrature_rule,
                   threshold_distance):
        cached.cache_clear()
    jax.clear_caches()
