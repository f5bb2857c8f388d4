"""Compiled code and small results that repeated fits reuse, and how to release them.

What the package keeps, each bounded:

- :func:`~psyphy_numpyro.core.infer.map.fit_map`'s compiled SVI loops, one per
  model, optimizer and data shape: the 16 most recent;
- the NumPyro ``MCMC`` objects of NUTS and MALA runs
  (:func:`~psyphy_numpyro.core.infer.mcmc.run_kernel`), one per model, kernel
  settings, run lengths and chains, each with its compiled sampler for every
  data shape it has run: the 8 most recent;
- the optimizers they use (:func:`~psyphy_numpyro.core.infer.map.sgd_with_momentum`,
  :func:`~psyphy_numpyro.core.infer.map.clip_then`), the quadrature rules
  (:func:`~psyphy_numpyro.core.oddity.quadrature.quadrature_rule`) and the
  threshold distances of placement
  (:func:`~psyphy_numpyro.core.candidates.threshold_distance`): 32 each.

JAX itself keeps every program it compiles (thousands per cache) for as long as
the process lives, so a process that fits many new data sizes grows by the size
of those programs (a few MB each). Repeated NUTS or MALA fits of the same model,
settings and data size compile nothing new and stay flat. A lab that runs
hundreds of fits of new sizes in one notebook calls :func:`clear_caches`
between them; the next fit compiles again. An adaptive session's default
refit pads trials to powers of two, so it compiles a few programs and stays
flat.
"""

from __future__ import annotations

import jax

from psyphy_numpyro.core.candidates import threshold_distance
from psyphy_numpyro.core.infer import map as map_runner
from psyphy_numpyro.core.infer.mcmc import clear_samplers
from psyphy_numpyro.core.oddity.quadrature import quadrature_rule

__all__ = ["clear_caches"]


def clear_caches() -> None:
    """Release every compiled program and cached result, the package's and JAX's.

    Examples
    --------
    >>> clear_caches()  # between fits in a long-running process
    """
    map_runner.clear_runners()
    clear_samplers()
    for cached in (map_runner.sgd_with_momentum, map_runner.clip_then, quadrature_rule,
                   threshold_distance):
        cached.cache_clear()
    jax.clear_caches()
