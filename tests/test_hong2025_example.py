"""docs/examples/hong2025_reproduce.py on a simulated observer's published files.

A known field W plays the observer: its trials (with pre-generated Sobol rows,
which are fitted, and MOCS rows, which are not), its threshold ellipses (the
"published" table) and those of perturbed fields (the "bootstrap" columns)
are written exactly as Hong et al.'s files, and the script is run on them at
tiny sizes. The fit must land nearer the published ellipses than a prior
draw does, and the script's comparison must match a plain SciPy computation.
docs/examples/wppm/hong2025_recipe.py (no fit, the published weights' ellipses)
runs on such files too.
"""

from __future__ import annotations

import importlib.util
import runpy
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from psyphy_numpyro import fit_ellipse, threshold_contour
from psyphy_numpyro.data.published import hong2025

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "docs" / "examples" / "hong2025_reproduce.py"
SIZES = {"max_trials": None, "mc_samples": 64, "threshold_samples": 400, "steps": 400,
         "restarts": 2, "learning_rate": 1e-4, "momentum": 0.2}  # the paper's step
N_FIT, N_MOCS = 2400, 200


def _load(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


files = _load(ROOT / "tests" / "data" / "published" / "hong2025_files.py",
              "hong2025_files")


def _thresholds(model, W, coords, num_samples=400):
    """Threshold covariances at 16 directions (Monte Carlo, or None: the readouts'
    default quadrature rule, which psyphy's predictive API uses)."""
    contour = threshold_contour(model, {"W": W}, ref=coords, criterion=0.667,
                                num_angles=16, num_samples=num_samples)
    return np.asarray(fit_ellipse(contour).cov, dtype=float)


def _observer(folder: Path, model) -> dict:
    """Write sub1's three files for a simulated observer; return its truth."""
    keys = jax.random.split(jax.random.PRNGKey(7), 6)
    W = model.init_params(keys[0])["W"]
    n = N_FIT + N_MOCS
    refs = jax.random.uniform(keys[1], (n, 2), minval=-0.75, maxval=0.75)
    angle = jax.random.uniform(keys[2], (n,), maxval=2 * jnp.pi)
    radius = jax.random.uniform(keys[3], (n,), minval=0.5, maxval=4.0)  # Mahalanobis
    chol = jnp.linalg.cholesky(model.local_covariance({"W": W}, refs))
    u = jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1) * radius[:, None]
    comps = jnp.clip(refs + jnp.einsum("nij,nj->ni", chol, u), -1.0, 1.0)
    answers, _ = model.task.simulate({"W": W}, jnp.stack([refs, comps], 1), model,
                                     key=keys[4])
    answers = np.array(answers)
    answers[N_FIT:] = 0  # MOCS rows: fitting them would pull the fit off the truth
    names = files.subject_names(1)
    n_pregen = 300
    types = files.trial_types(600, N_FIT - 600 - n_pregen, n_pregen, N_MOCS)
    files.write_trials(folder / names["trials"], types, np.asarray(refs),
                       np.asarray(comps), answers)
    coords = files.thres_grid()
    boots = W + 0.1 * jnp.abs(W).mean() * jax.random.normal(keys[5], (4, *W.shape))
    published = _thresholds(model, W, coords)
    bootstrap = np.stack([_thresholds(model, b, coords) for b in boots])
    files.write_sigma_table(folder / names["thres_ellipses"], coords, published,
                            bootstrap)
    return {"W": W, "coords": coords, "published": published, "bootstrap": bootstrap}


def _scipy_distance(A, B):
    """||logm(A^-1/2 B A^-1/2)||_F, by SciPy's matrix functions."""
    root = np.real(scipy.linalg.sqrtm(np.linalg.inv(A)))
    return np.linalg.norm(np.real(scipy.linalg.logm(root @ B @ root)), "fro")


@pytest.mark.slow
def test_reproduction_recovers_a_simulated_observer(tmp_path):
    model = hong2025.build_paper_model(mc_samples=SIZES["mc_samples"])
    truth = _observer(tmp_path / "data" / "sub1", model)
    script = _load(SCRIPT, "hong2025_reproduce")
    out = script.main(small=True, out_dir=tmp_path / "figs", data_dir=tmp_path / "data",
                      sizes=SIZES)

    assert out["num_trials"] == N_FIT  # AEPsych and pre-generated Sobol, no MOCS
    assert out["best"] == int(np.argmin(out["objective"]))
    np.testing.assert_allclose(out["published"], truth["published"], atol=5e-9)
    np.testing.assert_allclose(out["bootstrap"], truth["bootstrap"], atol=5e-9)

    # the comparison is the affine-invariant distance, as SciPy computes it; NaN
    # where no ellipse fits the contour
    valid = np.isfinite(out["fitted"]).all(axis=(1, 2))
    assert valid.sum() >= 45
    want = np.full(len(valid), np.nan)
    want[valid] = [_scipy_distance(p, f) for p, f in
                   zip(out["published"][valid], out["fitted"][valid])]
    np.testing.assert_allclose(out["distance"], want, rtol=1e-5, atol=1e-6)
    boot = [[_scipy_distance(p, b) for p, b in zip(out["published"], bs)]
            for bs in out["bootstrap"]]
    np.testing.assert_allclose(out["bootstrap_distance"], boot, rtol=1e-5, atol=1e-6)
    band = np.quantile(np.asarray(boot), 0.95, axis=0)
    np.testing.assert_array_equal(out["within"], want <= band)

    # the fit is far nearer the observer's ellipses than a prior draw is
    start = model.init_params(jax.random.PRNGKey(99))["W"]
    prior = [_scipy_distance(p, s) for p, s in
             zip(out["published"], _thresholds(model, start, truth["coords"]))]
    assert np.median(want[valid]) < 0.5 * np.median(prior)
    assert (tmp_path / "figs" / "hong2025_sub1_thresholds.png").stat().st_size > 0


def test_reproduction_says_how_to_get_missing_files(tmp_path):
    script = _load(SCRIPT, "hong2025_reproduce")
    with pytest.raises(FileNotFoundError, match=r"hong2025\.fetch\(4\)"):
        script.main(small=True, data_dir=tmp_path, subject=4)


RECIPE = ROOT / "docs" / "examples" / "wppm" / "hong2025_recipe.py"
RECIPE_SAMPLES = 400


@pytest.mark.slow
def test_recipe_reads_thresholds_from_published_weights(tmp_path, monkeypatch, capsys):
    """docs/examples/wppm/hong2025_recipe.py on one simulated observer's files.

    Its "published" ellipses are those of the written weights; the recipe must
    read the files and return them, and on its ellipses the model must answer
    2/3 correct, by Monte Carlo draws independent of the threshold search.
    """
    model = hong2025.build_paper_model(mc_samples=RECIPE_SAMPLES)
    W = model.init_params(jax.random.PRNGKey(3))["W"]
    folder, names = tmp_path / "sub1", files.subject_names(1)
    coords = files.thres_grid()
    published = _thresholds(model, W, coords, num_samples=None)
    files.write_weights(folder / names["weights"], W)
    files.write_sigma_table(folder / names["thres_ellipses"], coords, published)
    files.write_trials(folder / names["trials"], files.trial_types(2, 0, 0, 0),
                       coords[:2], coords[:2] + 0.01, [1, 0])  # fetch wants all three

    recipe = _load(RECIPE, "hong2025_recipe")
    got, ours, read, ratio = recipe.published_thresholds(
        1, data_dir=tmp_path, mc_samples=RECIPE_SAMPLES)
    np.testing.assert_allclose(got, coords, atol=5e-9)
    np.testing.assert_allclose(read, published, rtol=1e-6, atol=5e-9)
    np.testing.assert_allclose(ours, published, rtol=1e-3)  # W kept to 8 decimals
    np.testing.assert_allclose(ratio, 1.0, rtol=2e-3)  # the same ellipses' areas

    # on our ellipses (16 directions at each reference), fresh Monte Carlo draws
    # for each trial give 2/3 correct; shrunk or grown by a third, clearly not
    angles = np.linspace(0.0, 2 * np.pi, 16, endpoint=False)
    u = np.stack([np.cos(angles), np.sin(angles)], -1)
    radius = 1.0 / np.sqrt(np.einsum("ai,mij,aj->ma", u, np.linalg.inv(ours), u))
    scale = np.array([0.75, 1.0, 1.33])[:, None, None, None]
    refs = np.broadcast_to(coords[None, :, None, :], (3, *radius.shape, 2))
    comps = refs + scale * radius[None, ..., None] * u
    _, (p,) = model.task.simulate(
        {"W": W}, jnp.stack([refs.reshape(-1, 2), comps.reshape(-1, 2)], 1), model,
        key=jax.random.PRNGKey(11))
    inside, on, outside = np.asarray(p).reshape(3, -1).mean(axis=1)  # 0.57, 0.69, 0.82
    assert abs(on - 0.667) < 0.04
    assert inside < 0.667 - 0.08 and outside > 0.667 + 0.08

    # the command line prints the same comparison
    monkeypatch.setattr("sys.argv", [str(RECIPE), "--data-dir", str(tmp_path),
                                     "--mc-samples", str(RECIPE_SAMPLES)])
    runpy.run_path(str(RECIPE), run_name="__main__")
    assert f"median {np.median(ratio):.3f}" in capsys.readouterr().out
