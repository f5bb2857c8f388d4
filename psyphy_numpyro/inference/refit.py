"""``MAPLaplaceRefit``: the fast refit of an adaptive session (warm MAP, then Laplace)."""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.inputs import fixed_density_kwargs
from psyphy_numpyro.core.infer.laplace import (
    gaussian_from_precision,
    rotation_directions,
)
from psyphy_numpyro.core.infer.refit import (
    bucket_size,
    first_trials,
    map_laplace_refit,
    pad_trials,
)
from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.posterior.laplace import LaplacePosterior


class MAPLaplaceRefit(InferenceEngine):
    """MAP by Gauss-Newton from a warm start, then the Gaussian (Fisher) around it.

    Trials are padded to a bucket size, so refits after a few more answers
    reuse one compiled program (:mod:`psyphy_numpyro.core.infer.refit`). The
    result is a :class:`~psyphy_numpyro.LaplacePosterior` like
    :class:`~psyphy_numpyro.LaplaceApproximation`'s default: the exact Hessian
    for the MVP, the Fisher matrix for the full WPPM (whose embedding
    rotations get no mass).

    Parameters
    ----------
    steps
        Adam steps from a warm start (``init_params``); 0 leaves it to Newton.
    cold_steps
        Adam steps from a prior draw, when no start is given.
    learning_rate
        Adam's step size.
    newton_steps
        Gauss-Newton steps after the Adam steps
        (:func:`~psyphy_numpyro.core.infer.refit.map_laplace_refit`).
    seed
        Seed of the cold start and of the full WPPM's fixed Monte Carlo draws.

    Examples
    --------
    >>> refit = MAPLaplaceRefit(newton_steps=4)
    """

    def __init__(self, steps: int = 0, cold_steps: int = 1000,
                 learning_rate: float = 1e-2, newton_steps: int = 6, *,
                 seed: int = 0) -> None:
        self.steps = check.iterations("steps", steps, minimum=0)
        self.newton_steps = check.positive_int("newton_steps", newton_steps, minimum=0)
        self.cold_steps = check.positive_int("cold_steps", cold_steps, minimum=0)
        self.learning_rate = check.positive("learning_rate", learning_rate)
        self.seed = check.seed("seed", seed)

    def fit(self, model: Any, data: Any, init_params: Any = None) -> LaplacePosterior:
        """Refit ``model`` to ``data`` from ``init_params`` (a dict or a posterior)."""
        model, trials, init_params, keys, _ = self._fit_inputs(model, data, init_params)
        steps = self.steps
        if init_params is None:
            init_params, steps = model.init_params(keys.init), self.cold_steps
        n = trials.ref.shape[0]
        padded, mask = pad_trials(trials, bucket_size(n))
        kwargs = fixed_density_kwargs(model, padded, self.seed)
        mc_samples = kwargs.get("mc_samples")
        result = map_laplace_refit(model.spec, init_params, padded, mask, mc_samples,
                                   num_steps=steps, learning_rate=self.learning_rate,
                                   newton_steps=self.newton_steps)
        params = {k: np.asarray(v) for k, v in result.params.items()}
        null = None if model.is_mvp else rotation_directions(params, model.prior.site)
        gaussian = gaussian_from_precision(params, result.precision, null)
        model_kwargs = {} if mc_samples is None else {
            "mc_samples": first_trials(mc_samples, n)}
        hessian = "exact" if model.is_mvp else "fisher"
        posterior = LaplacePosterior(gaussian, model, trials, model_kwargs, hessian)
        posterior.losses = np.asarray(result.losses)
        return posterior
