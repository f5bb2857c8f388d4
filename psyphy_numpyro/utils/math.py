"""The Chebyshev basis under psyphy's path; the maths is in :mod:`psyphy_numpyro.core.basis`."""

from psyphy_numpyro.core.basis import chebyshev_basis

__all__ = ["chebyshev_basis"]
