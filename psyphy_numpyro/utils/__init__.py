"""Small numerical helpers (psyphy's ``utils``): the Chebyshev basis."""

from psyphy_numpyro.utils.math import chebyshev_basis

__all__ = ["chebyshev_basis"]
