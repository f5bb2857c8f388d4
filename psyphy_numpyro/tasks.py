"""Psychophysical tasks: how discriminability becomes p(correct).

A task is a small frozen configuration object; the maths lives in
:mod:`psyphy_numpyro.likelihood`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import jax.numpy as jnp

from . import _validation as check
from . import likelihood

__all__ = ["OddityTask", "TwoAFC"]


@dataclass(frozen=True)
class OddityTask:
    """Three-alternative oddity task.

    Parameters
    ----------
    slope
        Slope of psyphy's MVP ``tanh`` mapping. Its p(correct) starts at 2/3
        (not chance, 1/3) at zero discriminability; see the docs.
    """

    slope: float = 1.5

    #: p(correct) of the MVP mapping at zero discriminability.
    floor: ClassVar[float] = 2.0 / 3.0

    def __post_init__(self) -> None:
        check.positive("slope", self.slope)

    def logits(self, d: jnp.ndarray) -> jnp.ndarray:
        """Log-odds of a correct answer at discriminability ``d``."""
        return likelihood.oddity_mvp_logits(d, self.slope)

    def discriminability(self, p: jnp.ndarray) -> jnp.ndarray:
        """Discriminability at which p(correct) equals ``p`` (in [2/3, 1))."""
        return likelihood.oddity_mvp_discriminability(p, self.slope)

    @property
    def default_criterion(self) -> float:
        """Half-way from the mapping's floor to 1: 5/6 for the MVP oddity rule."""
        return 0.5 * (self.floor + 1.0)


@dataclass(frozen=True)
class TwoAFC:
    """Two-alternative forced choice, ``p = 0.5 + 0.5 tanh(slope d)``.

    Parameters
    ----------
    slope
        Slope of the ``tanh`` mapping.
    """

    slope: float = 2.0

    #: p(correct) at zero discriminability (chance).
    floor: ClassVar[float] = 0.5

    def __post_init__(self) -> None:
        check.positive("slope", self.slope)

    def logits(self, d: jnp.ndarray) -> jnp.ndarray:
        """Log-odds of a correct answer at discriminability ``d``."""
        return likelihood.two_afc_logits(d, self.slope)

    def discriminability(self, p: jnp.ndarray) -> jnp.ndarray:
        """Discriminability at which p(correct) equals ``p`` (in [0.5, 1))."""
        return likelihood.two_afc_discriminability(p, self.slope)

    @property
    def default_criterion(self) -> float:
        """Half-way from chance to 1: 0.75."""
        return 0.5 * (self.floor + 1.0)
