"""The model layer under psyphy's names: ``WPPM``, its prior, tasks and noise.

Modules mirror psyphy 0.0.5's ``psyphy.model``: :mod:`.wppm` (``WPPM``),
:mod:`.prior`, :mod:`.likelihood` (tasks), :mod:`.noise`,
:mod:`.covariance_field` and :mod:`.base`. The maths sits in
:mod:`psyphy_numpyro.core`; these classes hold a configuration and forward.
"""

from psyphy_numpyro.model.base import Model
from psyphy_numpyro.model.covariance_field import CovarianceField, WPPMCovarianceField
from psyphy_numpyro.model.likelihood import (
    OddityTask,
    OddityTaskConfig,
    TaskLikelihood,
    TwoAFC,
)
from psyphy_numpyro.model.noise import GaussianNoise, StudentTNoise
from psyphy_numpyro.model.prior import Prior
from psyphy_numpyro.model.wppm import WPPM

__all__ = [
    "CovarianceField",
    "GaussianNoise",
    "Model",
    "OddityTask",
    "OddityTaskConfig",
    "Prior",
    "StudentTNoise",
    "TaskLikelihood",
    "TwoAFC",
    "WPPM",
    "WPPMCovarianceField",
]
