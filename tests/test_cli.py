"""The demo and experiment commands, at small sizes."""

import contextlib
import io
import json
import os
import sqlite3

import arviz as az
import jax.numpy as jnp
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.cli import main
from psyphy_numpyro.core.idata import group_names
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
    assert {"posterior", "log_likelihood", "posterior_predictive"} <= set(group_names(idata))
    assert idata.posterior.sizes["chain"] == 2
    assert np.all(np.isfinite(idata.posterior["log_diag"]))


@pytest.mark.slow
def test_the_demos_map_fit_stays_stable_at_study_scale(tmp_path, capsys):
    # at the seed's rate (2e-2) SGD on 6,000 trials' summed objective diverged
    # (log_diag near [95, 11]); the demo's rate shrinks with the trials
    code = main(["demo", "--trials", "6000", "--warmup", "50", "--samples", "50",
                 "--chains", "1", "--out", str(tmp_path / "demo"), "--no-progress"])
    assert code == 0
    line = next(t for t in capsys.readouterr().out.splitlines()
                if t.startswith("MAP log_diag"))
    fit = np.array(json.loads(line.split("=", 1)[1]))  # a printed list of two numbers
    assert np.all(np.isfinite(fit)) and np.all(np.abs(fit) < 5.0)
    assert abs(fit[1] - np.log(0.01)) < 0.1  # the dimension the trials determine


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
        code = main([*TINY, "--strategy", "bald,threshold_linear,random", "--out",
                     str(out)])
    assert code == 0
    assert (out / "threshold_error.png").stat().st_size > 1000
    text = stdout.getvalue()
    table = text[text.index("Threshold error"):].splitlines()
    assert all(str(n) in table[1] for n in (20, 40, 60))
    for strategy in ("bald", "threshold_linear", "random"):
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
        assert {"posterior", "log_likelihood", "observed_data"} <= set(group_names(idata))
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


# -- what every command refuses, and how it fails (issue 18) --------------------------
def test_version_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    assert capsys.readouterr().out.strip() == f"psyphy-numpyro {pn.__version__}"


@pytest.mark.parametrize("argv, named", [
    (["demo", "--steps", "1.5"], "argument --steps: invalid integer: '1.5'"),
    (["demo", "--trials", "many"], "argument --trials: invalid integer: 'many'"),
    (["demo", "--steps", "nan"], "argument --steps: invalid integer: 'nan'"),
    (["demo", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
    (["experiment", "--batch", "2.5"], "argument --batch: invalid integer: '2.5'")])
def test_argparse_errors_are_one_usage_line(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and named in err
    assert err.startswith("psyphy-numpyro") and ": error: " in err and "--help" in err


@pytest.mark.parametrize("flag, value, message", [
    ("--steps", "1e11", ("steps must be at most 2147483647 (JAX counts loop iterations "
                         "in int32), got 100000000000.")),
    ("--warmup", "2147483000", "num_warmup + num_samples must be at most 2147483647")])
def test_counts_beyond_int32_are_refused_before_any_work(flag, value, message, tmp_path,
                                                         capsys, no_compilation):
    out = tmp_path / "results"
    with no_compilation():
        assert main(["demo", flag, value, "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("psyphy-numpyro: error: ") and message in err
    assert len(err.strip().splitlines()) == 1 and not out.exists()


def _never(*args, **kwargs):
    raise AssertionError("work started before the options were refused")


def test_sizes_beyond_the_available_memory_are_refused_with_the_estimate(
        tmp_path, capsys, monkeypatch, no_compilation):
    from psyphy_numpyro import cli
    from psyphy_numpyro.experiment import simulate

    monkeypatch.setattr(cli, "available_memory", lambda: 2**30)
    monkeypatch.setattr(pn, "simulate_trials", _never)
    monkeypatch.setattr(simulate, "run_simulated_session", _never)
    out = tmp_path / "results"
    trials = 10**7
    b = cli.DEMO_BYTES  # the estimate: fixed + per trial + per draw and trial + per step
    need = (b["fixed"] + b["trial"] * trials + b["step"] * 1000
            + b["draw_trial"] * 4 * 1000 * trials)
    for argv, what in [
            (["demo", "--trials", "1e7"], "the demo with trials=10000000"),
            ([*TINY, "--candidates", "1e8"], "candidates=100000000, draws=8)")]:
        with no_compilation():
            assert main([*argv, "--out", str(out), "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("psyphy-numpyro: error: ") and what in err
        assert "only 1 GiB is available; choose smaller sizes" in err
        assert len(err.strip().splitlines()) == 1 and not out.exists()
    # the demo's line gives the estimate in GiB
    main(["demo", "--trials", "1e7", "--out", str(out)])
    assert f"needs about {need / 2**30:.3g} GiB" in capsys.readouterr().err


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="Linux /proc")
def test_available_memory_sees_ulimit_v():
    import resource

    from psyphy_numpyro.cli import available_memory

    def vm_size():
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f
                        if line.startswith("VmSize:"))

    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    room = 2**30
    try:
        resource.setrlimit(resource.RLIMIT_AS, (vm_size() + room, hard))
        seen = available_memory()
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
    assert room - 64 * 2**20 <= seen <= room


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="Linux /proc")
def test_a_folder_nobody_can_write_is_refused_before_any_work(tmp_path, capsys,
                                                              monkeypatch):
    # /proc refuses new entries even to root, whom permission bits do not stop
    monkeypatch.setattr(pn, "simulate_trials", _never)
    for out in ("/proc/psyphy-numpyro-test", "/proc/psyphy-numpyro-test/sub"):
        assert main(["demo", "--out", out, "--no-progress"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("psyphy-numpyro: error: cannot write the output folder")
        assert len(err.strip().splitlines()) == 1 and not os.path.exists(out)


@pytest.mark.parametrize("raised, status, first_line", [
    (TypeError("boom"), 1, "psyphy-numpyro: internal error: TypeError: boom"),
    (ValueError("bad shape"), 1, "psyphy-numpyro: internal error: ValueError: bad shape"),
    (MemoryError(), 1, ("psyphy-numpyro: error: out of memory (MemoryError); choose "
                        "smaller sizes.")),
    (OSError(28, "No space left on device"), 1,
     "psyphy-numpyro: error: [Errno 28] No space left on device"),
    (KeyboardInterrupt(), 130, "psyphy-numpyro: interrupted.")])
def test_a_run_that_fails_after_its_checks_says_why_and_leaves_no_folder(
        raised, status, first_line, tmp_path, capsys, monkeypatch):
    def fail(*args, **kwargs):
        (tmp_path / "new" / "out").mkdir(parents=True)  # as the run would
        raise raised

    monkeypatch.setattr(pn, "simulate_trials", fail)
    out = tmp_path / "new" / "out"
    assert main(["demo", "--out", str(out), "--no-progress"]) == status
    err = capsys.readouterr().err
    assert err.splitlines()[0] == first_line
    if status == 1 and first_line.startswith("psyphy-numpyro: internal error"):
        assert "--traceback" in err and "not in the options" in err
        assert "Traceback" not in err
    else:
        assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "new").exists()  # every folder the run created is gone


def test_internal_error_traceback_on_request_and_existing_folders_are_kept(
        tmp_path, capsys, monkeypatch):
    from psyphy_numpyro.experiment import simulate

    def fail(*args, **kwargs):
        raise TypeError("inside the library")

    monkeypatch.setattr(simulate, "run_simulated_session", fail)
    (tmp_path / "notes.txt").write_text("kept")
    assert main(["--traceback", *TINY, "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err
    assert "psyphy-numpyro: internal error: TypeError: inside the library" in err
    assert (tmp_path / "notes.txt").read_text() == "kept"
