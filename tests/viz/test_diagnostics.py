"""plot_learning_curve renders the loss history."""

import numpy as np

import psyphy_numpyro as pn


def test_learning_curve_renders():
    ax = pn.plot_learning_curve(np.arange(5), np.linspace(3.0, 1.0, 5))
    assert len(ax.lines) == 1
