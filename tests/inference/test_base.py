"""start_params: every fitter names a bad starting point."""

import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.mark.parametrize(
    "init, match",
    [({"logdiag": np.zeros(2)}, "init_params"), ({"log_diag": np.zeros(3)}, "shape"),
     ({"log_diag": np.array([np.nan, 0.0])}, "NaN")],
)
def test_bad_init_params_are_named(mvp_model, seed_data, init, match):
    with pytest.raises(ValueError, match=match):
        pn.MAPOptimizer(steps=5, show_progress=False).fit(mvp_model, seed_data,
                                                          init_params=init)
    with pytest.raises(ValueError, match=match):
        pn.NUTSSampler(num_warmup=5, num_samples=5, progress_bar=False).fit(
            mvp_model, seed_data, init_params=init)
