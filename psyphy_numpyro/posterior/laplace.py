"""``LaplacePosterior``: draws from the Gaussian of a Laplace approximation."""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax.flatten_util import ravel_pytree

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.laplace import LaplaceResult
from psyphy_numpyro.core.lapse import constrain_lapse
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.posterior.draws import DrawsPosterior


class LaplacePosterior(DrawsPosterior):
    """Gaussian posterior from :class:`LaplaceApproximation`.

    Attributes
    ----------
    params
        The MAP (the Gaussian's mean). An inferred lapse rate is Gaussian in
        its logit (NumPyro's unconstrained space), so its draws stay in (0, 1).
    model, trials
        The model and the data of the density.
    result
        :class:`LaplaceResult`: precision, covariance, eigenvalues.
    model_kwargs
        Extra model arguments of the density (the full WPPM's fixed ``mc_samples``).
    hessian
        The curvature used, ``"exact"`` or ``"fisher"``.
    """

    inference = "laplace"

    def __init__(
        self,
        result: LaplaceResult,
        model: Any,
        trials: Trials,
        model_kwargs: dict,
        hessian: str = "exact",
    ) -> None:
        self.result = result
        self.hessian = hessian
        self.params = constrain_lapse(model, result.mean)
        self.model = model
        self.trials = trials
        self.model_kwargs = dict(model_kwargs)
        self._unravel = ravel_pytree(result.mean)[1]

    @property
    def cov(self) -> np.ndarray:
        """Covariance of the flattened parameters, ``(P, P)``."""
        return self.result.cov

    def stddev(self) -> dict:
        """Marginal standard deviation of every parameter entry, per site.

        In the Gaussian's coordinates: an inferred ``lapse_rate``'s on the logit scale.
        """
        return self._unravel(jnp.asarray(np.sqrt(np.clip(np.diag(self.cov), 0, None))))

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the Gaussian (leading axis ``n``)."""
        n = check.positive_int("n", n)
        if self.result.scale is None:
            raise ValueError(
                "the curvature at the MAP is not positive definite, so the Laplace "
                "approximation has no Gaussian to draw from; refit the MAP to "
                'convergence (more steps), or use hessian="fisher".'
            )
        return constrain_lapse(self.model, _draw(self.result.mean, self.result.scale, n, key))

    def __repr__(self) -> str:
        sd = {k: np.round(np.asarray(v), 4).tolist() for k, v in self.stddev().items()}
        return f"LaplacePosterior(params={self.params!r}, stddev={sd})"


@partial(jax.jit, static_argnums=2)
def _draw(mean: dict, scale: np.ndarray, n: int, key: jax.Array) -> dict:
    """``n`` draws of ``mean + scale z`` with ``z`` standard normal, unflattened.

    At module level, so posteriors of one model share its compiled code (an
    adaptive session builds one per refit).
    """
    flat, unravel = ravel_pytree(mean)
    z = jax.random.normal(key, (n, scale.shape[1]))
    return jax.vmap(unravel)(flat + z @ scale.T)
