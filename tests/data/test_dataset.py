"""psyphy 0.0.5's ResponseData and TrialBatch: methods and exact conversions.

Both add_trial spellings, psyphy's methods (merge, tail, copy, add_batch), exact
conversions to and from TrialData, and the same behaviour as psyphy's classes.
"""

import numpy as np
import pytest

import psyphy_numpyro as pn


def test_response_data_both_add_trial_spellings():
    data = pn.ResponseData()
    data.add_trial(ref=[0.0, 0.0], probe=[0.1, 0.2], resp=1)
    data.add_trial(([0.5, 0.5], [0.4, 0.5]), 0)
    stimuli, responses = data.to_numpy(layout="stimuli")
    assert stimuli.shape == (2, 2, 2) and len(data) == 2
    np.testing.assert_array_equal(stimuli[1], [[0.5, 0.5], [0.4, 0.5]])
    np.testing.assert_array_equal(responses, [1, 0])
    td = data.to_trial_data()
    assert td.num_trials == 2 and td.responses.shape == (2, 1)


# --- to_numpy's shape: the first trial's spelling decides (issue 18) ------------
def _seed_log(n=3):
    """A log filled as the seed releases did: add_trial(ref=, probe=, resp=)."""
    data = pn.ResponseData()
    for i in range(n):
        data.add_trial(ref=[0.1 * i, 0.0], probe=[0.1 * i, 0.2], resp=i % 2)
    return data


def test_a_log_started_with_the_seeds_keywords_answers_in_the_seeds_shape():
    data = _seed_log()
    data.add_trial(([0.5, 0.5], [0.4, 0.5]), 1)  # later spellings do not matter
    assert data.layout == "ref_probe"
    refs, probes, responses = data.to_numpy()
    stimuli, same = data.to_numpy(layout="stimuli")
    np.testing.assert_array_equal(refs, stimuli[:, 0])
    np.testing.assert_array_equal(probes, stimuli[:, 1])
    np.testing.assert_array_equal(refs[:, 0], [0.0, 0.1, 0.2, 0.5])
    np.testing.assert_array_equal(probes[-1], [0.4, 0.5])
    np.testing.assert_array_equal(responses, [0, 1, 0, 1])
    np.testing.assert_array_equal(same, responses)
    for kept in (data.copy(), data.tail(2), data.tail(0)):
        assert len(kept.to_numpy()) == 3
    assert [a.shape for a in data.tail(0).to_numpy()] == [(0, 2), (0, 2), (0,)]


@pytest.mark.parametrize("fill", ["add_trial", "add_batch", "from_arrays",
                                  "csv", "empty"])
def test_psyphy_0_0_5_usage_keeps_two_arrays(fill, tmp_path):
    X = np.array([[[0.0, 0.0], [0.1, 0.2]], [[0.5, 0.5], [0.4, 0.5]]])
    y = [1, 0]
    data = pn.ResponseData()
    if fill == "add_trial":
        data.add_trial((X[0, 0], X[0, 1]), y[0])
        data.add_trial(ref=X[1, 0], probe=X[1, 1], resp=y[1])
    elif fill == "add_batch":
        data.add_batch(y, pn.data.TrialBatch.from_stimuli(list(X)))
    elif fill == "from_arrays":
        data = pn.ResponseData.from_arrays(X, y)
    elif fill == "csv":
        pn.save_responses_csv(_seed_log(2), tmp_path / "log.csv")
        data = pn.load_responses_csv(tmp_path / "log.csv")
        X, y = _seed_log(2).to_numpy("stimuli")
    assert data.layout == "stimuli"
    stimuli, responses = data.to_numpy()
    if fill == "empty":
        assert stimuli.shape == (0, 2, 0) and responses.shape == (0,)
    else:
        np.testing.assert_array_equal(stimuli, X)
        np.testing.assert_array_equal(responses, y)


def test_merge_into_an_empty_log_adopts_the_others_shape():
    empty = pn.ResponseData()
    empty.merge(_seed_log())
    assert empty.layout == "ref_probe" and len(empty.to_numpy()) == 3
    new = pn.ResponseData.from_arrays(np.zeros((1, 2, 2)), [1])
    new.merge(_seed_log())
    assert new.layout == "stimuli" and len(new.to_numpy()) == 2


def test_to_numpy_refuses_a_layout_it_cannot_give():
    with pytest.raises(ValueError, match="layout must be one of"):
        _seed_log().to_numpy(layout="seed")
    one_stimulus = pn.ResponseData.from_arrays(np.zeros((2, 3)), [1, 0])
    with pytest.raises(ValueError, match="K = 1"):
        one_stimulus.to_numpy(layout="ref_probe")


def test_the_seed_layout_changes_only_to_numpy():
    seed, plain = _seed_log(), pn.ResponseData.from_arrays(
        _seed_log().to_numpy("stimuli")[0], [0, 1, 0])
    for a, b in [(seed.to_trial_data().stimuli, plain.to_trial_data().stimuli),
                 (seed.to_trial_data().responses, plain.to_trial_data().responses)]:
        np.testing.assert_array_equal(a, b)
    assert seed.trials[1][2] == plain.trials[1][2] == 1


# --- psyphy 0.0.5's ResponseData methods, TrialBatch, exact conversions ------
def _awkward(rng, shape):
    pool = np.array([0.1 + 0.2, 1e-300, -0.0, 5e-324, 1 / 3, -2 / 3, 0.7,
                     np.nextafter(1.0, 0.0), -1.0, 1.0])
    return np.where(rng.random(shape) < 0.5, rng.choice(pool, shape),
                    rng.uniform(-1, 1, shape))


@pytest.mark.parametrize("d", [1, 2, 3])
@pytest.mark.parametrize("with_context", [False, True])
def test_trial_data_and_response_data_convert_exactly(d, with_context, float_bits):
    rng = np.random.default_rng(d)
    stimuli = _awkward(rng, (7, 2, d))
    y = rng.integers(0, 2, 7).astype(np.int32)
    ctx = rng.normal(size=(7, 3)) if with_context else None
    td = pn.TrialData(stimuli, y, context=ctx)
    rd = pn.ResponseData.from_trial_data(td)
    assert len(rd) == 7 and rd.stim_shape == (2, d)
    back = rd.to_trial_data()
    np.testing.assert_array_equal(float_bits(back.stimuli), float_bits(stimuli))
    assert back.responses.dtype == np.int32 and back.responses.shape == (7, 1)
    np.testing.assert_array_equal(back.responses[:, 0], y)
    if with_context:
        np.testing.assert_array_equal(float_bits(back.context), float_bits(ctx))
    else:
        assert back.context is None
    again = pn.ResponseData.from_trial_data(back)
    for a, b in zip(again.stimuli, rd.stimuli):
        np.testing.assert_array_equal(float_bits(a), float_bits(b))
    assert [int(r) for r in again.responses] == y.tolist()


def test_empty_logs_keep_their_shape_through_conversions():
    td = pn.TrialData(np.zeros((0, 3, 2)), np.zeros((0,), np.int32))
    rd = pn.ResponseData.from_trial_data(td)
    assert len(rd) == 0 and rd.stim_shape == (3, 2)
    assert rd.to_trial_data().stimuli.shape == (0, 3, 2)


def test_from_arrays_matches_psyphy_shapes():
    X = np.arange(12.0).reshape(3, 2, 2) / 10
    rd = pn.ResponseData.from_arrays(X, [1, 0, 1], c=[0.1, 0.2, 0.3])
    assert rd.stim_shape == (2, 2) and len(rd.contexts) == 3
    one = pn.ResponseData.from_arrays(X[:, 0], np.array([[1], [0], [1]]))
    assert one.stim_shape == (1, 2)  # a 2-D X is one stimulus per trial
    np.testing.assert_array_equal(one.to_numpy()[1], [1, 0, 1])
    with pytest.raises(ValueError, match="same|match"):
        pn.ResponseData.from_arrays(X, [1, 0])
    with pytest.raises(ValueError, match="c has shape"):
        pn.ResponseData.from_arrays(X, [1, 0, 1], c=[1.0])
    with pytest.raises(ValueError, match=r"\(N, K, d\)"):
        pn.ResponseData.from_arrays(np.zeros((3, 2, 2, 1)), [1, 0, 1])


def test_add_trial_refuses_inconsistent_trials_and_appends_nothing():
    rd = pn.ResponseData()
    rd.add_trial(([0.0, 0.0], [0.1, 0.0]), 1)
    with pytest.raises(ValueError, match="shape"):
        rd.add_trial(([0.0, 0.0, 0.0], [0.1, 0.0, 0.0]), 1)
    with pytest.raises(ValueError, match="context cannot be added"):
        rd.add_trial(([0.0, 0.0], [0.1, 0.0]), 1, context=2.0)
    with pytest.raises(ValueError, match="responses must keep"):
        rd.add_trial(([0.0, 0.0], [0.1, 0.0]), [1, 0])
    with pytest.raises(ValueError, match="same length"):
        rd.add_trial(([0.0, 0.0], [0.1]), 1)
    with pytest.raises(TypeError, match="not both"):
        rd.add_trial(([0.0, 0.0], [0.1, 0.0]), 1, ref=[0.0, 0.0], probe=[0, 1])
    assert len(rd) == 1 and len(rd.stimuli) == 1
    with_ctx = pn.ResponseData()
    with_ctx.add_trial(([0.0], [0.1]), 1, context=[1.0, 2.0])
    with pytest.raises(ValueError, match="context cannot be omitted"):
        with_ctx.add_trial(([0.0], [0.1]), 0)


def test_stimuli_are_copied_on_add():
    ref = np.array([0.0, 0.0])
    rd = pn.ResponseData()
    rd.add_trial(ref=ref, probe=[0.1, 0.1], resp=1)
    ref[0] = 9.0
    assert rd.stimuli[0][0, 0] == 0.0


def test_add_batch_takes_a_trial_batch_all_or_nothing():
    batch = pn.data.TrialBatch.from_stimuli(
        [([0.0, 0.0], [0.1, 0.0]), ([0.5, 0.5], [0.5, 0.6])])
    assert len(batch) == 2 and batch.to_numpy().shape == (2, 2, 2)
    rd = pn.ResponseData()
    rd.add_batch([1, 0], batch)
    np.testing.assert_array_equal(rd.to_numpy()[0], batch.to_numpy())
    with pytest.raises(ValueError, match="2 trials"):
        rd.add_batch([1], batch)
    with pytest.raises(TypeError, match="resp"):
        rd.add_batch([1, "yes"], batch)
    assert len(rd) == 2  # the refused batch left nothing behind
    ctx = pn.ResponseData()
    ctx.add_batch([1, 1], batch, contexts=[[1.0], [2.0]])
    np.testing.assert_array_equal(ctx.to_trial_data().context, [[1.0], [2.0]])
    with pytest.raises(ValueError, match="same shape"):
        pn.data.TrialBatch([([0.0], [0.1]), ([0.0, 0.0], [0.1, 0.0])])


def test_merge_tail_copy_and_trials():
    a = pn.ResponseData.from_arrays(np.zeros((3, 2, 2)), [1, 0, 1])
    b = pn.ResponseData.from_arrays(np.ones((2, 2, 2)), [0, 0])
    a.merge(b)
    assert len(a) == 5 and len(b) == 2
    np.testing.assert_array_equal(a.to_numpy()[1], [1, 0, 1, 0, 0])
    a.merge(pn.TrialData(np.full((1, 2, 2), 0.5), [1]))
    assert len(a) == 6
    with pytest.raises(ValueError, match="stimulus shapes"):
        a.merge(pn.ResponseData.from_arrays(np.zeros((1, 2, 3)), [1]))
    with pytest.raises(ValueError, match="context"):
        a.merge(pn.ResponseData.from_arrays(np.zeros((1, 2, 2)), [1], c=[1.0]))
    assert len(a) == 6
    empty = pn.ResponseData()
    empty.merge(pn.ResponseData.from_arrays(np.zeros((1, 2, 2)), [1], c=[1.0]))
    assert len(empty.contexts) == 1  # an empty log adopts the context

    last = a.tail(2)
    np.testing.assert_array_equal(last.to_numpy()[0], a.to_numpy()[0][-2:])
    assert len(a.tail(0)) == 0 and len(a.tail(100)) == 6
    assert a.tail(0).stim_shape == (2, 2)

    c = a.copy()
    c.stimuli[0][0, 0] = 7.0
    c.add_trial(([0.0, 0.0], [0.0, 0.0]), 1)
    assert a.stimuli[0][0, 0] == 0.0 and len(a) == 6 and len(c) == 7

    first = a.trials[0]
    assert len(first) == 3 and first[2] == 1
    np.testing.assert_array_equal(first[1], [0.0, 0.0])


def test_our_containers_behave_like_psyphys():
    psyphy_data = pytest.importorskip("psyphy.data")
    rng = np.random.default_rng(3)
    X, y = rng.uniform(-1, 1, (6, 2, 2)), rng.integers(0, 2, 6)
    calls = [
        lambda m: m.ResponseData.from_arrays(X, y),
        lambda m: m.ResponseData.from_arrays(X[:, 0], y),
        lambda m: m.ResponseData.from_trial_data(m.TrialData(X, y[:, None])),
    ]
    for call in calls:
        ours, theirs = call(pn.data), call(psyphy_data)
        assert len(ours) == len(theirs)
        assert ours.stim_shape == theirs.stim_shape
        np.testing.assert_array_equal(ours.to_numpy()[0], theirs.to_numpy()[0])
        np.testing.assert_array_equal(ours.to_trial_data().responses,
                                      np.asarray(theirs.to_trial_data().responses))
    ours, theirs = pn.data.ResponseData(), psyphy_data.ResponseData()
    batch = [(X[i, 0], X[i, 1]) for i in range(3)]
    ours.add_batch(y[:3], pn.data.TrialBatch.from_stimuli(batch))
    theirs.add_batch(y[:3], psyphy_data.TrialBatch.from_stimuli(batch))
    ours.merge(ours.copy())
    theirs.merge(theirs.copy())
    np.testing.assert_array_equal(ours.tail(4).to_numpy()[0],
                                  theirs.tail(4).to_numpy()[0])
