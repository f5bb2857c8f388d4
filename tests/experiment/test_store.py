"""The session store: what is written reads back whole; one opener at a time."""

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from psyphy_numpyro.experiment.store import (
    SCHEMA_VERSION,
    SessionInUseError,
    SessionStore,
)

STORE_FILE = (Path(__file__).resolve().parents[2] / "psyphy_numpyro" / "experiment"
              / "store.py")
IDENTITY = {"input_dim": 2, "seed": 0, "model": {"basis_degree": 4, "slope": 1.5}}

# Child processes load store.py on its own: importing the package would load JAX.
PRELUDE = f"""
import importlib.util, sys, time
spec = importlib.util.spec_from_file_location("session_store", {str(STORE_FILE)!r})
store = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = store
spec.loader.exec_module(store)
import numpy as np
"""


def bits(a):
    return np.asarray(a, dtype=np.float64).view(np.uint64)


def awkward_floats(rng, shape):
    """float64 values whose every bit counts: -0.0, subnormals, 1/3, huge."""
    a = rng.normal(size=shape) / 3.0
    flat = a.reshape(-1)
    flat[:4] = [-0.0, 5e-324, 1.0 / 3.0, 1.7976931348623157e308]
    return a


@pytest.fixture
def child(tmp_path):
    """A function starting ``python -c PRELUDE + code``; every child is killed after."""
    started = []

    def start(code):
        proc = subprocess.Popen(
            [sys.executable, "-c", PRELUDE + textwrap.dedent(code)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        started.append(proc)
        return proc

    yield start
    for proc in started:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()


def line_from(proc):
    line = proc.stdout.readline()
    assert line, f"the child stopped: {proc.communicate()[1]}"
    return line.split()


@pytest.fixture
def store_with_trials(tmp_path):
    """An open store with 4 asked trials, trial 2 answered: ``(store, pending ids)``."""
    rng = np.random.default_rng(1)
    store = SessionStore(tmp_path / "s.sqlite", IDENTITY)
    ids = store.add_asked(rng.normal(size=(4, 2)), rng.normal(size=(4, 2)),
                          proposal=0, sources="warmup")
    store.record_answers([ids[1]], [1])
    yield store, [ids[0], ids[2], ids[3]], ids[1]
    store.close()


# -- round trips --------------------------------------------------------------------
def test_answers_and_pending_trials_read_back_exactly_after_reopening(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "session.sqlite"
    refs, probes = awkward_floats(rng, (6, 2)), awkward_floats(rng, (6, 2))[::-1]
    with SessionStore(path, IDENTITY, {"note": "pilot"}) as store:
        assert store.created
        first = store.add_asked(refs[:4], probes[:4], proposal=0, sources="warmup")
        second = store.add_asked(refs[4:], probes[4:], proposal=1,
                                 sources=["placement", "fallback"],
                                 criteria=[0.25, None])
        ids = first + second
        assert ids == sorted(set(ids))
        store.record_answers([ids[4], ids[1]], np.array([True, False]))
        store.record_answers(np.array([ids[3]]), [1])

    with SessionStore(path, IDENTITY) as store:
        assert not store.created
        got_ids, got_refs, got_probes, responses = store.answered()
        told = [4, 1, 3]
        np.testing.assert_array_equal(got_ids, [ids[k] for k in told])
        assert got_refs.dtype == got_probes.dtype == np.float64
        np.testing.assert_array_equal(bits(got_refs), bits(refs[told]))
        np.testing.assert_array_equal(bits(got_probes), bits(probes[told]))
        assert responses.dtype.kind == "i"
        np.testing.assert_array_equal(responses, [1, 0, 1])

        pending = store.pending()
        assert [t.id for t in pending] == [ids[k] for k in (0, 2, 5)]
        for t, k in zip(pending, (0, 2, 5), strict=True):
            np.testing.assert_array_equal(bits(t.ref), bits(refs[k]))
            np.testing.assert_array_equal(bits(t.probe), bits(probes[k]))
        assert [(t.proposal, t.source, t.criterion) for t in pending] == [
            (0, "warmup", None), (0, "warmup", None), (1, "fallback", None)]
        assert store.num_answered() == 3
        assert store.num_proposals() == 2
        rows = store.trial_rows()
        assert [r["told_seq"] for r in rows if r["response"] is not None] == [2, 3, 1]
        assert rows[4]["criterion"] == 0.25 and rows[4]["source"] == "placement"


def test_an_empty_session_has_no_answers_and_no_proposals(tmp_path):
    with SessionStore(tmp_path / "s.sqlite", IDENTITY) as store:
        ids, refs, probes, responses = store.answered()
        assert ids.shape == responses.shape == (0,)
        assert refs.shape == probes.shape == (0, 2)
        assert store.pending() == [] and store.num_proposals() == 0
        assert store.last_refit() is None


def test_resuming_needs_the_same_identity_and_keeps_the_stored_settings(tmp_path):
    path = tmp_path / "s.sqlite"
    with SessionStore(path, IDENTITY, {"operator": "ab", "screen": [1920, 1080]}):
        pass
    other = {**IDENTITY, "seed": 1, "placement": "sobol"}
    with pytest.raises(ValueError, match=r"(?s)placement: stored \(none\).*seed: "
                                         r"stored 0 vs given 1") as info:
        SessionStore(path, other)
    assert "model" not in str(info.value) and "input_dim" not in str(info.value)
    resumed_identity = {"seed": 0, "model": {"slope": 1.5, "basis_degree": 4},
                        "input_dim": 2}  # same dict, other key order
    with SessionStore(path, resumed_identity, {"operator": "cd"}) as store:
        assert store.settings == {"operator": "ab", "screen": [1920, 1080]}
        assert store.identity == IDENTITY


@pytest.mark.parametrize("name, value, error", [
    ("identity", ["input_dim", 2], TypeError),
    ("identity", {"seed": np.int64(0)}, TypeError),
    ("identity", {"scale": float("nan")}, ValueError),
    ("settings", {"when": object()}, TypeError),
])
def test_identity_and_settings_must_be_json_dicts(tmp_path, name, value, error):
    path = tmp_path / "s.sqlite"
    kwargs = {"identity": IDENTITY, "settings": None, name: value}
    with pytest.raises(error, match=name):
        SessionStore(path, **kwargs)
    assert not path.exists()


# -- one opener at a time ------------------------------------------------------------
def test_a_second_store_in_this_process_is_refused_until_the_first_closes(tmp_path):
    path = tmp_path / "s.sqlite"
    first = SessionStore(path, IDENTITY)
    with pytest.raises(SessionInUseError, match="close the other session first"):
        SessionStore(path, IDENTITY)
    first.close()
    with SessionStore(path, IDENTITY) as second:
        assert not second.created


def test_a_store_held_by_another_process_is_refused_until_it_dies(tmp_path, child):
    path = tmp_path / "s.sqlite"
    proc = child(f"""
        s = store.SessionStore({str(path)!r}, {IDENTITY!r})
        print("ready", flush=True)
        time.sleep(60)
    """)
    assert line_from(proc) == ["ready"]
    with pytest.raises(SessionInUseError, match=re.escape(str(path))):
        SessionStore(path, IDENTITY)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    with SessionStore(path, IDENTITY) as store:
        assert not store.created


def test_a_killed_writer_keeps_every_confirmed_answer(tmp_path, child):
    path = tmp_path / "s.sqlite"
    proc = child(f"""
        s = store.SessionStore({str(path)!r}, {IDENTITY!r})
        rng = np.random.default_rng(7)
        i = 0
        while True:
            ref, probe = rng.normal(size=(1, 2)), rng.normal(size=(1, 2))
            (tid,) = s.add_asked(ref, probe, proposal=i, sources="placement",
                                 criteria=[i / 3])
            s.record_answers([tid], [i % 2])
            print(tid, i % 2, flush=True)
            i += 1
    """)
    confirmed = {}
    while len(confirmed) < 30:
        tid, response = map(int, line_from(proc))
        confirmed[tid] = response
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()

    with SessionStore.open_read_only(path) as reader:  # the file as the kill left it
        read_first = reader.answered()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    raw.close()
    rng = np.random.default_rng(7)
    with SessionStore(path, IDENTITY) as store:
        ids, refs, probes, responses = store.answered()
        assert len(store.pending()) <= 1  # asked, killed before its answer
    for a, b in zip(read_first, (ids, refs, probes, responses), strict=True):
        np.testing.assert_array_equal(a, b)
    answers = dict(zip(ids.tolist(), responses.tolist(), strict=True))
    assert {k: answers.get(k) for k in confirmed} == confirmed
    np.testing.assert_array_equal(ids, np.arange(1, len(ids) + 1))
    for k in range(len(ids)):
        ref, probe = rng.normal(size=(1, 2)), rng.normal(size=(1, 2))
        np.testing.assert_array_equal(bits(refs[k]), bits(ref[0]))
        np.testing.assert_array_equal(bits(probes[k]), bits(probe[0]))
    assert responses.tolist() == [k % 2 for k in range(len(ids))]


def test_a_read_only_store_reads_what_was_written_and_writes_nothing(tmp_path):
    rng = np.random.default_rng(3)
    path = tmp_path / "s.sqlite"
    refs, probes = awkward_floats(rng, (5, 2)), awkward_floats(rng, (5, 2))
    with SessionStore(path, IDENTITY, {"note": "pilot"}) as store:
        ids = store.add_asked(refs, probes, proposal=0, sources="warmup")
        store.record_answers([ids[3], ids[0]], [0, 1])
        store.add_refit(num_trials=2, config={"steps": 3}, seed=5,
                        params={"w": np.arange(4.0)}, started_at=1.0, seconds=0.5)
    before = path.read_bytes()
    with SessionStore.open_read_only(path) as store:
        assert store.read_only and not store.created and store.input_dim == 2
        assert store.identity == IDENTITY and store.settings == {"note": "pilot"}
        got_ids, got_refs, got_probes, responses = store.answered()
        assert got_ids.tolist() == [ids[3], ids[0]] and responses.tolist() == [0, 1]
        np.testing.assert_array_equal(bits(got_refs), bits(refs[[3, 0]]))
        np.testing.assert_array_equal(bits(got_probes), bits(probes[[3, 0]]))
        assert [t.id for t in store.pending()] == [ids[1], ids[2], ids[4]]
        (refit,) = store.refits()
        np.testing.assert_array_equal(refit.params["w"], np.arange(4.0))
        with pytest.raises(SessionInUseError):  # a reader holds the file too
            SessionStore(path, IDENTITY)
        with SessionStore.open_read_only(path) as second:  # readers share it
            assert second.num_answered() == 2
        for write in (lambda: store.add_asked(refs, probes, proposal=1, sources="warmup"),
                      lambda: store.record_answers([ids[1]], [1]),
                      lambda: store.add_refit(num_trials=2, config={}, seed=0,
                                              params={}, started_at=0.0, seconds=0.0)):
            with pytest.raises(ValueError, match="opened read-only"):
                write()
    assert path.read_bytes() == before
    with SessionStore(path, IDENTITY) as store:  # the readers released it
        assert store.num_answered() == 2
        with pytest.raises(SessionInUseError, match=re.escape(str(path))):
            SessionStore.open_read_only(path)


# -- refused files and input --------------------------------------------------------
def folder_state(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def _not_sqlite(path):
    path.write_text("trial,response\n" * 50)


def _foreign_sqlite(path):
    with sqlite3.connect(path) as raw:
        raw.execute("CREATE TABLE trials (x)")
    raw.close()


def _other_version(path):
    SessionStore(path, IDENTITY).close()
    with sqlite3.connect(path) as raw:
        raw.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    raw.close()


@pytest.mark.parametrize("make, match", [
    (_not_sqlite, "not a psyphy_numpyro session file"),
    (_foreign_sqlite, "not a psyphy_numpyro session file"),
    (_other_version, f"schema version 2.*reads version {SCHEMA_VERSION}"),
])
def test_a_file_that_is_not_a_session_of_this_version_is_refused_untouched(
        tmp_path, make, match):
    path = tmp_path / "s.sqlite"
    make(path)
    before = folder_state(tmp_path)
    for opener in (lambda: SessionStore(path, IDENTITY),
                   lambda: SessionStore.open_read_only(path)):
        with pytest.raises(ValueError, match=match) as info:
            opener()
        assert str(path) in str(info.value)
        assert folder_state(tmp_path) == before


def test_the_folder_must_exist_and_is_never_created(tmp_path):
    folder = tmp_path / "missing"
    with pytest.raises(ValueError, match=re.escape(str(folder))):
        SessionStore(folder / "s.sqlite", IDENTITY)
    assert not folder.exists()


def test_a_read_only_open_of_a_missing_or_empty_file_is_refused_and_creates_nothing(
        tmp_path):
    with pytest.raises(ValueError, match="path: there is no session file"):
        SessionStore.open_read_only(tmp_path / "s.sqlite")
    assert not list(tmp_path.iterdir())
    (tmp_path / "s.sqlite").write_bytes(b"")
    with pytest.raises(ValueError, match="an empty SQLite file"):
        SessionStore.open_read_only(tmp_path / "s.sqlite")
    assert [p.name for p in tmp_path.iterdir()] == ["s.sqlite"]


GOOD = {"refs": np.zeros((2, 2)), "probes": np.ones((2, 2)), "proposal": 1,
        "sources": "placement", "criteria": None}


@pytest.mark.parametrize("change, error, match", [
    ({"refs": np.zeros(2)}, ValueError, r"refs must have shape \(n, d\)"),
    ({"refs": np.zeros((0, 2)), "probes": np.zeros((0, 2))}, ValueError, "refs"),
    ({"probes": np.ones((3, 2))}, ValueError, "same shape"),
    ({"refs": np.zeros((2, 3)), "probes": np.ones((2, 3))}, ValueError, "input_dim"),
    ({"probes": np.array([[1.0, np.nan], [0.0, 0.0]])}, ValueError, "probes must be "
                                                                    "finite"),
    ({"refs": np.array([[0.0, 0.0], [np.inf, 0.0]])}, ValueError, "refs must be "
                                                                  "finite"),
    ({"refs": np.array([["a", "b"], ["c", "d"]])}, TypeError, "refs"),
    ({"proposal": -1}, ValueError, "proposal"),
    ({"proposal": 1.0}, TypeError, "proposal"),
    ({"proposal": True}, TypeError, "proposal"),
    ({"sources": "bogus"}, ValueError, "sources must be among"),
    ({"sources": ["warmup"]}, ValueError, "sources must hold one entry per trial"),
    ({"sources": ["warmup", "prior"]}, ValueError, "'prior'"),
    ({"criteria": [0.5, float("nan")]}, ValueError, r"criteria\[1\]"),
    ({"criteria": [0.5]}, ValueError, "criteria must hold one entry"),
    ({"criteria": "high"}, TypeError, "criteria"),
])
def test_bad_asked_trials_are_refused_and_nothing_is_written(
        store_with_trials, change, error, match):
    store = store_with_trials[0]
    before = store.trial_rows()
    kwargs = {**GOOD, **change}
    with pytest.raises(error, match=match):
        store.add_asked(kwargs.pop("refs"), kwargs.pop("probes"), **kwargs)
    assert store.trial_rows() == before


@pytest.mark.parametrize("ids, responses, error, match", [
    (["p0"], [0.5], TypeError, "responses"),
    (["p0"], [1.0], TypeError, "responses"),
    (["p0"], [np.nan], TypeError, "responses"),
    (["p0"], ["1"], TypeError, "responses"),
    (["p0"], [2], ValueError, "responses must be 0 or 1"),
    (["p0", "p1"], [1], ValueError, "responses must hold one entry per id"),
    (["p0", 99], [1, 0], ValueError, "no asked trial has id 99"),
    (["p0", "p1", "p0"], [1, 0, 1], ValueError, "ids must be distinct"),
    (["p0", "done"], [1, 1], ValueError, r"trial \d+ was already answered"),
    ([1.5], [1], TypeError, "ids"),
])
def test_bad_answers_are_refused_and_nothing_is_written(
        store_with_trials, ids, responses, error, match):
    store, pending, done = store_with_trials
    names = {"p0": pending[0], "p1": pending[1], "done": done}
    ids = [names.get(i, i) if isinstance(i, str) else i for i in ids]
    before = store.trial_rows()
    with pytest.raises(error, match=match):
        store.record_answers(ids, responses)
    assert store.trial_rows() == before


def test_a_write_failing_midway_leaves_nothing(store_with_trials):
    store = store_with_trials[0]
    before = store.trial_rows()
    store._conn.execute(  # the 3rd new row fails inside the transaction
        "CREATE TEMP TRIGGER fail BEFORE INSERT ON trials "
        "WHEN (SELECT COUNT(*) FROM trials) >= 6 BEGIN SELECT RAISE(ABORT, 'x'); END")
    with pytest.raises(sqlite3.IntegrityError):
        store.add_asked(np.zeros((3, 2)), np.ones((3, 2)), proposal=1,
                        sources="placement")
    assert store.trial_rows() == before
    store.add_asked(np.zeros((2, 2)), np.ones((2, 2)), proposal=1, sources="placement")
    assert len(store.trial_rows()) == len(before) + 2


def test_a_closed_store_refuses_every_call(tmp_path):
    store = SessionStore(tmp_path / "s.sqlite", IDENTITY)
    store.close()
    store.close()
    for call in (store.pending, store.answered, store.num_answered, store.refits,
                 lambda: store.record_answers([1], [1])):
        with pytest.raises(ValueError, match="the session store is closed"):
            call()


# -- refits ---------------------------------------------------------------------------
def test_refits_read_back_exactly_and_the_last_is_the_latest(tmp_path):
    rng = np.random.default_rng(3)
    params = {"W": awkward_floats(rng, (5, 5, 2, 3)),
              "W32": rng.normal(size=(4,)).astype(np.float32),
              "log_diag": np.array([np.nan, -np.inf, -0.0]),
              "steps": np.arange(3, dtype=np.int32),
              "file": np.float64(2.5)}  # np.savez's own argument name
    path = tmp_path / "s.sqlite"
    with SessionStore(path, IDENTITY) as store:
        first = store.add_refit(num_trials=10, config={"steps": 500, "lr": 0.01},
                                seed=2**40, params=params, started_at=1.5e9,
                                seconds=0.25)
        second = store.add_refit(num_trials=20, config={}, seed=-1,
                                 params={"W": np.ones(2)}, started_at=1.6e9,
                                 seconds=0.0)
        with pytest.raises(ValueError, match="seconds"):
            store.add_refit(num_trials=30, config={}, seed=0, params={},
                            started_at=1.7e9, seconds=-1.0)
        with pytest.raises(TypeError, match="params"):
            store.add_refit(num_trials=30, config={}, seed=0,
                            params={"W": np.array([None])}, started_at=1.7e9,
                            seconds=1.0)
    with SessionStore(path, IDENTITY) as store:
        refits = store.refits()
        last = store.last_refit()
    assert [r.id for r in refits] == [first, second]
    assert (last.id, last.num_trials, last.seed) == (second, 20, -1)
    np.testing.assert_array_equal(last.params["W"], np.ones(2))
    got = refits[0]
    assert (got.num_trials, got.config, got.seed, got.started_at, got.seconds) == (
        10, {"steps": 500, "lr": 0.01}, 2**40, 1.5e9, 0.25)
    assert list(got.params) == list(params)
    for key, value in params.items():
        assert got.params[key].dtype == np.asarray(value).dtype
        assert got.params[key].shape == np.shape(value)
        assert got.params[key].tobytes() == np.asarray(value).tobytes()  # every bit


def test_source_counts_match_the_rows(tmp_path):
    rng = np.random.default_rng(3)
    with SessionStore(tmp_path / "s.sqlite", IDENTITY) as store:
        assert store.source_counts() == {"warmup": 0, "placement": 0, "fallback": 0}
        sources = ["warmup"] * 3 + ["placement", "fallback", "placement"]
        store.add_asked(rng.normal(size=(6, 2)), rng.normal(size=(6, 2)), proposal=0,
                        sources=sources)
        rows = [r["source"] for r in store.trial_rows()]
        assert store.source_counts() == {s: rows.count(s) for s in
                                         ("warmup", "placement", "fallback")}
