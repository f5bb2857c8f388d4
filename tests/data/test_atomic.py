"""Atomic writes: a writer killed at any moment leaves the old file or the new one."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.data.atomic import atomic_file, atomic_path, is_partial

# A child that saves two versions of a file in turn until it is killed.
WRITER = textwrap.dedent("""
    import sys, jax, numpy as np
    import psyphy_numpyro as pn
    path, kind = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(0)
    X = rng.uniform(-1, 1, (3000, 2, 2))
    y = (rng.uniform(size=3000) > 0.5).astype(int)
    model = pn.WPPM()
    fits = [pn.MAPPosterior({"log_diag": np.full(2, v, np.float32)}, model,
                            np.arange(50000, dtype=np.float32)) for v in (1.0, 2.0)]
    print("ready", flush=True)
    i = 0
    while True:
        if kind == "csv":
            n = 1500 if i % 2 else 3000
            pn.save_responses_csv(pn.ResponseData.from_arrays(X[:n], y[:n]), path)
        else:
            pn.save_fit(path, fits[i % 2], overwrite=True)
        i += 1
""")


def kill_while_writing(path, kind, delay):
    with subprocess.Popen([sys.executable, "-W", "ignore", "-c", WRITER, str(path), kind],
                          stdout=subprocess.PIPE, text=True,
                          env={**os.environ, "JAX_PLATFORMS": "cpu"}) as child:
        assert child.stdout.readline().strip() == "ready"
        time.sleep(delay)
        child.send_signal(signal.SIGKILL)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["csv", "fit"])
def test_a_killed_writer_leaves_a_whole_file(tmp_path, kind):
    path = tmp_path / ("log.csv" if kind == "csv" else "fit.nc")
    rng = np.random.default_rng(1)
    for delay in rng.uniform(0.05, 1.5, size=4):
        kill_while_writing(path, kind, delay)
        if not path.exists():  # killed before the first file was complete
            continue
        if kind == "csv":
            assert len(pn.load_responses_csv(path)) in (1500, 3000)
        else:
            fit = pn.load_fit(path)
            assert float(fit.params["log_diag"][0]) in (1.0, 2.0)
        for leftover in tmp_path.iterdir():
            if leftover != path:
                assert is_partial(leftover)
                with pytest.raises(ValueError, match="did not finish"):
                    (pn.load_responses_csv if kind == "csv" else pn.load_fit)(leftover)


def test_an_interrupted_write_keeps_the_old_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("old\n")
    with pytest.raises(RuntimeError), atomic_file(path) as f:
        f.write("new, half")
        raise RuntimeError("stopped")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["notes.txt"]

    def half_then_fail(tmp):
        with open(tmp, "w") as f:
            f.write("x")
        raise OSError("disk full")

    def whole(tmp):
        with open(tmp, "w") as f:
            f.write("new\n")

    with pytest.raises(OSError, match="disk full"):
        atomic_path(path, half_then_fail)
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["notes.txt"]
    atomic_path(path, whole)
    assert path.read_text() == "new\n" and os.listdir(tmp_path) == ["notes.txt"]


def test_partial_names_are_recognised():
    assert is_partial("/a/.fit.nc.123.partial") and not is_partial("/a/fit.nc")
    assert not is_partial("/a/fit.nc.partial") and not is_partial("/a/.fit.partial")
