"""Trials and files (psyphy's ``data``).

:mod:`.dataset` (``ResponseData``, ``TrialBatch``, ``TrialData``) and
:mod:`.io` (CSV logs, psyphy's pickled posteriors) mirror psyphy 0.0.5;
:mod:`.fits` saves and loads fits as NetCDF; :mod:`.published` reads
Hong et al.'s released data. The arrays the fitters take
(:class:`~psyphy_numpyro.core.trials.Trials`) are in the core.
"""

from psyphy_numpyro.data import published as published
from psyphy_numpyro.data.dataset import ResponseData, TrialBatch, TrialData

__all__ = ["ResponseData", "TrialBatch", "TrialData", "published"]
