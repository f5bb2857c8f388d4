"""The one rule for random keys: fits, Monte Carlo draws and posterior draws.

A fit's integer ``seed`` gives four keys (:func:`fit_keys`), and a
bootstrap's the keys of its replicates (:func:`bootstrap_keys`). ``init`` and
``run`` are the two halves of ``PRNGKey(seed)``, as psyphy's
``MAPOptimizer`` splits it (the prior draw that starts a fit, then the
optimiser's or sampler's own stream). ``mc_samples`` and ``starts`` come from
``fold_in(PRNGKey(seed), 1)``: the fixed Monte Carlo draws that make the full
WPPM's density deterministic (the same draws for NUTS, MALA, Laplace and SVI
at one seed) and the spread of chain starts.

Readouts that need Monte Carlo draws and get no key use
:func:`default_mc_key` (the task's ``default_key_seed``, as psyphy's
``predict_prob``); those that draw from a posterior and get no key use
:func:`default_draw_key` (``PRNGKey(0)``, psyphy's fallback).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax

from psyphy_numpyro.core import checks as check

__all__ = ["BootstrapKeys", "FitKeys", "bootstrap_keys", "default_draw_key",
           "default_mc_key", "fit_keys"]


class FitKeys(NamedTuple):
    """The keys of one fit (see the module docstring)."""

    init: jax.Array
    run: jax.Array
    mc_samples: jax.Array
    starts: jax.Array


def fit_keys(seed: int) -> FitKeys:
    """The keys of a fit with this ``seed``.

    Examples
    --------
    >>> import jax
    >>> keys = fit_keys(0)
    >>> bool((keys.init == jax.random.split(jax.random.PRNGKey(0))[0]).all())
    True
    """
    master = jax.random.PRNGKey(check.seed("seed", seed))
    init, run = jax.random.split(master)
    mc_samples, starts = jax.random.split(jax.random.fold_in(master, 1))
    return FitKeys(init, run, mc_samples, starts)


class BootstrapKeys(NamedTuple):
    """The keys of a bootstrap's replicates, one row each (:func:`bootstrap_keys`)."""

    resample: jax.Array
    run: jax.Array


def bootstrap_keys(seed: int, num_replicates: int) -> BootstrapKeys:
    """Per-replicate keys of a bootstrap with this ``seed``: which trials, and the fit's own.

    They come from ``fold_in(PRNGKey(seed), 2)``, apart from :func:`fit_keys`'
    (the fit to all the data, with the same seed, starts every replicate).
    Replicate ``r``'s keys do not depend on how many replicates are drawn.
    """
    num_replicates = check.positive_int("num_replicates", num_replicates)
    master = jax.random.fold_in(jax.random.PRNGKey(check.seed("seed", seed)), 2)
    resample, run = jax.random.split(master)
    each = jax.numpy.arange(num_replicates)
    return BootstrapKeys(jax.vmap(lambda r: jax.random.fold_in(resample, r))(each),
                         jax.vmap(lambda r: jax.random.fold_in(run, r))(each))


def default_mc_key(model: Any, key: jax.Array | None = None) -> jax.Array:
    """``key``, or the Monte Carlo key of a readout given none: the task's seed."""
    if key is not None:
        return key
    return jax.random.PRNGKey(model.task.config.default_key_seed)


def default_draw_key(key: jax.Array | None = None) -> jax.Array:
    """``key``, or the key of posterior draws given none: ``PRNGKey(0)``."""
    return jax.random.PRNGKey(0) if key is None else key
