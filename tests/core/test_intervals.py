"""The one interval rule, against numpy's percentiles and by hand."""

import numpy as np
import pytest

from psyphy_numpyro.core.intervals import central_interval


@pytest.mark.parametrize("prob", [0.5, 0.9, 0.95])
def test_finite_draws_match_numpys_linear_percentiles(prob):
    x = np.random.default_rng(0).normal(size=(101, 3, 4))
    lo, med, hi = central_interval(x, prob)
    tail = 50 * (1 - prob)
    want = np.percentile(x, [tail, 50, 100 - tail], axis=0)
    np.testing.assert_array_equal(np.stack([lo, med, hi]), want)


def test_unreached_draws_stay_infinite():
    x = np.array([[1.0, 1.0], [2.0, 3.0], [3.0, np.inf], [4.0, np.inf]])
    lo, med, hi = central_interval(x, 0.5)
    # positions 0.75, 1.5, 2.25 of the sorted columns, linear in between
    np.testing.assert_allclose(lo, [1.75, 2.5])
    np.testing.assert_allclose(med[0], 2.5)
    assert med[1] == np.inf and hi[1] == np.inf and hi[0] == 3.25


def test_prob_is_checked():
    with pytest.raises(ValueError, match="prob"):
        central_interval(np.zeros(3), 1.0)
