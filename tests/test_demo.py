"""The demo's first figure is honest: its 90% band contains the simulated observer."""

import numpy as np
import pytest

from psyphy_numpyro.cli import run_demo


def threshold_radii(log_diag: np.ndarray, angles: np.ndarray, slope: float,
                    diag_term: float) -> np.ndarray:
    """Threshold distance of the seed's oddity task, by hand.

    p(correct) = 2/3 + tanh(slope d) / 3 reaches 5/6 at d* = atanh(1/2) / slope,
    and d is the Mahalanobis length under diag(exp(log_diag)) + eps I.
    """
    var = np.exp(log_diag)[..., None, :] + diag_term  # (..., 1, 2)
    u2 = np.stack([np.cos(angles) ** 2, np.sin(angles) ** 2], -1)  # (A, 2)
    return np.arctanh(0.5) / slope / np.sqrt(np.sum(u2 / var, axis=-1))


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])  # 0 is the command's default
def test_demo_band_contains_the_true_threshold(seed, tmp_path, capsys):
    result = run_demo(trials=400, seed=seed, out=tmp_path, num_warmup=200,
                      num_samples=300, num_chains=2, progress=False)
    model, truth = result["model"], result["truth"]
    assert model.prior.scale == 2.0
    true_log_diag = np.log([0.9, 0.01])  # the seed's observer
    np.testing.assert_allclose(np.asarray(truth["log_diag"]), true_log_diag, rtol=1e-6)

    angles = np.linspace(0.0, 2 * np.pi, 360, endpoint=False)
    draws = np.asarray(result["nuts"].samples["log_diag"], dtype=float)
    radii = threshold_radii(draws, angles, 1.5, model.diag_term)  # (draws, angles)
    lower, upper = np.quantile(radii, [0.05, 0.95], axis=0)
    true_r = threshold_radii(true_log_diag, angles, 1.5, model.diag_term)
    assert np.all((lower <= true_r) & (true_r <= upper))
    lo, hi = np.quantile(draws, [0.05, 0.95], axis=0)
    assert np.all((lo <= true_log_diag) & (true_log_diag <= hi))

    assert result["coverage"] == 1.0  # the demo's own count agrees
    text = capsys.readouterr().out
    assert "contains the true threshold in 100% of directions" in text
    assert "prior standard deviations" in text
    for name in ("thresholds", "trace", "learning_curve"):
        assert result["files"][name].stat().st_size > 1000
