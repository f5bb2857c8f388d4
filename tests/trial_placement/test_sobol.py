"""SobolPlacement: psyphy 0.0.5's scrambled Sobol probes, in bounds and reproducible."""

import numpy as np
import pytest

from psyphy_numpyro.trial_placement.sobol import SobolPlacement

BOUNDS = [(-0.5, 0.5), (0.0, 1.0)]


def test_sobol_placement_matches_psyphy_and_stays_in_bounds():
    placement = pytest.importorskip("psyphy.trial_placement")
    ours = SobolPlacement(2, BOUNDS, seed=3).propose(None, 16).to_numpy()
    theirs = placement.SobolPlacement(2, BOUNDS, seed=3).propose(None, 16).stimuli
    np.testing.assert_array_equal(ours, np.asarray(theirs, dtype=float))
    assert np.all(ours[:, 0] == 0.0)
    low, high = np.array(BOUNDS).T
    assert np.all((ours[:, 1] >= low) & (ours[:, 1] < high))


def test_sobol_placement_is_one_reproducible_sequence():
    one = SobolPlacement(2, BOUNDS, seed=1)
    halves = np.concatenate([one.propose(None, 8).to_numpy(),
                             one.propose(None, 8).to_numpy()])
    whole = SobolPlacement(2, BOUNDS, seed=1).propose(None, 16).to_numpy()
    np.testing.assert_array_equal(halves, whole)
    other = SobolPlacement(2, BOUNDS, seed=2).propose(None, 16).to_numpy()
    assert not np.array_equal(other, whole)


def test_sobol_placement_reference_and_checks():
    batch = SobolPlacement(1, [(0.0, 1.0)], reference=[0.25]).propose(None, 4)
    assert batch.to_numpy().shape == (4, 2, 1)
    assert np.all(batch.to_numpy()[:, 0, 0] == 0.25)
    with pytest.warns(UserWarning, match="balance properties"):
        SobolPlacement(2, BOUNDS).propose(None, 5)
    with pytest.raises(ValueError, match="low < high"):
        SobolPlacement(2, [(0.0, 1.0)])
    with pytest.raises(ValueError, match="low < high"):
        SobolPlacement(1, [(1.0, 0.0)])
    with pytest.raises(ValueError, match="reference"):
        SobolPlacement(2, BOUNDS, reference=[0.0])
