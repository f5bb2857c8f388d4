"""``SVIApproximation``: variational posteriors through :func:`~psyphy_numpyro.core.infer.svi.fit_svi`."""

from __future__ import annotations

from typing import Any

import numpy as np
import optax

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import estimator_note, fixed_density_model
from psyphy_numpyro.core.infer.progress import say
from psyphy_numpyro.core.infer.svi import check_guide, fit_svi
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.posterior.svi import SVIPosterior


class SVIApproximation(InferenceEngine):
    """Approximate a WPPM's posterior by SVI with a Gaussian autoguide.

    Parameters
    ----------
    guide
        ``"normal"`` (mean-field ``AutoNormal``), ``"lowrank"``
        (``AutoLowRankMultivariateNormal``) or ``"multivariate"``.
    steps
        Optimiser steps.
    learning_rate
        Initial rate of the default optimiser: Adam, decayed to 1% by a
        cosine schedule over the steps (see :func:`fit_svi`).
    optimizer
        Any optax transformation, used instead of the default.
    rank
        Rank of the low-rank guide.
    init_scale
        Starting standard deviation of every guide coordinate; by default a
        tenth of the smallest prior standard deviation.
    num_particles
        Monte Carlo draws of the ELBO per step.
    seed
        Seed of the fit; for the full WPPM also of the fixed Monte Carlo draws
        (the same draws :class:`~psyphy_numpyro.NUTSSampler` uses for this seed).
        With the estimator unset, the full WPPM's density uses the
        deterministic ``"quadrature"`` rule where it applies, as NUTSSampler's.
    progress_bar
        Show a tqdm progress bar (the name NUTS and NumPyro use).

    Examples
    --------
    >>> svi = SVIApproximation(guide="lowrank", steps=3000, learning_rate=1e-2)
    """

    def __init__(
        self,
        guide: str = "normal",
        steps: int = 2000,
        learning_rate: float = 1e-2,
        optimizer: optax.GradientTransformation | None = None,
        *,
        rank: int | None = None,
        init_scale: float | None = None,
        num_particles: int = 1,
        seed: int = 0,
        progress_bar: bool = True,
    ) -> None:
        self.rank = check_guide(guide, rank)
        self.guide = guide
        self.steps = check.iterations("steps", steps)
        self.learning_rate = check.positive("learning_rate", learning_rate)
        self.optimizer = check.optimizer("optimizer", optimizer)
        self.init_scale = None if init_scale is None else check.positive(
            "init_scale", init_scale
        )
        self.num_particles = check.positive_int("num_particles", num_particles)
        self._keep_run_settings(seed=seed, progress_bar=progress_bar)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> SVIPosterior:
        """Fit the guide to the posterior of ``model`` given ``data``.

        Parameters
        ----------
        init_params
            Starting means: a parameter dict or any posterior with ``.params``
            (e.g. a MAP fit). Default: a draw from the prior, as
            :class:`~psyphy_numpyro.MAPOptimizer` starts.
        """
        given = check.wppm(model)
        model, trials, init_params, keys, model_kwargs = self._fit_inputs(
            fixed_density_model(given), data, init_params)
        if self.progress_bar and model is not given:
            say(f"SVIApproximation: {estimator_note(model, True)}.", once=True)
        if init_params is None:
            init_params = model.init_params(keys.init)
        init_params = model.check_params(init_params, "init_params")
        init_scale = self.init_scale
        if init_scale is None:
            init_scale = 0.1 * float(np.min(model.prior.stddev()))
        result = fit_svi(
            keys.run,
            model.numpyro_model,
            *trials,  # ref, probe, responses
            guide=self.guide,
            num_steps=self.steps,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            rank=self.rank,
            init_params=init_params,
            init_scale=init_scale,
            num_particles=self.num_particles,
            progress_bar=self.progress_bar,
            **model_kwargs,
        )
        return SVIPosterior(result, model, trials, model_kwargs)
