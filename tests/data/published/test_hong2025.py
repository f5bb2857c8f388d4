"""hong2025: the published formats read back exactly, bad files refused, fetch offline.

Every file is written here in the published layout (hong2025_files.py) from
known arrays, so the truth is the arrays themselves; the covariance of the
loaded weights is checked against a plain NumPy Chebyshev evaluation. No test
touches the network: downloads come from ``file://`` folders or a stand-in for
``urllib.request.urlopen``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import re
import socket
import urllib.error
import urllib.request
from pathlib import Path

import jax
import numpy as np
import pytest
from numpy.polynomial import chebyshev

import psyphy_numpyro as pn
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.data.dataset import TrialData
from psyphy_numpyro.data.published import hong2025


def _load_writers():
    path = Path(__file__).with_name("hong2025_files.py")
    spec = importlib.util.spec_from_file_location("hong2025_files", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


files = _load_writers()


# -- trials -----------------------------------------------------------------------
@pytest.fixture
def trials(tmp_path):
    """3 Sobol, 4 adaptive, 2 pre-generated Sobol and 3 MOCS trials."""
    types = files.trial_types(3, 4, 2, 3)
    rng = np.random.default_rng(1)
    refs = rng.uniform(-0.75, 0.75, (len(types), 2))
    comps = refs + rng.uniform(-0.25, 0.25, refs.shape)
    answers = rng.integers(0, 2, len(types))
    path = files.write_trials(tmp_path / "t.csv", types, refs, comps, answers)
    return path, np.array(types), refs, comps, answers


def _rows(types, prefixes):
    return np.array([t.startswith(prefixes) for t in types])


def test_load_trials_keeps_the_fitted_types_in_file_order(trials):
    path, types, refs, comps, answers = trials
    assert 'AEPsych_0_Sobol_0,"' in path.read_text()  # the quoted "x,y" cells
    data = hong2025.load_trials(path)
    keep = _rows(types, ("AEPsych", "pregenSobol"))
    assert isinstance(data, TrialData) and data.num_trials == keep.sum() == 9
    assert data.stimulus_names == ("ref", "comp")
    np.testing.assert_allclose(data.stimulus("ref"), refs[keep], atol=5e-9)
    np.testing.assert_allclose(data.stimulus("comp"), comps[keep], atol=5e-9)
    np.testing.assert_array_equal(data.responses[:, 0], answers[keep])
    assert data.responses.shape == (9, 1)


@pytest.mark.parametrize("trial_types, prefixes", [
    (("AEPsych",), ("AEPsych",)),            # psyphy 0.0.5's default
    (("MOCS",), ("MOCS",)),
    (("pregenSobol", "MOCS"), ("pregenSobol", "MOCS")),
    (None, ("",)),
])
def test_load_trials_selects_by_prefix(trials, trial_types, prefixes):
    path, types, refs, _, answers = trials
    data = hong2025.load_trials(path, trial_types=trial_types)
    keep = _rows(types, prefixes)
    np.testing.assert_allclose(data.stimuli[:, 0], refs[keep], atol=5e-9)
    np.testing.assert_array_equal(data.responses[:, 0], answers[keep])


def test_load_trials_subset_is_a_reproducible_ordered_subset(trials):
    path, _, refs, _, _ = trials
    a = hong2025.load_trials(path, trial_types=None, max_trials=5, seed=3)
    b = hong2025.load_trials(path, trial_types=None, max_trials=5, seed=3)
    np.testing.assert_array_equal(a.stimuli, b.stimuli)
    rows = [int(np.argmin(np.abs(refs - r).sum(1))) for r in a.stimuli[:, 0]]
    assert len(set(rows)) == 5 and rows == sorted(rows)
    assert hong2025.load_trials(path, max_trials=100).num_trials == 9


@pytest.mark.parametrize("edit, error, match", [
    (lambda t: t.replace("TrialType,xref,x1,y", "TrialType,xref,x1,answer"),
     ValueError, r"missing expected column.*\['y'\]"),
    (lambda t: t.replace('"', "", 2), ValueError, "line 2 has"),
    (lambda t: t[: t.rindex('"') - 3], ValueError, "truncated"),
    (lambda t: t[: t.rindex(",") + 1] + "\n", ValueError, r"line 13, y.*''"),
    (lambda t: t.replace(",1\n", ",2\n", 1), ValueError, "y must be 0 or 1"),
    (lambda t: t.replace('"', '"0.1,', 1), ValueError, r"line 2, xref: expected 2"),
    (lambda t: re.sub(r'(Sobol_0,")[^,]+', r"\1nan", t), ValueError,
     r"line 2, xref: expected 2 finite number\(s\), got 'nan,"),
    (lambda t: "", ValueError, "empty"),
])
def test_load_trials_refuses_damaged_files(trials, edit, error, match):
    path = trials[0]
    path.write_text(edit(path.read_text()))
    with pytest.raises(error, match=match):
        hong2025.load_trials(path, trial_types=None)


def test_load_trials_refuses_bad_arguments(trials, tmp_path):
    path = trials[0]
    with pytest.raises(ValueError, match=r"No trials matched.*\['AEPsych', 'MOCS', "):
        hong2025.load_trials(path, trial_types=("Catch",))
    with pytest.raises(TypeError, match=r"sequence of prefixes, e.g. \('MOCS',\)"):
        hong2025.load_trials(path, trial_types="MOCS")
    with pytest.raises(ValueError, match="non-empty strings"):
        hong2025.load_trials(path, trial_types=())
    with pytest.raises(ValueError, match="max_trials"):
        hong2025.load_trials(path, max_trials=0)
    with pytest.raises(FileNotFoundError, match=r"does not exist; download it with"):
        hong2025.load_trials(tmp_path / "absent.csv")


# -- weights ----------------------------------------------------------------------
@pytest.fixture
def weights(tmp_path):
    rng = np.random.default_rng(2)
    W = rng.normal(0.0, 0.05, (5, 5, 2, 3))
    boots = W + rng.normal(0.0, 0.005, (3, *W.shape))
    return files.write_weights(tmp_path / "w.csv", W, boots), W, boots


def _numpy_sigma(W, x, diag_term):
    """Sigma(x) = U U^T + eps I, U = sum_ab W_ab T_a(x0) T_b(x1), in NumPy."""
    ta = np.stack([chebyshev.chebval(x[:, 0], e) for e in np.eye(W.shape[0])], -1)
    tb = np.stack([chebyshev.chebval(x[:, 1], e) for e in np.eye(W.shape[1])], -1)
    U = np.einsum("na,nb,abdv->ndv", ta, tb, W)
    return U @ np.swapaxes(U, -1, -2) + diag_term * np.eye(W.shape[2])


def test_load_reference_w_reads_every_column(weights):
    path, W, boots = weights
    assert path.read_text().startswith('"i,j,k,l",W_org,W_btst')
    got = np.asarray(hong2025.load_reference_W(path), dtype=float)
    np.testing.assert_allclose(got, W, atol=6e-9)
    names = files.bootstrap_names("W", 3)
    for name, boot in zip(names, boots):
        np.testing.assert_allclose(hong2025.load_reference_W(path, column=name), boot,
                                   atol=1e-7)


def test_published_noise_table_is_reproduced_to_its_8_decimals(tmp_path):
    """psyphy's external check, on a table written from known weights (x64)."""
    model = hong2025.build_paper_model(mc_samples=1)
    W = np.round(np.asarray(model.init_params(jax.random.PRNGKey(4))["W"], float), 8)
    g = np.linspace(-1.0, 1.0, 9)
    coords = np.stack(np.meshgrid(g, g), -1).reshape(-1, 2)
    weights = files.write_weights(tmp_path / "w.csv", W)
    sigmas = _numpy_sigma(W, coords, 0.0)
    noise = files.write_sigma_table(tmp_path / "n.csv", coords, sigmas, kind="noise")
    with jax.enable_x64(True):
        W_read = hong2025.load_reference_W(weights)
        assert W_read.dtype == np.float64
        got_coords, published = hong2025.load_sigma_table(noise)
        field = pn.WPPMCovarianceField(model, {"W": W_read})
        got = np.asarray(field(got_coords))
    assert got.dtype == np.float64
    assert np.abs(got - published).max() < 1e-8


def _drop_line(n):
    return lambda t: "".join(t.splitlines(keepends=True)[:n]
                             + t.splitlines(keepends=True)[n + 1:])


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.replace('"0,0,0,1"', '"0,0,0,0"', 1), "duplicate index keys"),
    (_drop_line(7), "not dense"),
    (lambda t: t[: len(t) // 2], "truncated"),
    (lambda t: t.replace('"i,j,k,l"', "index", 1), "expected first column 'i,j,k,l'"),
    (lambda t: t.replace('"0,0,0,1"', '"0,0,1"', 1), r"index: expected 4"),
    (lambda t: t.replace('"0,0,0,1"', '"0,0,0.5,1"', 1), "4 integers"),
    (lambda t: t.splitlines()[0] + "\n", "no weights"),
])
def test_load_reference_w_refuses_damaged_tables(weights, edit, match):
    path = weights[0]
    path.write_text(edit(path.read_text()))
    with pytest.raises(ValueError, match=match):
        hong2025.load_reference_W(path)


def test_load_reference_w_names_the_columns_it_has(weights):
    with pytest.raises(ValueError, match=r"'W_btst' not found; it has 4 columns"):
        hong2025.load_reference_W(weights[0], column="W_btst")


# -- threshold tables -------------------------------------------------------------
def _spd(rng, n):
    A = rng.normal(0.0, 0.05, (n, 2, 2))
    return A @ np.swapaxes(A, -1, -2) + 1e-4 * np.eye(2)


@pytest.fixture
def sigma_table(tmp_path):
    rng = np.random.default_rng(4)
    coords = files.thres_grid()
    org, boots = _spd(rng, 49), np.stack([_spd(rng, 49) for _ in range(4)])
    path = files.write_sigma_table(tmp_path / "s.csv", coords, org, boots)
    return path, coords, org, boots


def test_sigma_tables_read_the_grid_and_every_column(sigma_table):
    path, coords, org, boots = sigma_table
    first_row = path.read_text().splitlines()[1]
    assert first_row.startswith('"-0.70000000,-0.70000000","[[0.')
    got_coords, got = hong2025.load_sigma_table(path)
    assert got_coords.shape == (49, 2) and got.shape == (49, 2, 2)
    np.testing.assert_allclose(got_coords, coords, atol=5e-9)
    np.testing.assert_array_equal(got_coords[:7, 1], -0.7)  # first coordinate fastest
    np.testing.assert_allclose(got, org, atol=5e-9)
    b_coords, b, names = hong2025.load_sigma_bootstrap(path)
    assert names == tuple(files.bootstrap_names("Sigmas_thres_grid", 4))
    np.testing.assert_allclose(b_coords, coords, atol=5e-9)
    np.testing.assert_allclose(b, boots, atol=5e-9)
    _, one = hong2025.load_sigma_table(path, value_column=names[2])
    np.testing.assert_array_equal(one, b[2])


def test_noise_tables_share_the_layout(tmp_path):
    coords = np.array([[-1.0, -1.0], [0.0, 0.5]])
    sigmas = _spd(np.random.default_rng(5), 2)
    path = files.write_sigma_table(tmp_path / "n.csv", coords, sigmas, kind="noise")
    got_coords, got = hong2025.load_sigma_table(path)
    np.testing.assert_allclose(got_coords, coords)
    np.testing.assert_allclose(got, sigmas, atol=5e-9)
    with pytest.raises(ValueError, match="no bootstrap columns"):
        hong2025.load_sigma_bootstrap(path)


@pytest.mark.parametrize("edit, kwargs, match", [
    (lambda t: t.replace("],[", "],[[", 1), {}, "expected a 2 x 2 matrix"),
    (lambda t: t.replace("]]", ",1.0]]", 1), {}, r"expected 2 finite"),
    (lambda t: t.replace("grid_ref,", "location,", 1), {}, "expected first column"),
    (lambda t: t.replace("_org", "_main", 1), {}, r"one column ending in '_org'"),
    (lambda t: t, {"value_column": "Sigmas_x"}, "'Sigmas_x' not found"),
    (lambda t: t[: len(t) - 40], {}, "truncated"),
])
def test_sigma_table_refuses_damaged_files(sigma_table, edit, kwargs, match):
    path = sigma_table[0]
    path.write_text(edit(path.read_text()))
    with pytest.raises(ValueError, match=match):
        hong2025.load_sigma_table(path, **kwargs)


# -- calibration ------------------------------------------------------------------
M = np.array([[0.8, 0.3, 0.5], [-0.2, 0.6, 0.5], [0.1, -0.9, 0.5]])


def test_calibration_matrix_and_rgb(tmp_path):
    path = files.write_calibration(tmp_path / "M.csv", M)
    got = hong2025.load_calibration_matrix(path)
    np.testing.assert_allclose(got, M)
    np.testing.assert_allclose(hong2025.w2d_to_rgb([0.0, 0.0], got), [0.5, 0.5, 0.5])
    pts = np.array([[0.1, -0.2], [0.3, 0.4]])
    want = [[0.8 * x + 0.3 * y + 0.5, -0.2 * x + 0.6 * y + 0.5, 0.1 * x - 0.9 * y + 0.5]
            for x, y in pts]
    np.testing.assert_allclose(hong2025.w2d_to_rgb(pts, got), want)
    far = np.array([1.0, -1.0])  # [1.0, -0.3, 1.5] before clipping
    np.testing.assert_allclose(hong2025.w2d_to_rgb(far, got), [1.0, 0.0, 1.0])
    np.testing.assert_allclose(hong2025.w2d_to_rgb(far, got, clip=False),
                               [1.0, -0.3, 1.5])


@pytest.mark.parametrize("text, match", [
    ("1.0,2.0\n3.0,4.0\n", "expected a 3x3 matrix"),
    ("1,2,3\n4,5\n7,8,9\n", "line 2 has 2 cells"),
    ("1,2,3\n4,x,6\n7,8,9\n", "line 2: expected 3 finite"),
])
def test_calibration_refuses_bad_files(tmp_path, text, match):
    path = tmp_path / "M.csv"
    path.write_text(text)
    with pytest.raises(ValueError, match=match):
        hong2025.load_calibration_matrix(path)


def test_w2d_to_rgb_checks_its_arguments():
    with pytest.raises(ValueError, match=r"shape \(2,\) or \(N, 2\)"):
        hong2025.w2d_to_rgb(np.zeros((4, 3)), M)
    with pytest.raises(ValueError, match=r"M must have shape \(3, 3\)"):
        hong2025.w2d_to_rgb(np.zeros(2), M[:2])
    with pytest.raises(ValueError, match="NaN"):
        hong2025.w2d_to_rgb([np.nan, 0.0], M)


# -- the paper's model ------------------------------------------------------------
def test_build_paper_model_has_the_papers_settings():
    model = hong2025.build_paper_model()
    h = hong2025.PAPER_HYPERPARAMS
    assert (model.input_dim, model.basis_degree, model.extra_dims) == (2, 4, 1)
    assert model.diag_term == 0.0 and isinstance(model.noise, pn.GaussianNoise)
    assert (model.prior.variance_scale, model.prior.decay_rate) == (3e-4, 0.4)
    cfg = model.task.config
    assert (cfg.num_samples, cfg.bandwidth, cfg.clip) == (2000, 5e-3, 1e-3)
    assert h["n_restarts"] == 3 and h["target_pC"] == 0.667
    fast = hong2025.build_paper_model(mc_samples=16, bandwidth=1e-2)
    assert (fast.task.config.num_samples, fast.task.config.bandwidth) == (16, 1e-2)
    assert fast.init_params(jax.random.PRNGKey(0))["W"].shape == (5, 5, 2, 3)


def test_paper_model_clips_p_correct_to_the_papers_bounds():
    """A wrong answer far past threshold costs log(0.001), not psyphy's log(1e-6)."""
    model = hong2025.build_paper_model(mc_samples=64)
    W = model.init_params(jax.random.PRNGKey(1))["W"]
    ref = np.zeros((2, 2), np.float32)
    probe = np.array([[0.0, 0.0], [0.9, -0.9]], np.float32)  # chance; far past
    trials = Trials(ref, probe, np.array([1, 0], np.int32))

    @jax.jit
    def loglik(W):
        draws = model.draw_mc_samples(jax.random.PRNGKey(2), 2)
        return model.log_likelihood({"W": W}, trials, draws)

    ll = np.asarray(loglik(W))
    np.testing.assert_allclose(ll[1], np.log(1e-3), rtol=1e-4)
    assert abs(np.exp(ll[0]) - 1 / 3) < 0.15


# -- fetch ------------------------------------------------------------------------
def _mirror(root: Path, subject: int = 1) -> dict[str, bytes]:
    """A folder laid out as ``sub{N}/<name>``; returns the bytes by key."""
    W = np.random.default_rng(6).normal(0.0, 0.01, (5, 5, 2, 3))
    names = files.subject_names(subject)
    folder = root / f"sub{subject}"
    files.write_trials(folder / names["trials"], files.trial_types(1, 1, 0, 1),
                       np.zeros((3, 2)), np.full((3, 2), 0.1), [1, 0, 1])
    files.write_weights(folder / names["weights"], W)
    files.write_sigma_table(folder / names["thres_ellipses"], files.thres_grid(),
                            np.tile(np.eye(2) * 1e-3, (49, 1, 1)))
    return {key: (folder / name).read_bytes() for key, name in names.items()}


@pytest.fixture
def no_network(monkeypatch):
    """urlopen fails as it does offline; the calls are counted."""
    calls = []

    def offline(request, *args, **kwargs):
        calls.append(getattr(request, "full_url", request))
        raise urllib.error.URLError(socket.gaierror(-2, "Name or service not known"))

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    return calls


def test_fetch_copies_from_a_file_url_then_works_offline(tmp_path, monkeypatch):
    want = _mirror(tmp_path / "mirror")
    cache = tmp_path / "cache"
    paths = hong2025.fetch(1, cache, source=(tmp_path / "mirror").as_uri(),
                           verbose=False)
    assert set(paths) == {"trials", "weights", "thres_ellipses"}
    for key, data in want.items():
        assert paths[key].parent == cache / "sub1"
        assert paths[key].read_bytes() == data
    assert sorted(p.name for p in (cache / "sub1").iterdir()) == sorted(
        files.subject_names(1).values())  # no temporary files left
    assert hong2025.load_trials(paths["trials"]).num_trials == 2
    calls = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: calls.append(a))
    assert hong2025.fetch(1, cache, verbose=False) == paths  # cached: no download
    assert calls == []


def test_fetch_default_folder_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv(hong2025.DATA_HOME_ENV, raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hong2025.default_data_dir() == tmp_path / "xdg/psyphy_numpyro/hong2025"
    monkeypatch.setenv(hong2025.DATA_HOME_ENV, str(tmp_path / "mine"))
    assert hong2025.default_data_dir() == tmp_path / "mine" / "hong2025"
    _mirror(tmp_path / "mirror", subject=4)
    paths = hong2025.fetch(4, source=(tmp_path / "mirror").as_uri(), verbose=False)
    assert paths["weights"] == tmp_path / "mine/hong2025/sub4/Bestfit_W_sub4.csv"


def test_fetch_says_what_is_missing_and_leaves_no_partial_file(tmp_path):
    _mirror(tmp_path / "mirror")
    (tmp_path / "mirror" / "sub1" / "Bestfit_W_sub1.csv").unlink()
    with pytest.raises(FileNotFoundError, match=r"Bestfit_W_sub1\.csv does not exist"):
        hong2025.fetch(1, tmp_path / "cache", source=(tmp_path / "mirror").as_uri(),
                       verbose=False)
    assert not any("partial" in p.name for p in (tmp_path / "cache").rglob("*"))


def test_fetch_offline_raises_a_clear_error(tmp_path, no_network):
    with pytest.raises(ConnectionError, match=r"needs the internet.*copy .* by hand"):
        hong2025.fetch(1, tmp_path, verbose=False)
    assert no_network == [hong2025._OSF_FILES]
    with pytest.raises(ConnectionError, match="needs the internet"):
        hong2025.fetch_calibration_matrix(tmp_path, verbose=False)


def test_fetch_refuses_unknown_subjects_before_going_online(tmp_path, no_network):
    with pytest.raises(ValueError, match=r"one of \[1, 2, 4, 6, 7, 8, 10, 11\]"):
        hong2025.fetch(3, tmp_path)
    with pytest.raises(TypeError, match="subject must be an int"):
        hong2025.fetch("1", tmp_path)
    assert no_network == []


class _FakeOSF:
    """OSF's JSON listings (paginated) and downloads, by URL."""

    def __init__(self, subject_files: dict[str, bytes], calibration: dict[str, bytes]):
        api = hong2025._OSF_FILES
        self.pages: dict[str, bytes] = {}
        self.sizes: dict[str, int] = {}
        folders = {"root": api, "org": api + "org/", "sub1": api + "sub1/",
                   "cal": api + "cal/", "mat": api + "mat/"}

        def folder(name, key):
            return {"attributes": {"kind": "folder", "name": name},
                    "relationships": {"files": {"links": {"related": {
                        "href": folders[key]}}}}}

        def file(name, data):
            url = f"https://download.invalid/{name}"
            self.pages[url] = data
            return {"attributes": {"kind": "file", "name": name, "size": len(data)},
                    "links": {"download": url}}

        # the root listing comes in two pages
        self._listing(api, [folder("Calibration and transformation", "cal")],
                      next_url=api + "?page=2")
        self._listing(api + "?page=2",
                      [folder("Organized data and model predictions", "org")])
        self._listing(folders["org"], [folder("sub1", "sub1"), folder("sub2", "sub1")])
        self._listing(folders["sub1"], [file(n, d) for n, d in subject_files.items()])
        self._listing(folders["cal"], [folder("Transformation matrices", "mat")])
        self._listing(folders["mat"], [file(n, d) for n, d in calibration.items()])

    def _listing(self, url, items, next_url=None):
        self.pages[url] = json.dumps({"data": items,
                                      "links": {"next": next_url}}).encode()

    def urlopen(self, request, timeout=None, context=None):
        url = request.full_url
        if url not in self.pages:
            raise urllib.error.HTTPError(url, 404, "Not Found", {}, None)
        return io.BytesIO(self.pages[url])


def test_fetch_walks_the_osf_folders(tmp_path, monkeypatch):
    want = _mirror(tmp_path / "mirror")
    names = files.subject_names(1)
    osf = _FakeOSF({names[k]: v for k, v in want.items()},
                   {"M_2DWToRGB_DELL_02242025_copy.csv": b"1,0,0.5\n0,1,0.5\n0,0,0.5\n",
                    "M_RGBTo2DW_DELL_02242025_copy.csv": b"0\n"})
    monkeypatch.setattr(urllib.request, "urlopen", osf.urlopen)
    paths = hong2025.fetch(1, tmp_path / "cache", verbose=False)
    for key, data in want.items():
        assert paths[key].read_bytes() == data
    path = hong2025.fetch_calibration_matrix(tmp_path / "cache", verbose=False)
    assert path == tmp_path / "cache/calibration/M_2DWToRGB_DELL_02242025_copy.csv"
    M_read = hong2025.load_calibration_matrix(path)
    np.testing.assert_allclose(hong2025.w2d_to_rgb([0.0, 0.0], M_read), [0.5, 0.5, 0.5])
    with pytest.raises(FileNotFoundError, match="Noise_ellipses_sub1.csv"):
        hong2025.fetch(1, tmp_path / "cache", noise_ellipses=True, verbose=False)


def test_fetch_refuses_a_download_cut_short(tmp_path, monkeypatch):
    want = _mirror(tmp_path / "mirror")
    names = files.subject_names(1)
    osf = _FakeOSF({names[k]: v for k, v in want.items()}, {})
    url = "https://download.invalid/" + names["weights"]
    osf.pages[url] = osf.pages[url][:100]  # the listing keeps the full size
    monkeypatch.setattr(urllib.request, "urlopen", osf.urlopen)
    with pytest.raises(ConnectionError, match=r"stopped after 100 of"):
        hong2025.fetch(1, tmp_path / "cache", verbose=False)
    assert not (tmp_path / "cache" / "sub1" / names["weights"]).exists()
    assert not any("partial" in p.name for p in (tmp_path / "cache").rglob("*"))


def test_fetch_refuses_a_broken_connection_and_a_strange_listing(tmp_path, monkeypatch):
    want = _mirror(tmp_path / "mirror")
    names = files.subject_names(1)
    osf = _FakeOSF({names[k]: v for k, v in want.items()}, {})

    class Broken(io.BytesIO):
        def read(self, *args):
            raise ConnectionResetError(104, "Connection reset by peer")

    url = "https://download.invalid/" + names["trials"]
    opened = osf.urlopen
    monkeypatch.setattr(urllib.request, "urlopen", lambda r, **k: (
        Broken() if r.full_url == url else opened(r, **k)))
    with pytest.raises(ConnectionError, match=r"trial_data_pooled_by_type_sub1\.csv "
                                              r"broke off .*Connection reset"):
        hong2025.fetch(1, tmp_path / "cache", verbose=False)
    assert not any("partial" in p.name for p in (tmp_path / "cache").rglob("*"))

    listing = json.loads(osf.pages[hong2025._OSF_FILES + "?page=2"])
    del listing["data"][0]["relationships"]
    osf.pages[hong2025._OSF_FILES + "?page=2"] = json.dumps(listing).encode()
    monkeypatch.setattr(urllib.request, "urlopen", osf.urlopen)
    with pytest.raises(ConnectionError, match="no relationships/files/links/related"):
        hong2025.fetch(1, tmp_path / "cache2", verbose=False)
