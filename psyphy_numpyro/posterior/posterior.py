"""psyphy's ``MAPPosterior``: the point estimate of a MAP fit, with its history."""

from __future__ import annotations

from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check


class MAPPosterior:
    """A point posterior at the MAP estimate.

    Attributes
    ----------
    params
        The MAP parameter PyTree.
    model
        The model that was fitted.
    losses
        Loss at every step (the objective that was minimised).
    trials
        The data it was fitted to (:class:`~psyphy_numpyro.Trials`), if known;
        Laplace approximations at the MAP use it.
    """

    def __init__(self, params: dict, model: Any, losses: np.ndarray | None = None,
                 trials: Any = None):
        self.params = params
        self.model = model
        self.losses = losses
        self.trials = trials

    def sample(self, n: int = 1, *, key: jax.Array | None = None) -> dict:
        """Return the MAP point repeated ``n`` times along a new leading axis."""
        del key
        n = check.positive_int("n", n)
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), self.params)

    def __repr__(self) -> str:
        return f"MAPPosterior(params={self.params!r})"
