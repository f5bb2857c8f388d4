"""plot_thresholds: the trials and threshold contours, with the legend where asked."""

import psyphy_numpyro as pn


def test_plot_thresholds_legend_loc(mvp_model, seed_truth, seed_data):
    trials = mvp_model.trials(seed_data)
    c = pn.threshold_contour(mvp_model, seed_truth, num_angles=32)
    ax = pn.plot_thresholds(trials, {"true": c}, legend_loc="lower left")
    assert ax.get_legend()._loc == 3  # matplotlib's code for "lower left"
    ax = pn.plot_thresholds(trials, {"true": c})
    assert ax.get_legend()._loc == 1
