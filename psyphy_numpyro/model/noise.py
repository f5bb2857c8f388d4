"""Noise models of the internal representation (psyphy's ``model.noise``).

The records live in :mod:`psyphy_numpyro.core.noise`; this module gives them
psyphy's import path.
"""

from psyphy_numpyro.core.noise import GaussianNoise, StudentTNoise

__all__ = ["GaussianNoise", "StudentTNoise"]
