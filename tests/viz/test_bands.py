"""Band figures draw every layer, and their legends say what is not drawn."""

import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.bands import (
    covariance_band,
    psychometric_band,
    threshold_bands,
)
from psyphy_numpyro.viz.bands import (
    plot_covariance_band,
    plot_psychometric_band,
    plot_threshold_bands,
)

REFS = np.array([[0.0, 0.0], [0.4, -0.3]])


def test_band_figures_draw_every_layer(scaled_stack):
    model, truth, _, stack = scaled_stack
    tb = threshold_bands(stack, REFS, model=model, num_angles=16)
    true = tb.draws._replace(radii=tb.draws.radii[0], reached=tb.draws.reached[0])
    ax = plot_threshold_bands(tb, {"truth": true}, scale=2.0)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert sorted(labels) == ["90% credible band", "posterior median (ellipse)",
                              "truth"]
    assert len(ax.patches) == len(REFS) and len(ax.lines) == 2 * len(REFS)
    # no upper end anywhere: no ring, but the legend says why; gaps are counted
    unbounded = tb._replace(band=tb.band._replace(upper=np.full((2, 16), np.inf)))
    gap = true._replace(radii=np.where(np.arange(16) == 3, np.inf, true.radii))
    ax = plot_threshold_bands(unbounded, {"truth": gap})
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "90% credible band (2 refs unbounded, not drawn)" in labels
    assert "truth (2 directions unreached)" in labels
    with pytest.raises(ValueError, match="one contour per reference"):
        plot_threshold_bands(tb, {"truth": true._replace(radii=true.radii[:1])})
    cb = covariance_band(stack, REFS, model=model)
    ax = plot_covariance_band(cb, pn.covariance_field(model, truth, REFS))
    assert len(ax.lines) == 2 * len(REFS)
    pb = psychometric_band(stack, REFS[0], 0.0, np.linspace(0, 0.3, 5), model=model)
    ax = plot_psychometric_band(pb, criterion=2 / 3)
    np.testing.assert_allclose(ax.lines[0].get_ydata(), pb.mean)
