"""Simulation-based calibration machinery (validation/sbc.py) at tiny size."""

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

_PATH = Path(__file__).resolve().parents[1] / "validation" / "sbc.py"
_spec = importlib.util.spec_from_file_location("validation_sbc", _PATH)
sbc = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = sbc  # dataclasses look their module up
_spec.loader.exec_module(sbc)


def test_ranks_count_draws_below_and_split_ties():
    rng = np.random.default_rng(0)
    draws = np.array([[[0.0, 5.0], [1.0, 5.0], [2.0, 5.0], [3.0, 5.0]]])  # (1, 4, 2)
    assert sbc.sbc_ranks([[-1.0, 4.0]], draws, rng).tolist() == [[0, 0]]
    assert sbc.sbc_ranks([[9.0, 6.0]], draws, rng).tolist() == [[4, 4]]
    assert sbc.sbc_ranks([[1.5, np.inf]], draws, rng).tolist() == [[2, 4]]
    # a truth equal to all 4 draws gets a uniform rank in 0..4
    tied = sbc.sbc_ranks(np.full((5000, 1), 5.0), np.full((5000, 4, 1), 5.0), rng)
    counts = np.bincount(tied.ravel(), minlength=5)
    assert counts.size == 5 and np.all(np.abs(counts - 1000) < 150)
    with pytest.raises(ValueError, match="draws must have shape"):
        sbc.sbc_ranks([[1.0]], draws, rng)


def test_uniformity_tests_accept_exact_draws_and_reject_overconfident_ones():
    rng = np.random.default_rng(1)
    R, L = 400, 99
    truth = rng.normal(size=(R, 1))
    exact = rng.normal(size=(R, L, 1))  # the "posterior" is the prior: calibrated
    narrow = 0.5 * rng.normal(size=(R, L, 1))  # too narrow: U-shaped ranks
    good = sbc.rank_uniformity(sbc.sbc_ranks(truth, exact, rng), L, 10, rng)
    bad = sbc.rank_uniformity(sbc.sbc_ranks(truth, narrow, rng), L, 10, rng)
    assert good.counts.sum() == R
    assert good.chi2_p > 0.01 and good.ks_p > 0.01
    assert bad.chi2_p < 1e-6 and bad.ks_p < 1e-6
    assert bad.counts[0] + bad.counts[-1] > 0.4 * R
    with pytest.raises(ValueError, match="divide"):
        sbc.rank_uniformity([0, 1], L, 7, rng)


def test_expected_coverage_of_a_percentile_band_matches_simulation():
    rng = np.random.default_rng(2)
    L, R = 19, 40000
    x = rng.normal(size=(R, L + 1))  # exchangeable: truth = column 0
    lo, hi = np.percentile(x[:, 1:], [5, 95], axis=1)
    inside = (lo <= x[:, 0]) & (x[:, 0] <= hi)
    c, se = sbc.coverage(inside)
    assert se == pytest.approx(np.sqrt(c * (1 - c) / R))
    assert abs(c - sbc.expected_coverage(0.9, L)) < 4 * se
    assert abs(c - 0.9) > 4 * se  # 19 draws really do under-cover a 90% band


@pytest.mark.slow
def test_mvp_sbc_replications_sample_their_own_posteriors(mvp_grid_posterior):
    study = sbc.Study("mvp", num_reps=3, num_trials=300, num_warmup=150,
                      num_draws=99, thinning=2, batch=3,
                      settings={"max_radius": 1.0})
    result = sbc.run_sbc(study, seed=3, keep_draws=True, log=lambda msg: None)
    model = sbc.mvp_model()
    assert result.ranks.shape == (3, 3) and result.draws.shape == (3, 99, 2)
    assert result.ranks.min() >= 0 and result.ranks.max() <= 99
    assert result.inside.shape == (3, 1) and result.divergences.sum() == 0
    for r in range(3):
        params, (ref, probe, y) = sbc.simulate_replication(study, model, 3, r)
        np.testing.assert_allclose(result.truth[r, :2], params["log_diag"], rtol=1e-6)
        # the ranks are the counts of draws below the truth (no ties here)
        below = (result.draws[r] < np.asarray(params["log_diag"])).sum(0)
        np.testing.assert_array_equal(result.ranks[r, :2], below)
        # each replication's draws follow the exact posterior of its own data
        grid, w = mvp_grid_posterior(ref, probe, y, slope=1.5)
        mean = w @ grid
        sd = np.sqrt(w @ (grid - mean) ** 2)
        draws = result.draws[r]
        np.testing.assert_array_less(np.abs(draws.mean(0) - mean), 0.4 * sd)
        np.testing.assert_allclose(draws.std(0), sd, rtol=0.3)
    summary = sbc.summarize(result)
    assert [row["quantity"] for row in summary["rows"]] == result.names
    assert "coverage of the 90% threshold bands" in sbc.format_summary(summary)


@pytest.mark.slow  # two SBC runs; runs in the whole suite
def test_a_stored_run_carries_on_where_it_stopped(tmp_path):
    study = sbc.Study("mvp", num_reps=4, num_trials=100, num_warmup=50, num_draws=19,
                      thinning=1, batch=2, num_bins=5, settings={"max_radius": 1.0})
    whole = sbc.run_sbc(study, seed=1, log=lambda msg: None)
    store = tmp_path / "mvp.npz"
    first = sbc.run_sbc(sbc.Study(**{**study.__dict__, "num_reps": 2}), seed=1,
                        log=lambda msg: None, store=store)
    assert first.ranks.shape[0] == 2
    resumed = sbc.run_sbc(study, seed=1, log=lambda msg: None, store=store)
    for a, b in ((whole.truth, resumed.truth), (whole.ranks, resumed.ranks),
                 (whole.inside, resumed.inside), (whole.mean_steps, resumed.mean_steps)):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="another study"):
        sbc.run_sbc(sbc.Study(**{**study.__dict__, "num_trials": 50}), seed=1,
                    log=lambda msg: None, store=store)
    with pytest.raises(ValueError, match="more than"):
        sbc.run_sbc(sbc.Study(**{**study.__dict__, "num_reps": 2}), seed=1,
                    log=lambda msg: None, store=store)
