"""Trial containers (TrialData, as_trials) and the data checks before compiling.

Every entry point (MAP, NUTS, the log posterior) refuses bad data in Python,
before JAX compiles anything.
"""

import jax
import jax.monitoring
import numpy as np
import pytest

import psyphy_numpyro as pn


@pytest.fixture
def compile_events():
    """The JAX compile events seen during the test, as a list filled as they happen."""
    events = []

    def listener(event, duration, **kwargs):
        if "compile" in event:
            events.append(event)

    jax.monitoring.register_event_duration_secs_listener(listener)
    yield events
    jax.monitoring.unregister_event_duration_listener(listener)


def test_the_compilation_probe_sees_a_compilation(compile_events):
    jax.jit(lambda x: x * 3.0 + 1.0)(np.arange(17.0))
    assert compile_events


def test_as_trials_accepts_every_container(seed_data):
    stimuli, y = seed_data.stimuli, seed_data.responses[:, 0]
    rd = pn.ResponseData()
    for s, r in zip(stimuli, y):
        rd.add_trial(ref=s[0], probe=s[1], resp=int(r))
    for data in (seed_data, rd, (stimuli[:, 0], stimuli[:, 1], y),
                 pn.TrialData(stimuli, y[:, None])):
        t = pn.as_trials(data, 2)
        np.testing.assert_allclose(t.probe, stimuli[:, 1])
        np.testing.assert_array_equal(t.responses, y)


def test_psyphy_objects_are_accepted_directly(seed_data, mvp_model):
    psyphy_data = pytest.importorskip("psyphy.data")
    import jax.numpy as jnp

    theirs = psyphy_data.TrialData(stimuli=jnp.asarray(seed_data.stimuli),
                                   responses=jnp.asarray(seed_data.responses))
    params = {"log_diag": jnp.array([-0.3, -3.0])}
    np.testing.assert_allclose(mvp_model.log_likelihood_from_data(params, theirs),
                               mvp_model.log_likelihood_from_data(params, seed_data),
                               rtol=1e-6)


def _with(data, **change):
    stimuli = np.array(data.stimuli)
    y = np.array(data.responses[:, 0])
    for key, fn in change.items():
        if key == "stimuli":
            stimuli = fn(stimuli)
        else:
            y = fn(y)
    return stimuli, y


BAD = {
    "nan stimulus": (dict(stimuli=lambda s: np.where(np.arange(s.size).reshape(s.shape) == 5, np.nan, s)), ValueError, "NaN"),
    "inf stimulus": (dict(stimuli=lambda s: np.where(np.arange(s.size).reshape(s.shape) == 7, np.inf, s)), ValueError, "infinite"),
    "response 2": (dict(y=lambda y: np.where(np.arange(y.size) == 3, 2, y)), ValueError, "responses"),
    "response -1": (dict(y=lambda y: np.where(np.arange(y.size) == 0, -1, y)), ValueError, "responses"),
    "response 0.5": (dict(y=lambda y: np.where(np.arange(y.size) == 0, 0.5, y)), ValueError, "responses"),
    "too few responses": (dict(y=lambda y: y[:-1]), ValueError, "responses"),
    "wrong dimension": (dict(stimuli=lambda s: np.concatenate([s, s[..., :1]], -1)), ValueError, "input_dim=2"),
    "empty": (dict(stimuli=lambda s: s[:0], y=lambda y: y[:0]), ValueError, "empty"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_data_is_rejected_before_compiling(case, seed_data, mvp_model,
                                               compile_events):
    change, exc, match = BAD[case]
    stimuli, y = _with(seed_data, **change)
    data = (stimuli[:, 0], stimuli[:, 1], y) if stimuli.ndim == 3 else None
    opt = pn.MAPOptimizer(steps=10, learning_rate=1e-3, show_progress=False)
    with pytest.raises(exc, match=match):
        opt.fit(mvp_model, data)
    with pytest.raises(exc, match=match):
        pn.NUTSSampler(num_warmup=5, num_samples=5, progress_bar=False).fit(mvp_model, data)
    with pytest.raises(exc, match=match):
        mvp_model.log_posterior_from_data({"log_diag": np.zeros(2)}, data)
    assert compile_events == []


def test_ref_probe_shape_mismatch_is_named(mvp_model):
    with pytest.raises(ValueError, match="ref and probe"):
        pn.as_trials((np.zeros((4, 2)), np.zeros((3, 2)), np.ones(4)), 2)


def test_trial_data_checks_shapes():
    """The shapes psyphy's TrialData refuses, refused here with psyphy's words too."""
    psyphy_data = pytest.importorskip("psyphy.data")
    bad = [((5, 2), (5, 1), "stimuli must be 3D"), ((5, 2, 3, 4), (5, 1), "stimuli must be 3D"),
           ((5, 2, 3), (5, 1, 1), "responses must be 2D")]
    for stimuli, responses, match in bad:
        for make in (pn.TrialData, psyphy_data.TrialData):
            with pytest.raises(ValueError, match=match):
                make(stimuli=np.ones(stimuli), responses=np.ones(responses))
    with pytest.raises(ValueError, match="one row per trial, N = 4"):
        pn.TrialData(np.zeros((4, 2, 2)), np.ones(3))


def test_unknown_data_type_is_a_type_error(mvp_model):
    with pytest.raises(TypeError, match="data must be"):
        mvp_model.trials({"stimuli": 1})


def test_empty_response_data_is_rejected(mvp_model):
    with pytest.raises(ValueError, match="empty"):
        mvp_model.trials(pn.ResponseData())


def test_trial_data_context_and_stimulus_names():
    td = pn.TrialData(np.arange(8.0).reshape(2, 2, 2), [1, 0],
                      stimulus_names=("ref", "probe"))
    np.testing.assert_array_equal(td.stimulus("probe"), [[2.0, 3.0], [6.0, 7.0]])
    with pytest.raises(ValueError, match="unknown stimulus name"):
        td.stimulus("cmp")
    with pytest.raises(ValueError, match="stimulus_names"):
        pn.TrialData(np.zeros((2, 2, 2)), [1, 0]).stimulus("ref")
    with pytest.raises(ValueError, match="context"):
        pn.TrialData(np.zeros((2, 2, 2)), [1, 0], context=np.zeros(3))


def test_psyphy_response_data_is_accepted(seed_data):
    psyphy_data = pytest.importorskip("psyphy.data")
    stimuli, y = seed_data.stimuli, seed_data.responses[:, 0]
    theirs = psyphy_data.ResponseData()
    for s, r in zip(stimuli, y):
        theirs.add_trial((s[0], s[1]), int(r))
    t = pn.as_trials(theirs, 2)
    np.testing.assert_array_equal(t.ref, stimuli[:, 0])
    np.testing.assert_array_equal(t.probe, stimuli[:, 1])
    np.testing.assert_array_equal(t.responses, y)
    ours = pn.ResponseData()
    ours.merge(theirs)  # psyphy's log converts without loss too
    np.testing.assert_array_equal(ours.to_numpy()[0], stimuli)


def test_three_stimuli_per_trial_are_rejected_not_dropped(seed_data):
    stimuli = np.concatenate([seed_data.stimuli, seed_data.stimuli[:, :1]], axis=1)
    with pytest.raises(ValueError, match=r"\(N, 2, d\)"):
        pn.as_trials(pn.TrialData(stimuli, seed_data.responses), 2)
