"""Gaussian priors on the WPPM's parameters.

The MVP prior (``Prior.default``) puts ``Normal(0, scale**2)`` on each entry
of ``log_diag``. Like psyphy, :meth:`Prior.log_prob` leaves out the Gaussian
normalising constant; :attr:`Prior.log_normalizer` holds it, so that
``Prior.log_prob(p) - Prior.log_normalizer`` is the NumPyro log density.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpyro.distributions as dist

from . import _validation as check

__all__ = ["Prior"]


@dataclass(frozen=True)
class Prior:
    """Prior over the WPPM parameters.

    Parameters
    ----------
    input_dim
        Dimension of the stimulus space.
    scale
        Standard deviation of each ``log_diag`` entry (MVP model).
    """

    input_dim: int = 2
    scale: float = 0.5

    def __post_init__(self) -> None:
        check.positive_int("input_dim", self.input_dim)
        check.positive("scale", self.scale)

    @classmethod
    def default(cls, input_dim: int, scale: float = 0.5) -> "Prior":
        """The MVP prior: ``log_diag ~ Normal(0, scale**2)`` per dimension."""
        return cls(input_dim=input_dim, scale=scale)

    # -- the one place the prior's maths lives --------------------------------
    @property
    def site(self) -> str:
        """Name of the NumPyro sample site and of the params key."""
        return "log_diag"

    @property
    def event_dims(self) -> list[str]:
        """ArviZ dim names of the parameter's axes."""
        return ["dim"]

    @property
    def shape(self) -> tuple[int, ...]:
        """Shape of the parameter array."""
        return (self.input_dim,)

    def distribution(self) -> dist.Distribution:
        """The prior as a NumPyro distribution over the whole parameter array."""
        return dist.Normal(0.0, self.scale).expand(self.shape).to_event(len(self.shape))

    # -- psyphy's API -----------------------------------------------------------
    def sample_params(self, key: jax.Array) -> dict[str, jnp.ndarray]:
        """Draw a parameter PyTree ``{"log_diag": (input_dim,)}``."""
        return {self.site: self.distribution().sample(key)}

    def log_prob(self, params: dict[str, jnp.ndarray]) -> jnp.ndarray:
        """Log prior density without the normalising constant (psyphy's value)."""
        return self.distribution().log_prob(params[self.site]) + self.log_normalizer

    @property
    def log_normalizer(self) -> float:
        """The constant psyphy drops: ``n (log scale + log(2 pi) / 2)``."""
        n = math.prod(self.shape)
        return n * (math.log(self.scale) + 0.5 * math.log(2.0 * math.pi))
