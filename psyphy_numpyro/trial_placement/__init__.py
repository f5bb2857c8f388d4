"""Where to put the next trials (psyphy's ``trial_placement``).

:mod:`.grid` and :mod:`.sobol` follow psyphy 0.0.5: each placement has
``propose(posterior, batch_size) -> TrialBatch``. Beside them, what psyphy
lacks: :mod:`.info_gain`, placement from the posterior (BALD or threshold
variance), and :mod:`.space_filling`, space-filling (reference, comparison)
pairs, its baselines. The candidate geometry is in :mod:`psyphy_numpyro.core.design`
and :mod:`psyphy_numpyro.core.candidates`, the scores in
:mod:`psyphy_numpyro.core.acquisition`.
"""

from psyphy_numpyro.trial_placement.grid import GridPlacement
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement
from psyphy_numpyro.trial_placement.sobol import SobolPlacement
from psyphy_numpyro.trial_placement.space_filling import PairPlacement

__all__ = ["GridPlacement", "InfoGainPlacement", "PairPlacement", "SobolPlacement"]
