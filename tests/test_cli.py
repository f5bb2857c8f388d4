"""The demo command, at a small size."""

import arviz as az
import numpy as np
import pytest

from psyphy_numpyro.cli import main


@pytest.mark.slow
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


@pytest.mark.parametrize("flag, value, named", [
    ("--trials", "0", "trials"), ("--chains", "0", "num_chains"),
    ("--samples", "0", "num_samples"), ("--warmup", "-1", "num_warmup"),
    ("--steps", "0", "steps"), ("--seed", "-3", "seed")])
def test_demo_bad_flag_is_refused_before_any_work(flag, value, named, tmp_path, capsys,
                                                   no_compilation):
    out = tmp_path / "results"
    with no_compilation():
        code = main(["demo", flag, value, "--out", str(out), "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("psyphy-numpyro: error: ") and named in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_demo_unwritable_output_folder_is_one_line(tmp_path, capsys, no_compilation):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "sub"):
        with no_compilation():
            assert main(["demo", "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and str(blocker) in err
