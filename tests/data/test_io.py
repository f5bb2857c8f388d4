"""CSV of trials: exact round trip, psyphy's layouts, clear errors."""

import csv

import numpy as np
import pytest

from psyphy_numpyro.core.trials import TrialData
from psyphy_numpyro.data.dataset import ResponseData
from psyphy_numpyro.data.io import load_responses_csv, save_responses_csv

AWKWARD = np.array([0.1 + 0.2, 1e-300, -1e-300, 5e-324, -0.0, 1 / 3, -2 / 3,
                    np.nextafter(1.0, 0.0), np.nextafter(-1.0, 0.0), 1e300,
                    0.1, 123456789.123456789, 2.0**-1074 * 3])


def _random_trials(seed, n, k, d):
    rng = np.random.default_rng(seed)
    stimuli = np.where(rng.random((n, k, d)) < 0.5,
                       rng.choice(AWKWARD, (n, k, d)),
                       rng.standard_normal((n, k, d)))
    return stimuli, rng.integers(0, 2, n)


@pytest.mark.parametrize("k", [2, 3])
@pytest.mark.parametrize("d", [1, 2, 3])
def test_round_trip_is_bit_exact(tmp_path, d, k, float_bits):
    stimuli, y = _random_trials(10 * d + k, 50, k, d)
    path = tmp_path / "trials.csv"
    save_responses_csv(ResponseData.from_arrays(stimuli, y), path)
    loaded = load_responses_csv(path)
    assert isinstance(loaded, ResponseData) and loaded.stim_shape == (k, d)
    got_stimuli, got_y = loaded.to_numpy()
    assert got_stimuli.dtype == np.float64
    np.testing.assert_array_equal(float_bits(got_stimuli), float_bits(stimuli))
    np.testing.assert_array_equal(got_y, y)
    # and a second trip writes the very same text
    again = tmp_path / "again.csv"
    save_responses_csv(loaded, again)
    assert again.read_text() == path.read_text()


def test_header_names_the_coordinates(tmp_path):
    stimuli, y = _random_trials(0, 3, 2, 2)
    save_responses_csv(TrialData(stimuli, y), tmp_path / "a.csv")
    header = (tmp_path / "a.csv").read_text().splitlines()[0]
    assert header == "ref_0,ref_1,probe_0,probe_1,response"
    stimuli, y = _random_trials(0, 3, 3, 1)
    save_responses_csv(TrialData(stimuli, y), tmp_path / "b.csv")
    header = (tmp_path / "b.csv").read_text().splitlines()[0]
    assert header == "stim0_0,stim1_0,stim2_0,response"


def test_reader_is_lenient_about_layout_details(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("\ufeffa_0, a_1, b_0, b_1, response\r\n"
                    "0.5, -1, .25, 1e-3, 1.0\r\n\r\n"
                    "0, 0, 0, 0, 0\r\n")
    stimuli, y = load_responses_csv(path).to_numpy()
    np.testing.assert_array_equal(stimuli[0], [[0.5, -1.0], [0.25, 1e-3]])
    np.testing.assert_array_equal(y, [1, 0])


def test_header_only_file_is_an_empty_log_with_its_shape(tmp_path):
    path = tmp_path / "empty.csv"
    save_responses_csv(TrialData(np.zeros((0, 2, 3)), np.zeros(0)), path)
    loaded = load_responses_csv(path)
    assert len(loaded) == 0 and loaded.stim_shape == (2, 3)
    save_responses_csv(loaded, tmp_path / "again.csv")
    assert (tmp_path / "again.csv").read_text() == path.read_text()


def test_files_written_by_psyphy_read_back_exactly(tmp_path, float_bits):
    psyphy_io = pytest.importorskip("psyphy.data.io")
    psyphy_data = pytest.importorskip("psyphy.data")
    stimuli, y = _random_trials(5, 40, 2, 2)
    theirs = psyphy_data.ResponseData()
    for s, r in zip(stimuli, y):
        theirs.add_trial((s[0], s[1]), int(r))
    path = tmp_path / "psyphy.csv"
    psyphy_io.save_responses_csv(theirs, path)
    assert path.read_text().startswith("stimulus 0,stimulus 1,response")
    loaded = load_responses_csv(path)
    np.testing.assert_array_equal(float_bits(loaded.to_numpy()[0]), float_bits(stimuli))
    np.testing.assert_array_equal(loaded.to_numpy()[1], y)

    # psyphy's TrialData (float32 under JAX's defaults) and K = 3, d = 1
    import jax.numpy as jnp

    rng = np.random.default_rng(6)
    s3, y3 = rng.uniform(-1, 1, (10, 3, 1)), rng.integers(0, 2, 10)
    td = psyphy_data.TrialData(stimuli=jnp.asarray(s3), responses=jnp.asarray(y3))
    psyphy_io.save_responses_csv(td, path)
    loaded = load_responses_csv(path)
    np.testing.assert_array_equal(float_bits(loaded.to_numpy()[0]),
                                  float_bits(np.asarray(td.stimuli, dtype=np.float64)))
    np.testing.assert_array_equal(loaded.to_numpy()[1], y3)


def test_the_layout_psyphys_reader_expects_is_read_alike(tmp_path, float_bits):
    psyphy_io = pytest.importorskip("psyphy.data.io")
    rng = np.random.default_rng(7)  # float32-sized values: psyphy's reader casts
    stimuli, y = rng.uniform(-1, 1, (20, 2, 2)) / 3, rng.integers(0, 2, 20)
    path = tmp_path / "ref_probe.csv"
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["response", "probe", "ref"])
        for s, r in zip(stimuli, y):
            writer.writerow([int(r), str(s[1].tolist()), str(s[0].tolist())])
    ours = load_responses_csv(path)
    theirs = psyphy_io.load_responses_csv(path)
    np.testing.assert_array_equal(float_bits(ours.to_numpy()[0]), float_bits(stimuli))
    np.testing.assert_allclose(ours.to_numpy()[0], np.asarray(theirs.stimuli),
                               rtol=1e-7)  # psyphy's reader returns float32
    np.testing.assert_array_equal(ours.to_numpy()[1],
                                  np.asarray(theirs.responses)[:, 0])


GOOD = "ref_0,ref_1,probe_0,probe_1,response\n0.1,0.2,0.3,0.4,1\n"
MALFORMED = {
    "no response column": ("ref_0,probe_0\n0.1,0.2\n", "line 1.*'response'"),
    "unknown columns": ("x,y,response\n0.1,0.2,1\n", "line 1.*unrecognised"),
    "coordinates out of order": ("ref_1,ref_0,probe_0,probe_1,response\n",
                                 "line 1, column 'ref_1'.*ref_0"),
    "uneven stimuli": ("ref_0,ref_1,probe_0,response\n", "line 1.*same number"),
    "duplicate column": ("ref_0,ref_0,response\n", "line 1.*unique"),
    "extra paired columns": ("ref_0,ref_1,probe_0,probe_1,session_0,session_1,response\n"
                             "0.1,0.2,0.3,0.4,1,2,1\n",
                             "line 1.*'session_0', 'session_1'.*one\\s+reference"),
    "split stimulus": ("ref_0,probe_0,ref_1,probe_1,response\n",
                       "column 'ref_1'.*adjacent"),
    "text in a cell": (GOOD + "0.1,abc,0.3,0.4,1\n", "line 3, column 'ref_1'.*'abc'"),
    "empty cell": (GOOD + "0.1,0.2,,0.4,0\n", "line 3, column 'probe_0'"),
    "nan": (GOOD + "nan,0.2,0.3,0.4,0\n", "line 3, column 'ref_0'.*'nan'"),
    "overflow": (GOOD + "1e999,0.2,0.3,0.4,0\n", "line 3, column 'ref_0'.*float64"),
    "response 2": (GOOD + "0.1,0.2,0.3,0.4,2\n", "line 3, column 'response'.*'2'"),
    "response 0.5": (GOOD + "0.1,0.2,0.3,0.4,0.5\n", "line 3.*0 \\(wrong\\)"),
    "response word": (GOOD + "0.1,0.2,0.3,0.4,yes\n", "line 3.*'yes'"),
    "too few fields": (GOOD + "0.1,0.2,0.3,1\n", "line 3: expected 5 fields"),
    "too many fields": (GOOD + "0.1,0.2,0.3,0.4,1,9\n", "line 3: expected 5"),
    "empty file": ("", "empty"),
    "bad literal": ("stimulus 0,stimulus 1,response\n\"[0.1, 0.2]\",\"[0.3,\",1\n",
                    "line 2, column 'stimulus 1'.*list of numbers"),
    "ragged literal": ("ref,probe,response\n\"[0.1, 0.2]\",\"[0.3]\",1\n",
                       "line 2, column 'probe'.*2 coordinates"),
    "literal with text": ("ref,probe,response\n\"['a']\",\"[0.3]\",1\n",
                          "line 2, column 'ref'"),
}


@pytest.mark.parametrize("case", list(MALFORMED), ids=list(MALFORMED))
def test_malformed_files_name_file_line_and_column(tmp_path, case):
    text, match = MALFORMED[case]
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        load_responses_csv(path)
    assert "bad.csv" in str(err.value)


def test_binary_garbage_is_a_value_error(tmp_path):
    path = tmp_path / "bin.csv"
    path.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(ValueError, match="bin.csv"):
        load_responses_csv(path)


def test_saving_refuses_what_it_cannot_write_faithfully(tmp_path):
    path = tmp_path / "out.csv"
    stimuli = np.zeros((2, 2, 2))
    with pytest.raises(ValueError, match="0 \\(wrong\\) or 1.*trial 1"):
        save_responses_csv(TrialData(stimuli, [1.0, 0.3]), path)
    with pytest.raises(ValueError, match="one 0/1 answer"):
        save_responses_csv(TrialData(stimuli, np.ones((2, 2))), path)
    with pytest.raises(ValueError, match="context"):
        save_responses_csv(TrialData(stimuli, [1, 0], context=[1.0, 2.0]), path)
    with pytest.raises(ValueError, match="finite.*trial 1"):
        save_responses_csv(TrialData(np.where(np.arange(8).reshape(2, 2, 2) == 5,
                                              np.inf, 0.0), [1, 0]), path)
    with pytest.raises(ValueError, match="nothing to save"):
        save_responses_csv(ResponseData(), path)
    assert not path.exists()


def test_a_truncated_log_is_refused_not_loaded_short(tmp_path):
    path = tmp_path / "log.csv"
    X = np.random.default_rng(0).uniform(-1, 1, (150, 2, 2))
    save_responses_csv(ResponseData.from_arrays(X, np.ones(150, int)), path)
    text = path.read_text()
    for cut in (len(text) - 1, len(text) // 2, len(text) // 3):
        path.write_text(text[:cut])
        with pytest.raises(ValueError, match="cut short"):
            load_responses_csv(path)


def test_replacing_a_log_with_its_first_trials_warns(tmp_path):
    path = tmp_path / "log.csv"
    X = np.random.default_rng(0).uniform(-1, 1, (150, 2, 2))
    y = np.ones(150, int)
    save_responses_csv(ResponseData.from_arrays(X, y), path)
    with pytest.warns(UserWarning, match="a log of 150 trials, with its first 3"):
        save_responses_csv(ResponseData.from_arrays(X[:3], y[:3]), path)
    assert len(load_responses_csv(path)) == 3
    other = np.random.default_rng(1).uniform(-1, 1, (3, 2, 2))
    save_responses_csv(ResponseData.from_arrays(X, y), path)
    save_responses_csv(ResponseData.from_arrays(other, y[:3]), path)  # not a subset: quiet


def test_the_leftover_of_a_killed_write_is_refused(tmp_path):
    path = tmp_path / ".log.csv.4242.partial"
    path.write_text("ref_0,ref_1,probe_0,probe_1,response\n")
    with pytest.raises(ValueError, match="did not finish"):
        load_responses_csv(path)
