"""Where to put the next trials (psyphy's ``trial_placement``).

:mod:`.grid` and :mod:`.sobol` follow psyphy 0.0.5: each placement has
``propose(posterior, batch_size) -> TrialBatch``. The candidate geometry
they share is in :mod:`psyphy_numpyro.core.design`.
"""

from psyphy_numpyro.trial_placement.grid import GridPlacement
from psyphy_numpyro.trial_placement.sobol import SobolPlacement

__all__ = ["GridPlacement", "SobolPlacement"]
