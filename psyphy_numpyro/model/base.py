"""psyphy's abstract ``Model``: a prior (``init_params``) and a likelihood.

Models are configuration objects: they hold no data and no fitted values;
inference engines take a model and data and return a posterior.
:class:`~psyphy_numpyro.model.wppm.WPPM` is the one model here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import jax
import jax.numpy as jnp

__all__ = ["Model"]


class Model(ABC):
    """Abstract base of psychophysical models (psyphy's ``Model``)."""

    @abstractmethod
    def init_params(self, key: jax.Array) -> dict:
        """Draw initial parameters from the prior."""

    @abstractmethod
    def log_likelihood_from_data(self, params: dict, data: Any) -> jnp.ndarray:
        """Total log-likelihood of ``data`` under ``params`` (a scalar)."""
