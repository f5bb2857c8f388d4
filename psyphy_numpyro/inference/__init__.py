"""Fitters under psyphy's names, each ``fit(model, data) -> posterior``.

psyphy 0.0.5's modules (:mod:`.map_optimizer`, :mod:`.laplace`,
:mod:`.langevin`, :mod:`.base`) and, beside them, what psyphy lacks:
:mod:`.nuts` (NUTS), :mod:`.svi` (variational inference), :mod:`.refit`
(the fast warm-started refit of adaptive sessions) and :mod:`.bootstrap`
(refits of resampled data; ``MAPOptimizer.fit_many`` fits many datasets at once)
and :mod:`.population` (a hierarchical fit of many observers). The runners
they call are in :mod:`psyphy_numpyro.core.infer`.
"""

from psyphy_numpyro.inference.base import InferenceEngine
from psyphy_numpyro.inference.bootstrap import bootstrap
from psyphy_numpyro.inference.langevin import LangevinSampler, NumpyroSampler
from psyphy_numpyro.inference.laplace import LaplaceApproximation
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer
from psyphy_numpyro.inference.nuts import NUTSSampler
from psyphy_numpyro.inference.population import fit_population
from psyphy_numpyro.inference.refit import MAPLaplaceRefit
from psyphy_numpyro.inference.svi import SVIApproximation

INFERENCE_ENGINES = {
    "map": MAPOptimizer,
    "laplace": LaplaceApproximation,
    "langevin": LangevinSampler,
    "nuts": NUTSSampler,
    "svi": SVIApproximation,
}
"""Fitters by name (psyphy's registry, with NUTS and SVI added)."""

__all__ = [
    "INFERENCE_ENGINES",
    "InferenceEngine",
    "LangevinSampler",
    "LaplaceApproximation",
    "MAPLaplaceRefit",
    "MAPOptimizer",
    "NUTSSampler",
    "NumpyroSampler",
    "SVIApproximation",
    "bootstrap",
    "fit_population",
]
