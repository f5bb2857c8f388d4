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

__all__ = ["OddityTask", "OddityTaskConfig", "TwoAFC"]


@dataclass(frozen=True)
class OddityTaskConfig:
    """Monte Carlo settings of the full WPPM's oddity rule.

    Parameters
    ----------
    num_samples
        Monte Carlo samples per trial.
    bandwidth
        Logistic smoothing of the decision variable.
    default_key_seed
        Seed used by :meth:`WPPM.predict_prob` when no key is given.
    """

    num_samples: int = 1000
    bandwidth: float = 1e-2
    default_key_seed: int = 0

    def __post_init__(self) -> None:
        check.positive_int("num_samples", self.num_samples)
        check.positive("bandwidth", self.bandwidth)


@dataclass(frozen=True)
class OddityTask:
    """Three-alternative oddity task.

    The MVP model maps discriminability to p(correct) with psyphy's ``tanh``
    rule (``slope``); it starts at 2/3, not chance, at zero discriminability
    (see the docs). The full WPPM uses the Monte Carlo rule of
    :mod:`psyphy_numpyro.oddity` with the settings in ``config``, which starts
    at chance, 1/3. ``OddityTask(OddityTaskConfig(...))`` (psyphy 0.0.5's
    positional form) is accepted.

    Parameters
    ----------
    slope
        Slope of the MVP ``tanh`` mapping.
    config
        Monte Carlo settings for the full WPPM.
    """

    slope: float = 1.5
    config: OddityTaskConfig = OddityTaskConfig()

    #: p(correct) of the MVP mapping at zero discriminability.
    floor: ClassVar[float] = 2.0 / 3.0
    #: p(correct) of the Monte Carlo rule at zero difference (chance).
    chance: ClassVar[float] = 1.0 / 3.0

    def __post_init__(self) -> None:
        if isinstance(self.slope, OddityTaskConfig):  # OddityTask(config)
            object.__setattr__(self, "config", self.slope)
            object.__setattr__(self, "slope", 1.5)
        check.positive("slope", self.slope)
        if not isinstance(self.config, OddityTaskConfig):
            raise TypeError(
                f"config must be an OddityTaskConfig, got {type(self.config).__name__}."
            )

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
