"""Bootstrap refits: MAP fits of datasets resampled from the trials, in batches.

Each replicate draws N trials with replacement from the N observed
(:func:`bootstrap_indices`) and is fitted by MAP from a common start (the
fit to all the data, so that every replicate of a full WPPM stays in that
fit's frame of ``W``). Two ways to refit:

- :func:`newton_bootstrap`: Gauss-Newton steps from the full-data MAP
  (:func:`~psyphy_numpyro.core.infer.refit.map_laplace_refit`), which reach
  each replicate's own MAP in a few steps, since it lies close by;
- :func:`fit_bootstrap`: a fixed number of optimizer steps (Hong et al.'s
  procedure), ``batch_size`` replicates at a time through
  :func:`~psyphy_numpyro.core.infer.map_many.fit_map_many`.

The spread of the replicates' estimates is the bootstrap's picture of the
estimate's uncertainty (Hong et al. 2025 refit each observer 120 times).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.map_many import fit_map_many
from psyphy_numpyro.core.infer.refit import map_laplace_refit
from psyphy_numpyro.core.keys import BootstrapKeys
from psyphy_numpyro.core.lapse import constrain_lapse
from psyphy_numpyro.core.trials import Trials

__all__ = ["BootstrapResult", "bootstrap_indices", "fit_bootstrap", "newton_bootstrap"]

#: Trials fitted at once by default (replicates per batch times trials each).
BATCH_TRIALS = 16_000


class BootstrapResult(NamedTuple):
    """Result of :func:`fit_bootstrap`.

    Attributes
    ----------
    params
        Each replicate's MAP estimate per site: ``{site: (R, *site shape)}``.
    indices
        The trials each replicate drew, shape ``(R, N)``.
    losses
        Each replicate's loss per step.
    """

    params: dict
    indices: np.ndarray
    losses: tuple[np.ndarray, ...]


def bootstrap_indices(resample_keys: jax.Array, num_trials: int) -> np.ndarray:
    """Trials drawn with replacement, one row of ``num_trials`` per key.

    Examples
    --------
    >>> from psyphy_numpyro.core.keys import bootstrap_keys
    >>> bootstrap_indices(bootstrap_keys(0, 3).resample, 5).shape
    (3, 5)
    """
    num_trials = check.positive_int("num_trials", num_trials)
    return np.asarray(jax.vmap(lambda k: jax.random.randint(k, (num_trials,), 0, num_trials))(
        resample_keys))


def fit_bootstrap(
    keys: BootstrapKeys,
    model: Callable[..., None],
    trials: Trials,
    init_params: dict,
    *,
    num_steps: int,
    optimizer: Any = None,
    scale: float = 1.0,
    batch_size: int | None = None,
    devices: Any = None,
    progress_bar: bool = True,
) -> BootstrapResult:
    """MAP refits of bootstrap replicates of ``trials``, ``batch_size`` at a time.

    Parameters
    ----------
    keys
        :func:`~psyphy_numpyro.core.keys.bootstrap_keys`: one replicate per row.
    model
        A NumPyro model taking ``(ref, probe, responses, mask=None)``.
    trials
        The observed trials.
    init_params
        Every replicate's start (the fit to all the data).
    num_steps, optimizer, devices
        As for :func:`~psyphy_numpyro.core.infer.map_many.fit_map_many`.
    scale
        Factor on each replicate's log density (``1 / N`` for a per-trial mean).
    batch_size
        Replicates fitted at once; default: as many as make
        :data:`BATCH_TRIALS` trials (at least 1).
    progress_bar
        Show a bar over the replicates.
    """
    if not isinstance(keys, BootstrapKeys):
        raise TypeError(f"keys must be BootstrapKeys (bootstrap_keys(seed, R)), got "
                        f"{type(keys).__name__}.")
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be Trials, got {type(trials).__name__}.")
    num, size = keys.resample.shape[0], trials.ref.shape[0]
    if batch_size is None:
        batch_size = max(1, BATCH_TRIALS // size)
    batch_size = min(check.positive_int("batch_size", batch_size), num)
    indices = bootstrap_indices(keys.resample, size)
    params, losses = [], []
    with tqdm(total=num, desc="bootstrap refits", disable=not progress_bar) as bar:
        for start in range(0, num, batch_size):
            # the last batch repeats its last replicate, so all batches share one program
            rows = [min(r, num - 1) for r in range(start, start + batch_size)]
            real = min(batch_size, num - start)
            result = fit_map_many(
                np.asarray(keys.run)[rows], model,
                [tuple(np.asarray(x)[indices[r]] for x in trials) for r in rows],
                num_steps=num_steps, optimizer=optimizer, init_params=[init_params] * batch_size,
                scales=[scale] * batch_size, devices=devices, progress_bar=False)
            params.append({site: value[:real] for site, value in result.params.items()})
            losses.extend(result.losses[:real])
            bar.update(real)
    stacked = {site: np.concatenate([p[site] for p in params]) for site in params[0]}
    return BootstrapResult(stacked, indices, tuple(losses))


def newton_bootstrap(
    keys: BootstrapKeys,
    spec: Any,
    trials: Trials,
    map_params: dict,
    *,
    mc_samples: Any = None,
    newton_steps: int = 20,
    progress_bar: bool = True,
) -> BootstrapResult:
    """Each replicate's MAP by Gauss-Newton steps from the full-data MAP.

    Parameters
    ----------
    keys
        :func:`~psyphy_numpyro.core.keys.bootstrap_keys`: one replicate per row
        (only ``keys.resample`` is used: the refits draw nothing).
    spec
        The model specification.
    trials
        The observed trials.
    map_params
        The MAP of all the trials (every replicate's start).
    mc_samples
        A Monte Carlo rule's fixed draws for ``trials`` (one per trial); each
        replicate takes its trials' own.
    newton_steps
        Gauss-Newton steps per replicate
        (:func:`~psyphy_numpyro.core.infer.refit.map_laplace_refit`).
    progress_bar
        Show a bar over the replicates.

    Returns
    -------
    BootstrapResult
        ``losses`` holds each replicate's loss (the per-trial mean negative
        log posterior) before each Newton step.
    """
    if not isinstance(keys, BootstrapKeys):
        raise TypeError(f"keys must be BootstrapKeys (bootstrap_keys(seed, R)), got "
                        f"{type(keys).__name__}.")
    if not isinstance(trials, Trials):
        raise TypeError(f"trials must be Trials, got {type(trials).__name__}.")
    newton_steps = check.positive_int("newton_steps", newton_steps)
    size = trials.ref.shape[0]
    indices = bootstrap_indices(keys.resample, size)
    mask = np.ones(size, np.float32)
    params, losses = [], []
    for rows in tqdm(indices, desc="bootstrap refits", disable=not progress_bar):
        draws = None if mc_samples is None else jax.tree.map(lambda x, r=rows: x[r], mc_samples)
        result = map_laplace_refit(
            spec, map_params, Trials(*(np.asarray(x)[rows] for x in trials)), mask, draws,
            num_steps=0, learning_rate=1.0, newton_steps=newton_steps)
        params.append(constrain_lapse(spec, result.params))
        losses.append(np.asarray(result.losses))
    stacked = {site: np.stack([np.asarray(p[site]) for p in params]) for site in params[0]}
    return BootstrapResult(stacked, indices, tuple(losses))
