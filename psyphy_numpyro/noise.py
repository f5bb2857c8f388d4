"""Noise models of the observer's internal representation."""

from __future__ import annotations

from dataclasses import dataclass

from . import _validation as check

__all__ = ["GaussianNoise"]


@dataclass(frozen=True)
class GaussianNoise:
    """Additive isotropic Gaussian noise.

    Parameters
    ----------
    sigma
        Standard deviation. The MVP model's closed-form tasks do not use it
        (as in psyphy); it is kept so psyphy scripts port unchanged.
    """

    sigma: float = 1.0

    def __post_init__(self) -> None:
        check.positive("sigma", self.sigma)
