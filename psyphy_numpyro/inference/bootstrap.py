"""Bootstrap refits of one observer: :func:`bootstrap` (psyphy has none).

The fit to all the data starts every replicate; the replicates are fitted in
batches by :meth:`~psyphy_numpyro.MAPOptimizer.fit_many`'s program
(:func:`~psyphy_numpyro.core.infer.bootstrap.fit_bootstrap`), with the same
optimizer settings, and come back as a :class:`~psyphy_numpyro.posterior.
bootstrap.BootstrapPosterior`, whose draws every band and plot takes.
"""

from __future__ import annotations

from typing import Any

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.bootstrap import fit_bootstrap
from psyphy_numpyro.core.keys import bootstrap_keys
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer, _ScaledModel
from psyphy_numpyro.posterior.bootstrap import BootstrapPosterior

__all__ = ["bootstrap"]


def bootstrap(
    model: Any,
    data: Any,
    num_replicates: int,
    *,
    seed: int = 0,
    optimizer: MAPOptimizer | None = None,
    init_params: Any = None,
    batch_size: int | None = None,
    devices: Any = None,
) -> BootstrapPosterior:
    """Refit ``model`` to ``num_replicates`` resamplings of ``data`` (with replacement).

    Parameters
    ----------
    model, data
        As for :meth:`MAPOptimizer.fit`.
    num_replicates
        Number of replicates R (Hong et al. 2025: 120).
    seed
        Seed of the full-data fit (as :meth:`MAPOptimizer.fit`'s) and of the
        replicates' resampling (:func:`~psyphy_numpyro.core.keys.bootstrap_keys`).
    optimizer
        The :class:`MAPOptimizer` whose settings fit the data and every
        replicate; default ``MAPOptimizer()``.
    init_params
        Start of the full-data fit (default a prior draw from ``seed``).
    batch_size, devices
        Replicates fitted at once, and the devices they lie on
        (:func:`~psyphy_numpyro.core.infer.bootstrap.fit_bootstrap`).

    Returns
    -------
    BootstrapPosterior
    """
    num_replicates = check.positive_int("num_replicates", num_replicates)
    optimizer = MAPOptimizer() if optimizer is None else optimizer
    if not isinstance(optimizer, MAPOptimizer):
        raise TypeError(f"optimizer must be a MAPOptimizer, got {type(optimizer).__name__}.")
    keys = bootstrap_keys(seed, num_replicates)
    fit = optimizer.fit(model, data, init_params=init_params, seed=seed)
    scale = optimizer.objective_scale(model, fit.trials.ref.shape[0])
    result = fit_bootstrap(keys, _ScaledModel(model, 1.0), fit.trials, fit.params,
                           num_steps=optimizer.steps, optimizer=optimizer.transform,
                           scale=scale, batch_size=batch_size, devices=devices,
                           progress_bar=optimizer.show_progress)
    losses = tuple(loss - scale * model.prior.log_normalizer for loss in result.losses)
    return BootstrapPosterior(fit, result.params, result.indices, losses)
