"""GridPlacement: psyphy 0.0.5's walk through a fixed grid, in batches."""

import numpy as np
import pytest

from psyphy_numpyro.data.dataset import ResponseData, TrialBatch
from psyphy_numpyro.trial_placement.grid import GridPlacement


def _grid(n=5):
    return [([0.0, 0.0], [0.1 * i, 0.0]) for i in range(n)]


def test_grid_placement_walks_the_grid_in_batches():
    grid = GridPlacement(_grid())
    first = grid.propose(None, 2)
    assert isinstance(first, TrialBatch) and len(first) == 2
    np.testing.assert_array_equal(first.to_numpy()[:, 1, 0], [0.0, 0.1])
    assert grid.remaining == 3
    assert len(grid.propose(posterior=object(), batch_size=2)) == 2
    last = grid.propose(batch_size=2)  # the end of the grid: a shorter batch
    assert len(last) == 1 and grid.remaining == 0
    assert len(grid.propose(None, 3)) == 0
    data = ResponseData()
    data.add_batch([1], last)
    assert data.stim_shape == (2, 2)


def test_grid_placement_checks_its_arguments():
    with pytest.raises(ValueError, match="empty"):
        GridPlacement([])
    with pytest.raises(ValueError, match="same shape"):
        GridPlacement([([0.0], [0.1]), ([0.0, 0.0], [0.1, 0.0])])
    with pytest.raises(TypeError, match="batch_size"):
        GridPlacement(_grid()).propose(None)
    with pytest.raises(ValueError, match="batch_size"):
        GridPlacement(_grid()).propose(None, 0)


def test_grid_placement_matches_psyphy():
    placement = pytest.importorskip("psyphy.trial_placement")
    ours, theirs = GridPlacement(_grid()), placement.GridPlacement(_grid())
    for size in (2, 2, 2):
        np.testing.assert_array_equal(ours.propose(None, size).to_numpy(),
                                      np.asarray(theirs.propose(None, size).stimuli,
                                                 dtype=float).reshape(-1, 2, 2))
