"""``PopulationPosterior``: a population WPPM's fit, per observer and for the population."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jax
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.idata import build_inference_data, log_likelihood_group
from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.population import PopulationSpec, observer_params, population_groups
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.posterior.draws import StoredPosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior


class PopulationPosterior:
    """The fit of :func:`~psyphy_numpyro.fit_population`.

    :meth:`observer` and :meth:`population` give posteriors of one WPPM that
    every readout, band and plot of the package takes; :meth:`to_inference_data`
    writes all of it to ArviZ with an ``observer`` dimension.

    Attributes
    ----------
    model
        Every observer's WPPM.
    pop
        The :class:`~psyphy_numpyro.core.population.PopulationSpec`.
    names
        The observers' names, in order.
    trials
        ``{name: Trials}``.
    params
        The point estimate (the MAP) of the population model's sites.
    draws
        ``{site: (chain, draw, ...)}`` for Laplace and NUTS; None for MAP.
    method
        ``"map"``, ``"laplace"`` or ``"nuts"``.
    model_kwargs
        Extra arguments of the density (fixed Monte Carlo draws), if any.
    result
        The method's own result (``MAPResult``, ``LaplaceResult`` or NumPyro's ``MCMC``).
    """

    def __init__(self, model: Any, pop: PopulationSpec, names: list[str],
                 trials: dict[str, Trials], params: dict, *, draws: dict | None = None,
                 method: str = "map", model_kwargs: dict | None = None,
                 result: Any = None) -> None:
        self.model, self.pop, self.names, self.trials = model, pop, list(names), trials
        self.params, self.draws, self.method, self.result = params, draws, method, result
        self.model_kwargs = dict(model_kwargs or {})

    @property
    def num_observers(self) -> int:
        """S."""
        return len(self.names)

    @property
    def pop_scale(self) -> float:
        r"""The point estimate of the population scale :math:`\tau`."""
        return float(np.exp(self.params["log_pop_scale"]))

    def _index(self, name: str) -> int:
        if name not in self.names:
            raise KeyError(f"no observer {name!r}; the observers are {self.names}.")
        return self.names.index(name)

    def _flat_draws(self) -> dict:
        return {k: np.asarray(v).reshape(-1, *np.shape(v)[2:]) for k, v in self.draws.items()}

    def observer(self, name: str) -> MAPPosterior | StoredPosterior:
        """Observer ``name``'s posterior as one WPPM's (its own trials)."""
        s, site = self._index(name), self.pop.site
        point = {k: np.asarray(v)[s] if k == site else v
                 for k, v in observer_params(self.pop, self.params).items()}
        if self.draws is None:
            return MAPPosterior(point, self.model, None, self.trials[name])
        draws = observer_params(self.pop, self._flat_draws())
        samples = {k: np.asarray(v)[:, s] if k == site else np.asarray(v)
                   for k, v in draws.items()}
        return StoredPosterior(self.model, point, samples, self.trials[name])

    def population(self) -> MAPPosterior | StoredPosterior:
        """The population field's posterior as one WPPM's (no trials of its own)."""
        site = self.pop.site
        lapse = {k: self.params[k] for k in self.model.param_sites[1:]}
        point = {site: self.params[f"{site}_pop"], **lapse}
        if self.draws is None:
            return MAPPosterior(point, self.model)
        flat = self._flat_draws()
        samples = {site: flat[f"{site}_pop"]} | {k: flat[k] for k in lapse}
        return StoredPosterior(self.model, point, samples)

    def to_inference_data(self):
        """ArviZ groups with an ``observer`` dimension named by :attr:`names`.

        See :func:`~psyphy_numpyro.core.population.population_groups`; a MAP fit
        is one chain of one draw. ``log_likelihood`` runs over every observer's
        trials in order, for ``az.loo`` and, beside
        :func:`observers_inference_data` of separate fits, ``az.compare``.
        """
        draws = self.draws
        if draws is None:
            draws = {k: np.asarray(v)[None, None] for k, v in self.params.items()}
        args = _concatenated(self.names, self.trials)
        groups = population_groups(self.pop, draws, *args, **self.model_kwargs)
        return build_inference_data(groups, attrs={"inference": f"population {self.method}"},
                                    coords={"observer": self.names})

    def __repr__(self) -> str:
        return (f"PopulationPosterior(method={self.method!r}, observers={self.names}, "
                f"pop_scale={self.pop_scale:.3g})")


def _concatenated(names: list[str], trials: Mapping[str, Trials]) -> tuple:
    """``(ref, probe, responses, observer)`` of every observer's trials in order."""
    ref, probe, responses = (np.concatenate([np.asarray(trials[n][i]) for n in names])
                             for i in range(3))
    observer = np.concatenate([np.full(len(trials[n].ref), s) for s, n in enumerate(names)])
    return ref, probe, responses, observer


def observers_inference_data(posteriors: Mapping[str, Any], *, num_draws: int = 1000,
                             seed: int = 0):
    """ArviZ of separate fits, one per observer, laid out as a population fit's.

    ``log_likelihood`` runs over the observers' trials in the order of
    ``posteriors`` (as :meth:`PopulationPosterior.to_inference_data` with the
    same names), so ``az.compare`` can set pooling against independence.
    ``num_draws`` draws of each posterior (one chain).
    """
    if not isinstance(posteriors, Mapping) or not posteriors:
        raise TypeError("posteriors must be a non-empty mapping {observer name: posterior}.")
    num_draws = check.positive_int("num_draws", num_draws)
    names = list(posteriors)
    first = posteriors[names[0]]
    model, site = first.model, first.model.prior.site
    theta, loglik = [], []
    for s, name in enumerate(names):
        post = posteriors[name]
        if post.model.spec != model.spec or getattr(post, "trials", None) is None:
            raise ValueError(f"posteriors[{name!r}] must be a fit of the same model with its "
                             "trials.")
        draws = post.sample(num_draws, key=jax.random.fold_in(fit_keys(seed).run, s))
        draws = {k: np.asarray(v)[None] for k, v in draws.items()}
        theta.append(draws[site])
        loglik.append(log_likelihood_group(model, draws, post.trials,
                                           getattr(post, "model_kwargs", None))["y"][1])
    trials = {name: posteriors[name].trials for name in names}
    ref, probe, responses, observer = _concatenated(names, trials)
    event = model.prior.event_dims
    groups = {
        "posterior": {site: (("chain", "draw", "observer", *event), np.stack(theta, axis=2))},
        "log_likelihood": {"y": (("chain", "draw", "trial"), np.concatenate(loglik, axis=-1))},
        "observed_data": {"y": (("trial",), responses)},
        "constant_data": {"ref": (("trial", "dim"), ref), "probe": (("trial", "dim"), probe),
                          "observer_index": (("trial",), observer)},
    }
    return build_inference_data(groups, attrs={"inference": "independent"},
                                coords={"observer": names})
