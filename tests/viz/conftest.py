"""Figures: the Agg backend, figures closed after each test, random ellipse fields."""

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pytest

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="session")
def random_covariance_field():
    """A function ``(n, seed=0) -> (centers, covs)``: a random field of 2-D ellipses.

    ``n`` centres uniform in [-1, 1]^2, covariances ``A A^T + 1e-3 I`` with
    N(0, 0.1^2) entries in ``A``.
    """

    def field(n, seed=0):
        rng = np.random.default_rng(seed)
        A = rng.normal(0.0, 0.1, (n, 2, 2))
        covs = A @ np.swapaxes(A, 1, 2) + 1e-3 * np.eye(2)
        return rng.uniform(-1, 1, (n, 2)), covs

    return field
