"""The WPPM's Gaussian prior (psyphy's ``model.prior``).

:class:`Prior` lives in :mod:`psyphy_numpyro.core.prior`, the one place its
maths is written; this module gives it psyphy's import path.
"""

from psyphy_numpyro.core.prior import Prior
from psyphy_numpyro.core.spec import Params

__all__ = ["Params", "Prior"]
