"""A hierarchical fit of many observers: :func:`fit_population` (psyphy has none).

The observers' WPPMs share a population field
(:mod:`psyphy_numpyro.core.population`); the fit is MAP (SVI with
``AutoDelta``), a Laplace approximation at the MAP, or NUTS started there,
on NumPyro's own runners. The result, a
:class:`~psyphy_numpyro.posterior.population.PopulationPosterior`, gives each
observer's and the population's posterior as one WPPM's.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from typing import Any

import jax
import numpy as np
import numpyro
import optax
from jax.flatten_util import ravel_pytree

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs
from psyphy_numpyro.core.infer.laplace import laplace_approximation, rotation_directions
from psyphy_numpyro.core.infer.map import fit_map
from psyphy_numpyro.core.infer.mcmc import check_run_lengths, run_nuts
from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.population import PopulationSpec, population_model
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.posterior.population import PopulationPosterior, _concatenated

__all__ = ["METHODS", "fit_population"]

METHODS = ("map", "laplace", "nuts")


def fit_population(
    model: Any,
    datasets: Mapping[str, Any] | Sequence[tuple[str, Any]],
    *,
    method: str = "map",
    steps: int = 2000,
    optimizer: optax.GradientTransformation | None = None,
    num_warmup: int = 500,
    num_samples: int = 500,
    num_chains: int = 1,
    target_accept_prob: float = 0.8,
    dense_mass: bool = False,
    num_draws: int = 1000,
    scale_loc: float = math.log(0.3),
    scale_sd: float = 1.0,
    seed: int = 0,
    progress_bar: bool = True,
) -> PopulationPosterior:
    """Fit S observers' trials with a population WPPM.

    Parameters
    ----------
    model
        Every observer's WPPM (its prior is the population field's).
    datasets
        ``{name: data}`` (or ``(name, data)`` pairs) with each observer's
        trials in any form :meth:`WPPM.trials` takes.
    method
        ``"map"``; ``"laplace"`` (a Gaussian at the MAP, ``num_draws``
        draws; the full WPPM's common rotation of every ``W`` gets no mass);
        ``"nuts"`` (started at the MAP).
    steps, optimizer
        The MAP fit: optax ``optimizer`` (default ``optax.adam(5e-3)``, since
        the population's weights and the unit-scale deviations differ in
        scale by orders of magnitude) on the log posterior per trial.
    num_warmup, num_samples, num_chains, target_accept_prob, dense_mass
        NUTS's run (raise ``target_accept_prob`` if it reports divergences).
    scale_loc, scale_sd
        Prior of the log population scale (:class:`~psyphy_numpyro.core.
        population.PopulationSpec`).
    seed
        Seed of the start, the fixed Monte Carlo draws (a full WPPM with a
        Monte Carlo rule) and the sampler (:func:`~psyphy_numpyro.core.keys.fit_keys`).

    Returns
    -------
    PopulationPosterior
    """
    model = check.wppm(model)
    if not isinstance(method, str) or method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}.")
    names, trials = _observers(model, datasets)
    steps = check.iterations("steps", steps)
    num_warmup, num_samples, num_chains = check_run_lengths(num_warmup, num_samples, num_chains)
    target_accept_prob = check.open_unit_interval("target_accept_prob", target_accept_prob)
    num_draws = check.positive_int("num_draws", num_draws)
    if optimizer is None:
        optimizer = optax.adam(5e-3)
    check.optimizer("optimizer", optimizer)
    pop = PopulationSpec(model.spec, len(names), scale_loc, scale_sd)
    keys = fit_keys(seed)
    ref, probe, responses, observer = _concatenated(names, trials)
    kwargs = {"observer": observer}
    fixed = fixed_density_kwargs(model, Trials(ref, probe, responses), seed)
    density = partial(population_model, pop=pop)
    objective = _PerTrial(pop, 1.0 / len(responses))
    # every method targets one deterministic density (fixed draws for "mc")
    fit = fit_map(keys.run, objective, ref, probe, responses, num_steps=steps,
                  optimizer=optimizer, init_params=pop.init_params(keys.init),
                  progress_bar=progress_bar, **kwargs, **fixed)
    params = fit.params
    if method == "map":
        return PopulationPosterior(model, pop, names, trials, params, method="map",
                                   model_kwargs=fixed, result=fit)
    if method == "laplace":
        null = None
        if not model.is_mvp:
            null = rotation_directions(params, (f"{pop.site}_pop", f"{pop.site}_dev"))
        result = laplace_approximation(density, params, ref, probe, responses,
                                       null_directions=null, **kwargs, **fixed)
        if result.scale is None:
            raise RuntimeError("the MAP is not a local maximum (see the warning); run more "
                               "steps before a Laplace approximation.")
        flat, unravel = ravel_pytree(params)
        z = jax.random.normal(keys.starts, (num_draws, result.scale.shape[1]))
        points = np.asarray(flat) + np.asarray(z) @ result.scale.T
        draws = jax.vmap(unravel)(points.astype(np.float32))
        draws = {k: np.asarray(v)[None] for k, v in draws.items()}
        return PopulationPosterior(model, pop, names, trials, params, draws=draws,
                                   method="laplace", model_kwargs=fixed, result=result)
    mcmc = run_nuts(keys.starts, density, ref, probe, responses, num_warmup=num_warmup,
                    num_samples=num_samples, num_chains=num_chains, init_params=params,
                    target_accept_prob=target_accept_prob, dense_mass=bool(dense_mass),
                    progress_bar=progress_bar, **kwargs, **fixed)
    draws = {k: np.asarray(v) for k, v in mcmc.get_samples(group_by_chain=True).items()
             if k in pop.sites}
    return PopulationPosterior(model, pop, names, trials, params, draws=draws, method="nuts",
                               model_kwargs=fixed, result=mcmc)


@dataclass(frozen=True)
class _PerTrial:
    """The population model with its log density divided by the number of trials.

    Hashable by value, so fits of equal populations reuse the compiled loop.
    """

    pop: PopulationSpec
    scale: float

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        with numpyro.handlers.scale(scale=self.scale):
            population_model(*args, pop=self.pop, **kwargs)


def _observers(model: Any, datasets: Any) -> tuple[list[str], dict[str, Trials]]:
    """Names and checked trials of every observer."""
    if isinstance(datasets, Mapping):
        pairs = list(datasets.items())
    elif isinstance(datasets, Sequence) and not isinstance(datasets, (str, bytes)):
        pairs = list(datasets)
        if not all(isinstance(p, tuple) and len(p) == 2 for p in pairs):
            raise TypeError("datasets must be {name: data} or a list of (name, data) pairs.")
    else:
        raise TypeError(f"datasets must be {{name: data}} or (name, data) pairs, got "
                        f"{type(datasets).__name__}.")
    if not pairs:
        raise ValueError("datasets is empty: a population needs at least one observer.")
    names = [name for name, _ in pairs]
    if not all(isinstance(n, str) and n for n in names):
        raise TypeError(f"observer names must be non-empty strings, got {names}.")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"observer names must be unique; repeated: {dupes}.")
    trials = {}
    for name, data in pairs:
        try:
            trials[name] = model.trials(data)
        except ValueError as err:  # name the observer (no trials, wrong dimension, ...)
            raise ValueError(f"observer {name!r}: {err}") from err
    return names, trials
