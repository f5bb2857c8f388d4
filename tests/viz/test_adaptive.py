"""plot_threshold_error: one labelled line per run, a log axis when it fits."""

from types import SimpleNamespace

import numpy as np
import pytest

from psyphy_numpyro.viz.adaptive import plot_threshold_error


def _run(strategy, error, num_trials=(200, 300, 400)):
    return SimpleNamespace(strategy=strategy, num_trials=np.array(num_trials),
                           error=np.array(error))


def test_one_line_per_run_with_its_points_and_labels():
    runs = [_run("bald", [0.3, 0.2, 0.1]), _run("sobol", [0.4, 0.3, 0.25])]
    ax = plot_threshold_error(runs)
    assert [line.get_label() for line in ax.lines] == ["bald", "sobol"]
    np.testing.assert_array_equal(ax.lines[1].get_xdata(), [200, 300, 400])
    np.testing.assert_array_equal(ax.lines[1].get_ydata(), [0.4, 0.3, 0.25])
    assert ax.get_xlabel() and ax.get_ylabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["bald", "sobol"]


@pytest.mark.parametrize("error, log, scale", [
    ([0.3, 0.2, 0.1], None, "log"), ([0.3, 0.0, 0.1], None, "linear"),
    ([0.3, np.nan, 0.1], None, "log"), ([0.3, 0.2, 0.1], False, "linear")])
def test_log_axis_only_when_every_error_is_positive(error, log, scale):
    assert plot_threshold_error([_run("bald", error)], log=log).get_yscale() == scale


def test_draws_on_given_axes():
    import matplotlib.pyplot as plt

    _, ax = plt.subplots()
    assert plot_threshold_error([_run("random", [0.2, 0.2, 0.2])], ax=ax) is ax


def test_bad_runs_are_refused():
    with pytest.raises(ValueError, match="at least one run"):
        plot_threshold_error([])
    with pytest.raises(TypeError, match="lacks \\['error'\\]"):
        plot_threshold_error([SimpleNamespace(strategy="bald", num_trials=[1])])
    with pytest.raises(ValueError, match="one length"):
        plot_threshold_error([_run("bald", [0.1, 0.2])])
