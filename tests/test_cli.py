"""The demo and experiment commands, at small sizes."""

import contextlib
import io
import sqlite3

import arviz as az
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.cli import main
from psyphy_numpyro.experiment.cli_run import _load_truth, parse_strategies


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


# -- experiment -----------------------------------------------------------------------
TINY = ["experiment", "--model", "mvp", "--trials", "60", "--warmup", "20", "--batch",
        "10", "--eval-every", "20", "--candidates", "32", "--draws", "8", "--no-progress"]


def test_experiment_writes_sessions_posteriors_figures_and_table(tmp_path):
    # one run checked at once: under xdist, a shared fixture would run per worker
    out = tmp_path / "out"
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        code = main([*TINY, "--strategy", "bald,random", "--out", str(out)])
    assert code == 0
    assert (out / "threshold_error.png").stat().st_size > 1000
    text = stdout.getvalue()
    table = text[text.index("Threshold error"):].splitlines()
    assert all(str(n) in table[1] for n in (20, 40, 60))
    for strategy in ("bald", "random"):
        for name in (f"session_{strategy}.sqlite", f"posterior_{strategy}.nc",
                     f"thresholds_{strategy}.png"):
            assert (out / name).stat().st_size > 1000, name
        # the database holds every asked trial, answered, and a fit of all of them
        with sqlite3.connect(out / f"session_{strategy}.sqlite") as conn:
            asked, answered = conn.execute(
                "SELECT COUNT(*), COUNT(response) FROM trials").fetchone()
            sources = {r[0] for r in conn.execute("SELECT DISTINCT source FROM trials")}
            last = conn.execute("SELECT MAX(num_trials) FROM refits").fetchone()[0]
        assert asked == answered == last == 60
        assert sources == {"warmup", "placement"}
        idata = az.from_netcdf(str(out / f"posterior_{strategy}.nc"))
        assert {"posterior", "log_likelihood", "observed_data"} <= set(idata.groups())
        assert idata.observed_data.sizes["trial"] == 60
        assert np.all(np.isfinite(idata.posterior["log_diag"]))
        row = next(line for line in table if line.startswith(strategy))
        assert len(row.split()) == 1 + 3 + 3 + 3  # name, 3 errors, 2 x "med / p95"


def test_strategies_are_split_checked_and_deduplicated():
    assert parse_strategies(["bald, sobol", "random", "bald"]) == (
        "bald", "sobol", "random")
    with pytest.raises(ValueError, match="unknown strategy 'nuts'"):
        parse_strategies("bald,nuts")
    with pytest.raises(ValueError, match="at least one"):
        parse_strategies(" , ")


@pytest.mark.parametrize("flags, named", [
    (["--strategy", "bald,nuts"], "unknown strategy 'nuts'"),
    (["--trials", "10"], "trials=10 must be at least warmup=20"),
    (["--batch", "0"], "batch"),
    (["--eval-every", "15"], "eval_every=15 must be a multiple of batch=10"),
    (["--warmup", "25"], "warmup=25 must be a multiple of batch=10"),
    (["--trials", "50"], "trials=50 must be a multiple of eval_every=20"),
    (["--candidates", "5"], "batch=10 exceeds candidates=5"),
    (["--draws", "1"], "draws"),
    (["--model", "huge"], "model must be one of full, mvp"),
    (["--model", "full", "--degree", "-1"], "degree"),
    (["--truth-seed", "-1"], "truth_seed"),
    (["--truth", "no/such/fit.nc"], "no saved fit at 'no/such/fit.nc'")])
def test_experiment_bad_flag_is_refused_before_any_work(flags, named, tmp_path, capsys,
                                                        no_compilation):
    out = tmp_path / "results"
    with no_compilation():
        code = main([*TINY, *flags, "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert err.startswith("psyphy-numpyro: error: ") and named in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def test_experiment_unwritable_output_folder_is_one_line(tmp_path, capsys,
                                                         no_compilation):
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    for out in (blocker, blocker / "sub"):
        with no_compilation():
            assert main([*TINY, "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("psyphy-numpyro: error: ")
        assert len(err.strip().splitlines()) == 1 and str(blocker) in err


def test_experiment_never_reopens_a_session_file_unasked(tmp_path, capsys,
                                                        no_compilation):
    (tmp_path / "session_sobol.sqlite").write_bytes(b"")
    with no_compilation():
        assert main([*TINY, "--strategy", "sobol", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "session_sobol.sqlite" in err and "--overwrite" in err
    assert (tmp_path / "session_sobol.sqlite").read_bytes() == b""


def test_experiment_truth_from_a_saved_fit(tmp_path, capsys):
    mvp = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
    params = {"log_diag": jnp.log(jnp.array([0.04, 0.01]))}
    path = tmp_path / "truth.nc"
    pn.save_fit(path, pn.MAPPosterior(params, mvp))
    np.testing.assert_array_equal(_load_truth(mvp, path)["log_diag"],
                                  params["log_diag"])
    out = tmp_path / "out"
    assert main([*TINY, "--model", "full", "--degree", "2", "--truth", str(path),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "does not fit the chosen model" in err and "--model" in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()
