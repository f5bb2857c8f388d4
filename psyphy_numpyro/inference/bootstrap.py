"""Bootstrap refits of one observer: :func:`bootstrap` (psyphy has none).

The fit to all the data starts every replicate. By default it is brought to
the MAP by Gauss-Newton steps and each replicate reaches its own MAP by a few
more (:func:`~psyphy_numpyro.core.infer.bootstrap.newton_bootstrap`);
``method="optimizer"`` instead runs the optimizer's own steps on every
replicate, in batches by :meth:`~psyphy_numpyro.MAPOptimizer.fit_many`'s
program (:func:`~psyphy_numpyro.core.infer.bootstrap.fit_bootstrap`), as Hong
et al. did. The replicates come back as a :class:`~psyphy_numpyro.posterior.
bootstrap.BootstrapPosterior`, whose draws every band and plot takes.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.bootstrap import fit_bootstrap, newton_bootstrap
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs
from psyphy_numpyro.core.infer.refit import map_laplace_refit
from psyphy_numpyro.core.keys import bootstrap_keys
from psyphy_numpyro.core.lapse import constrain_lapse
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer, _ScaledModel
from psyphy_numpyro.posterior.bootstrap import BootstrapPosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior

#: How :func:`bootstrap` refits the replicates.
METHODS = ("newton", "optimizer")

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
    method: str = "newton",
    newton_steps: int = 20,
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
        ``method="optimizer"`` only: replicates fitted at once, and the devices
        they lie on (:func:`~psyphy_numpyro.core.infer.bootstrap.fit_bootstrap`).
    method
        ``"newton"`` (default): the full-data fit is brought to the MAP and
        every replicate to its own by ``newton_steps`` Gauss-Newton steps
        (seconds for 120 replicates of 2,000 trials). ``"optimizer"``: every
        replicate runs the optimizer's steps from the full-data fit, as
        Hong et al. refit (far slower; an estimate where those steps stop short
        of the MAP).
    newton_steps
        Gauss-Newton steps of the full-data fit and of each replicate.

    Returns
    -------
    BootstrapPosterior
        For ``"newton"``, ``fit`` is the full-data MAP after its Newton steps.
    """
    num_replicates = check.positive_int("num_replicates", num_replicates)
    optimizer = MAPOptimizer() if optimizer is None else optimizer
    if not isinstance(optimizer, MAPOptimizer):
        raise TypeError(f"optimizer must be a MAPOptimizer, got {type(optimizer).__name__}.")
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    newton_steps = check.positive_int("newton_steps", newton_steps)
    keys = bootstrap_keys(seed, num_replicates)
    fit = optimizer.fit(model, data, init_params=init_params, seed=seed)
    if method == "newton":
        return _newton(fit, keys, seed, newton_steps, optimizer.show_progress)
    scale = optimizer.objective_scale(model, fit.trials.ref.shape[0])
    result = fit_bootstrap(keys, _ScaledModel(model, 1.0), fit.trials, fit.params,
                           num_steps=optimizer.steps, optimizer=optimizer.transform,
                           scale=scale, batch_size=batch_size, devices=devices,
                           progress_bar=optimizer.show_progress)
    losses = tuple(loss - scale * model.prior.log_normalizer for loss in result.losses)
    return BootstrapPosterior(fit, result.params, result.indices, losses)


def _newton(fit: MAPPosterior, keys: Any, seed: int, newton_steps: int,
            progress_bar: bool) -> BootstrapPosterior:
    """The full-data fit polished to the MAP, then each replicate's MAP from it."""
    model, trials = fit.model, fit.trials
    mc_samples = fixed_density_kwargs(model, trials, seed).get("mc_samples")
    polish = map_laplace_refit(model.spec, fit.params, trials,
                               np.ones(trials.ref.shape[0], np.float32), mc_samples,
                               num_steps=0, learning_rate=1.0, newton_steps=newton_steps)
    params = {k: np.asarray(v) for k, v in constrain_lapse(model.spec, polish.params).items()}
    full = MAPPosterior(params, model, fit.losses, trials)  # the optimizer's losses
    result = newton_bootstrap(keys, model.spec, trials, params, mc_samples=mc_samples,
                              newton_steps=newton_steps, progress_bar=progress_bar)
    model_kwargs = None if mc_samples is None else {"mc_samples": mc_samples}
    return BootstrapPosterior(full, result.params, result.indices, result.losses,
                              model_kwargs)
