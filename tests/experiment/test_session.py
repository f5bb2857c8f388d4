"""ExperimentSession: warm-up, refits, replay, resume, kill, fallback, stopping."""

import json
import os
import queue
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import jax
import numpy as np
import pytest

import psyphy_numpyro as pn
from psyphy_numpyro.core.design import sobol_pairs
from psyphy_numpyro.experiment.session import ExperimentSession
from psyphy_numpyro.experiment.store import SessionInUseError
from psyphy_numpyro.inference.refit import MAPLaplaceRefit
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement

REPO = Path(__file__).resolve().parents[2]
MODEL = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
TRUTH = {"log_diag": np.log(np.array([0.3, 0.1]))}
BOX = np.array([[-1.0, 1.0], [-1.0, 1.0]])  # the default bounds
WARMUP, EVERY, BATCH = 20, 10, 5
ANSWER_KEY = jax.random.PRNGKey(7)


def cheap_placement(model=MODEL):
    return InfoGainPlacement(model, num_candidates=64, num_draws=16)


def open_session(path, model=MODEL, **kwargs):
    settings = {"placement": cheap_placement(model), "warmup": WARMUP,
                "refit_every": EVERY}
    return ExperimentSession(path, model, **{**settings, **kwargs})


def answers(stimuli, first):
    """The simulated observer's answers to trials ``first, first + 1, ...``."""
    key = jax.random.fold_in(ANSWER_KEY, first)
    return pn.simulate_responses(key, MODEL, TRUTH, stimuli[:, 0], stimuli[:, 1])


def drive(session, batches, size=BATCH):
    """Ask and answer ``batches`` batches; the stimuli asked, one array per batch."""
    asked = []
    for _ in range(batches):
        first = len(session.store.trial_rows())
        stimuli = session.ask(size)
        session.tell(stimuli, answers(stimuli, first))
        asked.append(stimuli)
    return asked


def refit_sizes(session):
    return [r.num_trials for r in session.store.refits()]


# -- warm-up, placement, refits --------------------------------------------------------
def test_the_warmup_is_the_space_filling_sequence_then_the_placement_takes_over(
        tmp_path, float_bits):
    with open_session(tmp_path / "s.sqlite", seed=3, warmup_radius=0.2) as session:
        asked = np.concatenate(drive(session, WARMUP // BATCH))
        rows = session.store.trial_rows()
        assert [r["source"] for r in rows] == ["warmup"] * WARMUP
        assert all(r["criterion"] is None for r in rows)
        ref, probe = sobol_pairs(0, WARMUP, BOX, 0.2, seed=3)
        np.testing.assert_array_equal(float_bits(asked[:, 0]), float_bits(ref))
        np.testing.assert_array_equal(float_bits(asked[:, 1]), float_bits(probe))
        np.testing.assert_array_equal([r["ref"] for r in rows], ref)
        assert refit_sizes(session) == [WARMUP]
        assert session.posterior is not None

        stimuli = session.ask(BATCH)
        new = session.store.trial_rows()[WARMUP:]
        assert [r["source"] for r in new] == ["placement"] * BATCH
        assert all(np.isfinite(r["criterion"]) for r in new)
        assert len({r["proposal"] for r in new}) == 1
        np.testing.assert_array_equal(np.array([[r["ref"], r["probe"]] for r in new]),
                                      stimuli)
        np.testing.assert_array_equal(session.pending, stimuli)
        assert np.all((stimuli >= -1.0) & (stimuli <= 1.0))
        assert not any(np.allclose(s, w) for s in stimuli for w in asked)


def test_a_refit_comes_once_refit_every_answers_have_come_since_the_last(tmp_path):
    # batches of 5 (refits at 20, 30, 40, 50) are checked in the replay tests
    with open_session(tmp_path / "s.sqlite", warmup=21) as session:
        drive(session, 7, size=7)
        assert session.num_answered == 49
        assert refit_sizes(session) == [21, 35, 49]


@pytest.mark.slow  # compiles the refit and the placement with an inferred lapse rate
def test_a_session_whose_task_infers_lapses_refits_and_places_with_them(tmp_path):
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2),
                    task=pn.OddityTask(lapse=pn.LapsePrior(1.0, 19.0)))
    with open_session(tmp_path / "s.sqlite", model=model) as session:
        drive(session, WARMUP // BATCH + 2)
        post = session.posterior
        assert refit_sizes(session) == [WARMUP, WARMUP + EVERY]
        assert 0.0 < float(post.params["lapse_rate"]) < 1.0
        assert post.sample(50, key=jax.random.PRNGKey(0))["lapse_rate"].shape == (50,)
        sources = [r["source"] for r in session.store.trial_rows()]
        assert sources[WARMUP:] == ["placement"] * 2 * BATCH
        # a refit from the file's answers alone gives the same MAP
        again = MAPLaplaceRefit().fit(model, session.data)
        np.testing.assert_allclose(again.params["lapse_rate"], post.params["lapse_rate"],
                                   rtol=1e-3)


# -- replay and resume -----------------------------------------------------------------
def test_two_sessions_with_one_seed_and_the_same_answers_ask_the_same_trials(
        tmp_path, float_bits):
    sessions = [open_session(tmp_path / f"{name}.sqlite", seed=5) for name in "ab"]
    try:
        for batch in range(WARMUP // BATCH + 4):
            a, b = (s.ask(BATCH) for s in sessions)
            np.testing.assert_array_equal(float_bits(a), float_bits(b),
                                          err_msg=f"batch {batch}")
            for s in sessions:
                s.tell(a, answers(a, batch * BATCH))
        rows = [s.store.trial_rows() for s in sessions]
        assert [r["criterion"] for r in rows[0]] == [r["criterion"] for r in rows[1]]
        assert refit_sizes(sessions[0]) == refit_sizes(sessions[1]) == [20, 30, 40]
        np.testing.assert_array_equal(sessions[0].posterior.params["log_diag"],
                                      sessions[1].posterior.params["log_diag"])
    finally:
        for s in sessions:
            s.close()


def test_a_resumed_session_has_its_data_and_posterior_and_asks_as_its_twin(
        tmp_path, float_bits):
    path = tmp_path / "resumed.sqlite"
    twin = open_session(tmp_path / "twin.sqlite")
    session = open_session(path)
    for s in (session, twin):
        drive(s, WARMUP // BATCH + 2)  # refits at 20 and 30
    stimuli = session.ask(BATCH)
    np.testing.assert_array_equal(twin.ask(BATCH), stimuli)
    told = answers(stimuli, 30)
    for s in (session, twin):
        s.tell(stimuli[[3, 1]], told[[3, 1]])
    data, pending = session.data, session.pending
    params = {k: np.array(v) for k, v in session.posterior.params.items()}
    session.close()

    with open_session(path) as session:
        np.testing.assert_array_equal(float_bits(session.data.stimuli),
                                      float_bits(data.stimuli))
        np.testing.assert_array_equal(session.data.responses, data.responses)
        np.testing.assert_array_equal(float_bits(session.pending), float_bits(pending))
        np.testing.assert_array_equal(session.pending, stimuli[[0, 2, 4]])
        assert refit_sizes(session) == [20, 30]
        np.testing.assert_allclose(session.posterior.params["log_diag"],
                                   params["log_diag"], rtol=0, atol=1e-6)
        for s in (session, twin):
            s.tell(stimuli[[0, 2, 4]], told[[0, 2, 4]])
        for batch in range(3):
            nxt = session.ask(BATCH)
            np.testing.assert_array_equal(float_bits(twin.ask(BATCH)), float_bits(nxt),
                                          err_msg=f"batch {batch} after resuming")
            for s in (session, twin):
                s.tell(nxt, answers(nxt, 35 + batch * BATCH))
        assert refit_sizes(session) == refit_sizes(twin) == [20, 30, 40, 50]
        np.testing.assert_allclose(session.posterior.params["log_diag"],
                                   twin.posterior.params["log_diag"], rtol=0, atol=1e-6)
    twin.close()


class _PowerCut(Exception):
    pass


class _CutAt30(MAPLaplaceRefit):
    """The default refit, except that the process "dies" during the refit at 30."""

    def fit(self, model, data, init_params=None):
        if len(data) == 30:
            raise _PowerCut
        return super().fit(model, data, init_params)


def test_a_session_killed_during_a_refit_resumes_as_its_twin(tmp_path, float_bits):
    path = tmp_path / "cut.sqlite"
    with open_session(tmp_path / "twin.sqlite") as twin:
        drive(twin, WARMUP // BATCH + 2)
        with open_session(path, refit=_CutAt30()) as session:
            drive(session, WARMUP // BATCH + 1)
            stimuli = session.ask(BATCH)
            with pytest.raises(_PowerCut):
                session.tell(stimuli, answers(stimuli, 25))
        with open_session(path) as session:
            assert session.num_answered == 30
            nxt = session.ask(BATCH)
            np.testing.assert_array_equal(float_bits(twin.ask(BATCH)), float_bits(nxt))
            session.tell(nxt, answers(nxt, 30))
            assert refit_sizes(session) == [20, 30]


# -- a killed process loses no confirmed answer ----------------------------------------
CHILD = """
import json, sys
import jax, numpy as np
import psyphy_numpyro as pn
from psyphy_numpyro.experiment.session import ExperimentSession
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement

model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2))
truth = {{"log_diag": np.log(np.array([0.3, 0.1]))}}
session = ExperimentSession(
    sys.argv[1], model, placement=InfoGainPlacement(model, num_candidates=64,
    num_draws=16), warmup={warmup}, refit_every={every})
for k in range(1000):
    stimuli = session.ask({batch})
    y = pn.simulate_responses(jax.random.fold_in(jax.random.PRNGKey(7), k), model,
                              truth, stimuli[:, 0], stimuli[:, 1])
    session.tell(stimuli, y)
    print(json.dumps({{"stimuli": stimuli.tolist(), "responses": y.tolist()}}),
          flush=True)
"""


def read_lines(proc, count, timeout, stderr_path):
    """The first ``count`` lines the child prints, parsed as JSON."""
    lines = queue.Queue()

    def pump():
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    got, deadline = [], time.monotonic() + timeout
    while len(got) < count:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            pytest.fail(f"the child printed {len(got)} of {count} lines in {timeout} s")
        if line is None:
            pytest.fail(f"the child stopped: {Path(stderr_path).read_text()[-3000:]}")
        got.append(json.loads(line))
    return got


@pytest.mark.slow  # the child imports JAX and compiles the loop again
def test_a_killed_session_keeps_every_confirmed_answer_and_goes_on(tmp_path):
    path, err = tmp_path / "s.sqlite", tmp_path / "stderr.txt"
    script = textwrap.dedent(CHILD).format(warmup=WARMUP, every=EVERY, batch=BATCH)
    env = {**os.environ, "JAX_PLATFORMS": "cpu"}
    batches = WARMUP // BATCH + 3
    with open(err, "w") as stderr:
        proc = subprocess.Popen([sys.executable, "-c", script, str(path)], env=env,
                                cwd=REPO, stdout=subprocess.PIPE, stderr=stderr,
                                text=True)
    try:
        confirmed = read_lines(proc, batches, 240, err)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
        proc.stdout.close()
    assert proc.returncode == -signal.SIGKILL, "the child must die mid-loop"
    stimuli = np.concatenate([np.array(c["stimuli"]) for c in confirmed])
    responses = np.concatenate([c["responses"] for c in confirmed])

    with open_session(path) as session:
        data = session.data
        n = len(stimuli)
        assert n <= len(data) <= n + BATCH  # at most the batch told while printing
        np.testing.assert_array_equal(data.stimuli[:n], stimuli)  # exact floats
        np.testing.assert_array_equal(data.responses[:n, 0], responses)
        assert 20 in refit_sizes(session) and session.posterior is not None
        waiting = session.pending
        if len(waiting):
            session.tell(waiting, np.ones(len(waiting), int))
        answered = session.num_answered
        more = session.ask(BATCH)
        assert more.shape == (BATCH, 2, 2)
        session.tell(more, answers(more, answered))
        assert session.num_answered == answered + BATCH
        assert session.num_answered - refit_sizes(session)[-1] < EVERY


# -- latency fallback ------------------------------------------------------------------
def test_a_slow_proposal_falls_back_to_the_next_space_filling_trials(tmp_path,
                                                                     float_bits):
    with open_session(tmp_path / "s.sqlite", latency_budget=1e-4, seed=2) as session:
        drive(session, WARMUP // BATCH)
        start = WARMUP
        for _ in range(2):
            stimuli = session.ask(BATCH)
            rows = session.store.trial_rows()[start:]
            assert [r["source"] for r in rows] == ["fallback"] * BATCH
            assert all(r["criterion"] is None for r in rows)
            ref, probe = sobol_pairs(start, BATCH, BOX, 0.25, seed=2)
            np.testing.assert_array_equal(float_bits(stimuli[:, 0]), float_bits(ref))
            np.testing.assert_array_equal(float_bits(stimuli[:, 1]), float_bits(probe))
            session.tell(stimuli, answers(stimuli, start))
            start += BATCH


def test_space_filling_goes_on_until_the_warmup_is_answered_then_fallbacks_continue_it(
        tmp_path):
    with open_session(tmp_path / "s.sqlite", latency_budget=1e-4) as session:
        first = session.ask(15)
        session.tell(first, answers(first, 0))
        more = session.ask(10)  # 15 answers < WARMUP: no fit yet, more warm-up
        ref, probe = sobol_pairs(15, 10, BOX, 0.25, seed=0)
        np.testing.assert_array_equal(more, np.stack([ref, probe], axis=1))
        session.tell(more, answers(more, 15))  # 25 answers: the first refit
        assert session.store.last_refit().num_trials == 25
        late = session.ask(5)  # the tiny budget: fallbacks, continuing the sequence
        assert [r["source"] for r in session.store.trial_rows()] == (
            ["warmup"] * 25 + ["fallback"] * 5)
        ref, probe = sobol_pairs(25, 5, BOX, 0.25, seed=0)
        np.testing.assert_array_equal(late, np.stack([ref, probe], axis=1))


# -- bad input -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def asked_session(tmp_path_factory):
    """A session with one batch of warm-up trials pending: ``(session, stimuli)``.

    Shared by the refusals, which must leave it as it is (each test checks).
    """
    session = open_session(tmp_path_factory.mktemp("bad") / "s.sqlite")
    drive(session, 1)
    stimuli = session.ask(BATCH)
    yield session, stimuli
    session.close()


def _never_asked(stimuli):
    return stimuli[:2] + 1e-3


@pytest.mark.parametrize("make, responses, error, match", [
    (_never_asked, [1, 0], ValueError, "not a pending asked trial"),
    (lambda s: np.concatenate([s[:2], s[:1] + 1e-3]), [1, 0, 1], ValueError,
     r"stimuli\[2\].*not a pending"),  # two good trials are not kept either
    (lambda s: s[:, 0], [1] * 5, ValueError, r"shape \(m, 2, 2\)"),
    (lambda s: np.concatenate([s, s[:, :1]], axis=1), [1] * 5, ValueError,
     r"shape \(m, 2, 2\)"),
    (lambda s: s[:0], [], ValueError, r"shape \(m, 2, 2\)"),
    (lambda s: np.where(np.arange(5)[:, None, None] == 0, np.nan, s), [1] * 5,
     ValueError, "finite"),
    (lambda s: s, [1, 2, 0, 1, 1], ValueError, "0 or 1"),
    (lambda s: s, [1, 0.5, 0, 1, 1], TypeError, "ints or bools"),
    (lambda s: s, [1, 0, 1], ValueError, "one entry per"),
    (lambda s: s[[0, 0]], [1, 1], ValueError, r"stimuli\[1\].*answered already"),
], ids=["never-asked", "one-never-asked", "2-d", "3-stimuli", "empty", "nan",
        "response-2", "response-0.5", "too-few-responses", "same-trial-twice"])
def test_bad_answers_are_refused_and_nothing_is_written(asked_session, make,
                                                        responses, error, match):
    session, stimuli = asked_session
    rows, refits = session.store.trial_rows(), refit_sizes(session)
    with pytest.raises(error, match=match):
        session.tell(make(stimuli), np.array(responses))
    assert session.store.trial_rows() == rows
    assert refit_sizes(session) == refits
    np.testing.assert_array_equal(session.pending, stimuli)


def test_an_answered_trial_cannot_be_told_again_and_the_session_goes_on(tmp_path):
    with open_session(tmp_path / "s.sqlite") as session:
        stimuli = session.ask(BATCH)
        session.tell(stimuli[:1], [1])
        rows = session.store.trial_rows()
        with pytest.raises(ValueError, match="answered already"):
            session.tell(stimuli[:1], [0])
        with pytest.raises(ValueError, match="answered already"):
            session.tell(stimuli[:2], [0, 1])  # with a pending one
        assert session.store.trial_rows() == rows
        session.tell(stimuli[1:], answers(stimuli, 0)[1:])
        assert session.num_answered == BATCH and len(session.pending) == 0
        np.testing.assert_array_equal(session.data.stimuli, stimuli)


def test_a_session_file_is_refused_to_another_model_and_to_a_second_opener(tmp_path):
    path = tmp_path / "s.sqlite"
    with open_session(path) as session:
        drive(session, 1)
        with pytest.raises(SessionInUseError, match="in use"):
            open_session(path)
        drive(session, 1)  # the first opener goes on
    other = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=1.0))
    with pytest.raises(ValueError, match="belongs to another session"):
        open_session(path, model=other)
    with pytest.raises(ValueError, match="seed: stored 0 vs given 1"):
        open_session(path, seed=1)
    with open_session(path) as session:  # the refusals released the file
        assert session.num_answered == 2 * BATCH


@pytest.mark.parametrize("kwargs, error, match", [
    ({"refit_every": 0}, ValueError, "refit_every"),
    ({"warmup": -1}, ValueError, "warmup"),
    ({"warmup": 2.5}, TypeError, "warmup"),
    ({"bounds": [[-1.0, 1.0]]}, ValueError, "bounds"),
    ({"bounds": [[1.0, -1.0], [-1.0, 1.0]]}, ValueError, "bounds"),
    ({"warmup_radius": 1.5}, ValueError, "radius"),
    ({"placement": object()}, TypeError, "placement must have propose"),
    ({"refit": object()}, TypeError, "refit must have fit"),
    ({"max_trials": 0}, ValueError, "max_trials"),
    ({"target_width": -1.0}, ValueError, "target_width"),
    ({"latency_budget": 0.0}, ValueError, "latency_budget"),
])
def test_bad_settings_are_refused_before_the_file_is_created(tmp_path, kwargs, error,
                                                             match):
    path = tmp_path / "s.sqlite"
    with pytest.raises(error, match=match):
        open_session(path, **kwargs)
    assert not path.exists()


# -- stopping rules --------------------------------------------------------------------
def test_max_trials_stops_the_session_counting_pending_trials(tmp_path):
    with open_session(tmp_path / "s.sqlite", max_trials=27) as session:
        drive(session, WARMUP // BATCH)
        assert not session.done and session.stop_reason is None
        stimuli = session.ask(10)
        assert stimuli.shape == (7, 2, 2)  # room for 7 more
        with pytest.raises(RuntimeError, match="tell the pending answers first"):
            session.ask(1)
        session.tell(stimuli[:3], answers(stimuli, WARMUP)[:3])
        assert not session.done
        session.tell(stimuli[3:], answers(stimuli, WARMUP)[3:])
        assert session.done and "max_trials" in session.stop_reason
        rows = session.store.trial_rows()
        with pytest.raises(RuntimeError, match="max_trials"):
            session.ask(1)
        assert session.store.trial_rows() == rows


def test_a_wide_target_width_stops_at_the_first_refit(tmp_path):
    with open_session(tmp_path / "s.sqlite", target_width=1e6) as session:
        drive(session, WARMUP // BATCH - 1)
        assert not session.done and session.threshold_width() == float("inf")
        drive(session, 1)
        assert refit_sizes(session) == [WARMUP]
        assert session.done and session.stop_reason.startswith("target_width")
        assert 0.0 < session.threshold_width() < 1e6
        with pytest.raises(RuntimeError, match="target_width"):
            session.ask(1)


def test_a_narrow_target_width_does_not_stop(tmp_path):
    with open_session(tmp_path / "s.sqlite", target_width=1e-6) as session:
        drive(session, WARMUP // BATCH)
        assert not session.done
        assert session.ask(1).shape == (1, 2, 2)


# -- export ----------------------------------------------------------------------------
def test_the_csv_export_holds_the_answered_trials(tmp_path, float_bits):
    with open_session(tmp_path / "s.sqlite") as session:
        drive(session, WARMUP // BATCH + 1)
        session.ask(BATCH)  # pending trials are not exported
        session.to_csv(tmp_path / "trials.csv")
        stimuli, responses = pn.load_responses_csv(tmp_path / "trials.csv").to_numpy()
        data = session.data
    assert len(stimuli) == WARMUP + BATCH
    np.testing.assert_array_equal(float_bits(stimuli), float_bits(data.stimuli))
    np.testing.assert_array_equal(np.ravel(responses), data.responses[:, 0])


def test_read_session_gives_the_told_trials_pending_trials_and_refits_of_a_closed_file(
        tmp_path, float_bits):
    path = tmp_path / "s.sqlite"
    with open_session(path) as session:
        asked = drive(session, WARMUP // BATCH + 1)
        pending = session.ask(BATCH)
        with pytest.raises(SessionInUseError, match="in use"):
            pn.read_session(path)
        stored = [(r.num_trials, r.params) for r in session.store.refits()]
    record = pn.read_session(path)
    told = np.concatenate(asked)
    expected = np.concatenate([answers(s, BATCH * k) for k, s in enumerate(asked)])
    np.testing.assert_array_equal(float_bits(record.data.stimuli), float_bits(told))
    np.testing.assert_array_equal(record.data.responses[:, 0], expected)
    np.testing.assert_array_equal(float_bits(record.pending), float_bits(pending))
    assert [r.num_trials for r in record.refits] == [WARMUP] == [n for n, _ in stored]
    np.testing.assert_array_equal(record.refits[-1].params["log_diag"],
                                  stored[-1][1]["log_diag"])
    assert record.identity["seed"] == 0 and record.identity["warmup"] == WARMUP
    assert record.settings["refit_every"] == EVERY
    with open_session(path) as session:  # reading released the file
        assert session.num_answered == WARMUP + BATCH


# -- a refit without draws -------------------------------------------------------------
def test_a_map_only_refit_is_refused_by_the_default_placement(tmp_path):
    refit = pn.MAPOptimizer(steps=50, show_progress=False)
    with pytest.raises(TypeError, match="LaplaceApproximation"):
        ExperimentSession(tmp_path / "s.sqlite", MODEL, refit=refit, warmup=WARMUP)
    assert not (tmp_path / "s.sqlite").exists()  # refused before the file


