"""psyphy's ``SobolPlacement``: references from a scrambled Sobol sequence."""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.stats import qmc

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.data.dataset import TrialBatch


class SobolPlacement:
    """Comparisons from a scrambled Sobol sequence inside ``bounds``.

    Parameters
    ----------
    dim
        Stimulus dimension ``d``.
    bounds
        ``(low, high)`` per dimension.
    seed
        Seed of the scrambling; the same seed gives the same sequence.
    reference
        The reference of every trial, shape ``(dim,)``; psyphy fixes it at the
        origin, which is the default here.

    Notes
    -----
    Successive calls to :meth:`propose` continue one sequence. Its balance
    guarantee holds for powers of 2: scipy warns (``UserWarning``) when the
    first batch has another size.
    """

    def __init__(
        self, dim: int, bounds: Any, seed: int | None = 0, *, reference: Any = None
    ) -> None:
        self.dim = check.positive_int("dim", dim)
        bounds = check.finite_array("bounds", bounds, ndim=2)
        if bounds.shape != (self.dim, 2) or not np.all(bounds[:, 0] < bounds[:, 1]):
            raise ValueError(
                f"bounds must be {self.dim} pairs (low, high) with low < high, got "
                f"{bounds.tolist()}."
            )
        self.bounds = bounds
        if reference is None:
            reference = np.zeros(self.dim)
        self.reference = check.finite_array("reference", reference, ndim=1)
        if self.reference.shape != (self.dim,):
            raise ValueError(
                f"reference must have shape ({self.dim},), got {self.reference.shape}."
            )
        self.engine = qmc.Sobol(d=self.dim, scramble=True, seed=seed)

    def propose(
        self, posterior: Any = None, batch_size: int | None = None
    ) -> TrialBatch:
        """Propose ``batch_size`` (reference, comparison) trials; posterior unused."""
        del posterior
        if batch_size is None:
            raise TypeError("propose needs batch_size, the number of trials.")
        batch_size = check.positive_int("batch_size", batch_size)
        low, high = self.bounds[:, 0], self.bounds[:, 1]
        comparisons = low + (high - low) * self.engine.random(batch_size)
        refs = np.broadcast_to(self.reference, comparisons.shape)
        return TrialBatch(np.stack([refs, comparisons], axis=1))
