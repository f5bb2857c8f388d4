"""``BootstrapPosterior``: the MAP fits of bootstrap replicates, used as draws."""

from __future__ import annotations

import numpy as np

from psyphy_numpyro.posterior.draws import StoredPosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior


class BootstrapPosterior(StoredPosterior):
    """Bootstrap refits of one dataset (:func:`~psyphy_numpyro.bootstrap`).

    Every readout, band and plot that takes posterior draws takes this one:
    its draws are the replicates' MAP estimates (``sample`` resamples them,
    ``to_inference_data`` writes each once, as one chain).

    Attributes
    ----------
    params
        The MAP fit to all the data (every replicate's start).
    samples
        The replicates' estimates, ``{site: (R, *site shape)}``.
    fit
        That full-data fit, a :class:`~psyphy_numpyro.MAPPosterior`.
    indices
        The trials each replicate drew, shape ``(R, N)``.
    losses
        Each replicate's loss per step.
    """

    inference = "bootstrap"

    def __init__(self, fit: MAPPosterior, samples: dict, indices: np.ndarray,
                 losses: tuple = (), model_kwargs: dict | None = None) -> None:
        super().__init__(fit.model, fit.params, samples, fit.trials, model_kwargs)
        self.fit, self.indices, self.losses = fit, np.asarray(indices), tuple(losses)

    @property
    def num_replicates(self) -> int:
        """Number of replicates R."""
        return int(self.indices.shape[0])

    def __repr__(self) -> str:
        return f"BootstrapPosterior(replicates={self.num_replicates})"
