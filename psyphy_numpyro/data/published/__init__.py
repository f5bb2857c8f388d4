"""Published data sets, downloaded on request (psyphy's ``data.published``).

Nothing here ships data: each module's ``fetch`` downloads one data set into a
user cache folder, and its loaders turn the files into this package's objects
(:class:`~psyphy_numpyro.data.dataset.TrialData`, weights ``W`` in the
model's layout, :class:`~psyphy_numpyro.model.wppm.WPPM`).

- :mod:`.hong2025`: colour discrimination of 8 observers, their WPPM fits and
  threshold ellipses (Hong et al., eLife 2025, RP108943).

Examples
--------
>>> from psyphy_numpyro.data.published import hong2025
>>> paths = hong2025.fetch(subject=1)  # doctest: +SKIP
>>> data = hong2025.load_trials(paths["trials"])  # doctest: +SKIP
"""

from psyphy_numpyro.data.published import hong2025 as hong2025

__all__ = ["hong2025"]
