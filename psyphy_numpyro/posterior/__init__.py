"""Posteriors under psyphy's names, and the ones psyphy lacks.

psyphy 0.0.5's modules: :mod:`.parameter_posterior` (the protocol),
:mod:`.posterior` (``MAPPosterior``), :mod:`.predictive_posterior`. Beside
them: :mod:`.draws` (the base of every posterior that holds draws),
:mod:`.mcmc` (NUTS), :mod:`.langevin`, :mod:`.laplace`, :mod:`.svi` and
:mod:`.bootstrap` (bootstrap refits) and :mod:`.population` (a population of
observers).
"""

from psyphy_numpyro.posterior.bootstrap import BootstrapPosterior
from psyphy_numpyro.posterior.draws import DrawsPosterior, StoredPosterior
from psyphy_numpyro.posterior.langevin import LangevinPosterior
from psyphy_numpyro.posterior.laplace import LaplacePosterior
from psyphy_numpyro.posterior.mcmc import NUTSPosterior
from psyphy_numpyro.posterior.parameter_posterior import ParameterPosterior
from psyphy_numpyro.posterior.population import PopulationPosterior, observers_inference_data
from psyphy_numpyro.posterior.posterior import MAPPosterior
from psyphy_numpyro.posterior.predictive_posterior import (
    PredictivePosterior,
    ThresholdConfig,
    WPPMPredictivePosterior,
)
from psyphy_numpyro.posterior.svi import SVIPosterior

__all__ = [
    "BootstrapPosterior",
    "DrawsPosterior",
    "LangevinPosterior",
    "LaplacePosterior",
    "MAPPosterior",
    "NUTSPosterior",
    "ParameterPosterior",
    "PopulationPosterior",
    "PredictivePosterior",
    "SVIPosterior",
    "StoredPosterior",
    "ThresholdConfig",
    "WPPMPredictivePosterior",
    "observers_inference_data",
]
