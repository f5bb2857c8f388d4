"""Figures (psyphy's ``viz``): ellipses, thresholds, bands, learning curves.

:mod:`.ellipses` and :mod:`.geometry` mirror psyphy 0.0.5; :mod:`.thresholds`,
:mod:`.bands` and :mod:`.diagnostics` add what psyphy lacks. :mod:`.style`
holds the shared look.
"""

from psyphy_numpyro.viz.ellipses import plot_ellipses
from psyphy_numpyro.viz.geometry import auto_scale, ellipse_segments

__all__ = ["auto_scale", "ellipse_segments", "plot_ellipses"]
