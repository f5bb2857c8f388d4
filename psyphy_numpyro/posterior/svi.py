"""``SVIPosterior``: draws from a fitted variational guide."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.svi import SVIResult
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.posterior.draws import DrawsPosterior


class SVIPosterior(DrawsPosterior):
    """Posterior from :class:`SVIApproximation`: a fitted NumPyro autoguide.

    Attributes
    ----------
    params
        The guide's median (its mean, for these Gaussian guides), per site.
    model, trials
        The model and the data.
    guide, guide_params
        The autoguide and its fitted parameters.
    losses
        Negative ELBO at every step.
    model_kwargs
        Extra model arguments of the density (the full WPPM's fixed ``mc_samples``).
    """

    inference = "svi"

    def __init__(
        self, result: SVIResult, model: Any, trials: Trials, model_kwargs: dict
    ) -> None:
        self.guide = result.guide
        self.guide_params = result.params
        self.losses = result.losses
        self.model = model
        self.trials = trials
        self.model_kwargs = dict(model_kwargs)
        self.params = self.guide.median(self.guide_params)
        sites, guide = model.param_sites, self.guide

        @partial(jax.jit, static_argnums=1)
        def draw(guide_params, n, key):
            draws = guide.sample_posterior(key, guide_params, sample_shape=(n,))
            return {site: draws[site] for site in sites}

        self._draw = draw

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the guide (leading axis ``n``)."""
        return self._draw(self.guide_params, check.positive_int("n", n), key)

    def __repr__(self) -> str:
        name = type(self.guide).__name__
        return f"SVIPosterior(guide={name}, final_loss={float(self.losses[-1]):.4g})"
