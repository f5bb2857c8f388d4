"""psyphy's ``GridPlacement``: trials on a fixed grid of references."""

from __future__ import annotations

from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.data.dataset import TrialBatch


class GridPlacement:
    """Walk through a fixed list of trials, ``batch_size`` at a time.

    Parameters
    ----------
    grid_points
        The allowed trials in order: ``[(ref, probe), ...]`` or an array of
        shape ``(P, K, d)``.

    Examples
    --------
    >>> grid = GridPlacement([([0.0, 0.0], [0.1, 0.0]), ([0.0, 0.0], [0.0, 0.1])])
    >>> grid.propose(None, 1).to_numpy().tolist()
    [[[0.0, 0.0], [0.1, 0.0]]]
    >>> grid.remaining
    1
    """

    def __init__(self, grid_points: Any) -> None:
        batch = TrialBatch(grid_points)
        if not len(batch):
            raise ValueError("grid_points is empty: give at least one trial.")
        self.grid_points: list[np.ndarray] = batch.stimuli
        self._index = 0

    @property
    def remaining(self) -> int:
        """How many grid trials have not been proposed yet."""
        return len(self.grid_points) - self._index

    def propose(
        self, posterior: Any = None, batch_size: int | None = None
    ) -> TrialBatch:
        """Return the next ``batch_size`` grid trials (the posterior is ignored).

        Near the end of the grid the batch is shorter, and once the grid is
        used up it is empty (as in psyphy); check :attr:`remaining`.
        """
        del posterior
        if batch_size is None:
            raise TypeError("propose needs batch_size, the number of trials.")
        batch_size = check.positive_int("batch_size", batch_size)
        start = self._index
        self._index = min(start + batch_size, len(self.grid_points))
        return TrialBatch(self.grid_points[start : self._index])
