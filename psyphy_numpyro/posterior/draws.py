"""The base of every posterior that holds parameter draws.

:class:`DrawsPosterior` gives ``sample(n, *, key)`` (resampling the stored
``samples``, as MCMC and reloaded fits need; Laplace and SVI draw from their
own distribution instead) and ``to_inference_data()``, so each fit kind
writes only what is its own.
"""

from __future__ import annotations

from typing import Any

import jax
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.idata import draws_to_inference_data
from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.core.trials import Trials


class DrawsPosterior:
    """Shared protocol: ``params``, ``model``, ``trials``, ``sample``, ArviZ."""

    inference = ""
    params: dict
    model: Any
    trials: Trials
    model_kwargs: dict
    samples: dict

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the stored draws (with replacement)."""
        n = check.positive_int("n", n)
        total = next(iter(self.samples.values())).shape[0]
        idx = jax.random.randint(key, (n,), 0, total)
        return jax.tree.map(lambda x: x[idx], self.samples)

    def to_inference_data(
        self, num_draws: int = 1000, *, seed: int = 0, posterior_predictive: bool = True
    ):
        """Draw ``num_draws`` parameter sets and convert them to ArviZ.

        The draws form one chain (``chain`` of size 1, ``draw`` of size
        ``num_draws``); ``log_likelihood`` is per trial. See
        :func:`psyphy_numpyro.core.idata.draws_to_inference_data`.
        """
        num_draws = check.positive_int("num_draws", num_draws)
        keys = fit_keys(seed)
        key_draws, key_pp = keys.init, keys.run
        draws = self.sample(num_draws, key=key_draws)
        return draws_to_inference_data(
            {k: np.asarray(v)[None] for k, v in draws.items()},
            self.model,
            self.trials,
            posterior_predictive=posterior_predictive,
            rng_key=key_pp,
            model_kwargs=self.model_kwargs,
            attrs={"inference": self.inference},
        )


class StoredPosterior(DrawsPosterior):
    """Posterior draws reloaded from a file (a fit of a kind without its own format).

    Attributes
    ----------
    model
        The rebuilt model.
    params
        The fit's point estimate.
    samples
        Draws per site, shape ``(num_draws, *site shape)``.
    trials
        The data, when the fit held it (else None).
    model_kwargs
        Extra model arguments of the fit's density (the full WPPM's fixed
        ``mc_samples``), when it held them.
    """

    def __init__(self, model: Any, params: dict, samples: dict,
                 trials: Trials | None = None, model_kwargs: dict | None = None) -> None:
        self.model, self.params, self.samples, self.trials = model, params, samples, trials
        self.model_kwargs = dict(model_kwargs or {})

    def to_inference_data(self, *, posterior_predictive: bool = True, seed: int = 0):
        """Convert the stored draws to ArviZ as one chain.

        See :func:`psyphy_numpyro.to_inference_data`. For the full WPPM the
        log-likelihood uses the fit's fixed Monte Carlo draws, or fresh ones
        from ``seed`` when the fit had none.
        """
        if self.trials is None:
            raise ValueError("this posterior holds no trials; ArviZ needs the data.")
        kwargs, keys = dict(self.model_kwargs), fit_keys(seed)
        if self.model.needs_draws and "mc_samples" not in kwargs:
            kwargs["mc_samples"] = self.model.draw_mc_samples(keys.mc_samples, self.trials.ref.shape[0])
        draws = {k: np.asarray(v)[None] for k, v in self.samples.items()}
        return draws_to_inference_data(draws, self.model, self.trials,
                                       posterior_predictive=posterior_predictive,
                                       rng_key=keys.run, model_kwargs=kwargs)

    def __repr__(self) -> str:
        total = next(iter(self.samples.values())).shape[0]
        return f"StoredPosterior(draws={total})"
