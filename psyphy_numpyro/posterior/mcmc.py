"""``NUTSPosterior``: the draws of an MCMC run, with ArviZ output."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import MCMC

from psyphy_numpyro.core.gauge import from_free
from psyphy_numpyro.core.idata import arviz_sample_stats, draws_to_inference_data
from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.posterior.draws import DrawsPosterior


class NUTSPosterior(DrawsPosterior):
    """Posterior draws of an MCMC run (:class:`~psyphy_numpyro.NUTSSampler`).

    Built from arrays, so a run and a reloaded file are the same object;
    :meth:`from_mcmc` builds it from a finished NumPyro ``MCMC``.

    Parameters
    ----------
    draws
        Every sampled site by chain, ``{site: (num_chains, num_draws, ...)}``
        (a gauge-fixed run also has ``W_free``).
    extra_fields
        NumPyro's per-draw fields by chain (``diverging``, ``accept_prob``,
        ``num_steps``, ``potential_energy``, ``energy``).
    model
        The model that was sampled.
    trials
        The data it was conditioned on.
    model_kwargs
        Extra model arguments of the density (the full WPPM's fixed draws).
    mcmc
        NumPyro's ``MCMC`` object of the run, when there is one (None for a
        fit loaded from a file, or a run stopped at an ESS bar, which ran in
        blocks).

    Attributes
    ----------
    samples
        Draws of the prior's site, chains flattened:
        ``{"log_diag": (num_chains * num_draws, d)}``.
    params
        A point estimate: the posterior mean for the MVP; for the full WPPM
        the draw of highest posterior density, because ``W`` is identified
        only up to sign and rotation in the embedding, so its mean collapses
        the field.
    num_divergences
        Divergent transitions after warm-up (all chains).
    """

    def __init__(
        self,
        draws: dict,
        extra_fields: dict,
        model: Any,
        trials: Trials,
        model_kwargs: dict | None = None,
        *,
        mcmc: MCMC | None = None,
    ) -> None:
        site = model.prior.site
        if site not in draws:
            raise ValueError(f"draws must hold the site {site!r}, got {sorted(draws)}.")
        self.draws = {name: jnp.asarray(value) for name, value in draws.items()}
        self.extra_fields = {name: jnp.asarray(value) for name, value in extra_fields.items()}
        self.model = model
        self.trials = trials
        self.model_kwargs = dict(model_kwargs or {})
        self.mcmc = mcmc
        self.num_chains, self.num_draws = self.draws[site].shape[:2]
        self.samples = {name: _flat(self.draws[name]) for name in model.param_sites}
        if model.is_mvp:
            self.params = jax.tree.map(lambda x: jnp.mean(x, axis=0), self.samples)
        else:  # W is identified only up to sign/rotation: its mean is meaningless
            energy = _flat(self.extra_fields["potential_energy"])
            free = self.draws.get("W_free")
            if free is not None:  # gauge-fixed: take out the orbit-volume factor
                # (it depends on the block's diagonal only, not on the frame)
                scale = model.prior.stddev()
                energy = energy + jax.vmap(lambda f: from_free(f, scale)[1])(_flat(free))
            best = int(jnp.argmin(energy))
            self.params = jax.tree.map(lambda x: x[best], self.samples)
        self.num_divergences = int(np.sum(self.extra_fields["diverging"]))

    @classmethod
    def from_mcmc(
        cls, mcmc: MCMC, model: Any, trials: Trials, model_kwargs: dict | None = None,
        **kwargs: Any,
    ) -> NUTSPosterior:
        """The posterior of a finished NumPyro ``MCMC`` run."""
        fields = {name: value for name, value
                  in mcmc.get_extra_fields(group_by_chain=True).items()
                  if not isinstance(value, (dict, tuple))}
        return cls(mcmc.get_samples(group_by_chain=True), fields, model, trials,
                   model_kwargs, mcmc=mcmc, **kwargs)

    def to_inference_data(self, *, posterior_predictive: bool = True, seed: int = 0):
        """Convert to ArviZ (see :func:`psyphy_numpyro.draws_to_inference_data`).

        ``sample_stats`` holds the run's statistics under ArviZ's names
        (``diverging``, ``acceptance_rate``, ``n_steps``, ``lp``, ``energy``).
        """
        return draws_to_inference_data(
            {name: self.draws[name] for name in self.model.param_sites}, self.model, self.trials,
            posterior_predictive=posterior_predictive, rng_key=fit_keys(seed).run,
            model_kwargs=self.model_kwargs,
            sample_stats=arviz_sample_stats(self.extra_fields),
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(chains={self.num_chains}, draws={self.num_draws}, "
            f"divergences={self.num_divergences})"
        )


def _flat(value: jnp.ndarray) -> jnp.ndarray:
    """Merge the leading (chain, draw) axes."""
    return value.reshape((-1,) + value.shape[2:])
