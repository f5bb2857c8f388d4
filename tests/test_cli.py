"""The demo command, at a small size."""

import arviz as az
import numpy as np

from psyphy_numpyro.cli import main


def test_demo_writes_results(tmp_path, capsys):
    out = tmp_path / "demo"
    code = main(["demo", "--trials", "200", "--steps", "200", "--warmup", "100",
                 "--samples", "100", "--chains", "2", "--out", str(out),
                 "--no-progress"])
    assert code == 0
    text = capsys.readouterr().out
    for word in ("MAP log_diag", "r_hat", "ess_bulk", "Divergent transitions"):
        assert word in text
    for name in ("posterior.nc", "thresholds.png", "learning_curve.png", "trace.png"):
        assert (out / name).stat().st_size > 1000, name
    idata = az.from_netcdf(str(out / "posterior.nc"))
    assert {"posterior", "log_likelihood", "posterior_predictive"} <= set(idata.groups())
    assert idata.posterior.sizes["chain"] == 2
    assert np.all(np.isfinite(idata.posterior["log_diag"]))


def test_demo_bad_flag_is_a_clear_error(tmp_path, capsys):
    code = main(["demo", "--trials", "0", "--out", str(tmp_path), "--no-progress"])
    assert code == 2
    assert "num_trials" in capsys.readouterr().err
