"""Refit one of Hong et al.'s observers and compare with their published thresholds.

Hong et al. (2025) fitted a WPPM to each observer's colour-discrimination
trials and published the fit's threshold ellipses on a 7 x 7 grid of
references, with 120 bootstrap refits. This script refits one observer from
the published trials with the paper's settings (the WPPM of
``hong2025.build_paper_model``, SGD with momentum 0.2 and learning rate 1e-4 on
the per-trial objective, 1,500 steps, 3 restarts from prior draws, keeping the
lowest final objective), computes our threshold ellipses at 66.7 % correct
along 16 directions, and compares them with the published ellipses and with
the spread of the bootstrap refits.

Run it (the data: under 2 MB per observer, downloaded once)::

    python -c "from psyphy_numpyro.data.published import hong2025; hong2025.fetch(1)"
    python docs/examples/hong2025_reproduce.py --subject 1 --out figs   # paper's sizes
    python docs/examples/hong2025_reproduce.py --subject 1 --small      # minutes on CPU

At the paper's sizes (6,000 trials x 2,000 Monte Carlo samples x 1,500 steps x
3 restarts) a fit takes hours on a CPU; use a GPU. ``--small`` fits 1,500
trials with 200 samples: a quick look, not a reproduction. ``--data-dir``
points at another copy of the files (``<dir>/sub<N>/<file>``).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax
import numpy as np

from psyphy_numpyro import MAPOptimizer, fit_ellipse, threshold_contour
from psyphy_numpyro.data.published import hong2025

# trials kept (None: all the paper fitted), Monte Carlo samples per trial in the
# fit and in the threshold search, SGD steps, restarts, learning rate and
# momentum (per-trial objective)
SIZES = {
    "paper": {"max_trials": None, "mc_samples": 2000, "threshold_samples": 2000,
              "steps": 1500, "restarts": 3, "learning_rate": 1e-4, "momentum": 0.2},
    "small": {"max_trials": 1500, "mc_samples": 200, "threshold_samples": 1000,
              "steps": 1500, "restarts": 3, "learning_rate": 1e-4, "momentum": 0.2},
}
BOOTSTRAP_QUANTILE = 0.95


def ellipse_distance(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    r"""Affine-invariant distance :math:`\|\log(A^{-1/2} B A^{-1/2})\|_F`.

    Zero for equal ellipses, ``|log k|`` times sqrt(2) when ``B = k A``; the
    same whichever space the ellipses are expressed in. Stacks of 2 x 2
    matrices ``(..., 2, 2)``; NaN where either is NaN.
    """
    A, B = np.asarray(A, float), np.asarray(B, float)
    bad = ~(np.isfinite(A).all((-2, -1)) & np.isfinite(B).all((-2, -1)))
    A = np.where(bad[..., None, None], np.eye(2), A)
    B = np.where(bad[..., None, None], np.eye(2), B)
    L_inv = np.linalg.inv(np.linalg.cholesky(A))
    lam = np.linalg.eigvalsh(L_inv @ B @ np.swapaxes(L_inv, -1, -2))
    return np.where(bad, np.nan, np.sqrt(np.sum(np.log(lam) ** 2, axis=-1)))


def subject_paths(data_dir: str | os.PathLike | None, subject: int) -> dict:
    """The observer's files under ``data_dir`` (default: fetch's cache)."""
    root = Path(data_dir) if data_dir is not None else hong2025.default_data_dir()
    folder = root / f"sub{subject}"
    names = {"trials": f"trial_data_pooled_by_type_sub{subject}.csv",
             "thres_ellipses": f"Thres_ellipses_sub{subject}.csv"}
    paths = {key: folder / name for key, name in names.items()}
    missing = [str(p) for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"{missing} not found; download them with: python -c \"from "
            "psyphy_numpyro.data.published import hong2025; "
            f"hong2025.fetch({subject})\" (or pass --data-dir)."
        )
    return paths


def fit_best_of_restarts(model, data, size: dict) -> tuple:
    """MAP fits from ``restarts`` prior draws; the lowest final objective wins.

    Each fit's objective is re-evaluated with one fixed set of Monte Carlo
    draws, so the restarts are compared on the same function.
    """
    key = jax.random.PRNGKey(2025)
    fits, objective = [], []
    for seed in range(size["restarts"]):
        optimizer = MAPOptimizer(steps=size["steps"],
                                 learning_rate=size["learning_rate"],
                                 momentum=size["momentum"], show_progress=False)
        posterior = optimizer.fit(model, data, seed=seed)
        value = -model.log_posterior_from_data(posterior.params, data, key=key)
        fits.append(posterior)
        objective.append(float(value) / data.num_trials)
        print(f"restart {seed}: objective per trial {objective[-1]:.4f}")
    best = int(np.nanargmin(objective))
    return fits[best], np.asarray(objective), best


def main(small: bool = False, out_dir: str | os.PathLike | None = None, *,
         subject: int = 1, data_dir: str | os.PathLike | None = None,
         sizes: dict | None = None) -> dict:
    """Fit, compare with the published ellipses, plot; return the numbers."""
    size = {**SIZES["small" if small else "paper"], **(sizes or {})}
    paths = subject_paths(data_dir, subject)

    # 1. The trials the paper fitted (AEPsych and pre-generated Sobol), the model.
    data = hong2025.load_trials(paths["trials"], max_trials=size["max_trials"])
    model = hong2025.build_paper_model(mc_samples=size["mc_samples"])
    print(f"sub{subject} ({hong2025.SUBJECT_INITIALS[subject]}): {data.num_trials} "
          f"trials, proportion correct {float(data.responses.mean()):.3f}")

    # 2. The fit: best of the restarts.
    posterior, objective, best = fit_best_of_restarts(model, data, size)

    # 3. Our threshold ellipses at the published references.
    coords, published = hong2025.load_sigma_table(paths["thres_ellipses"])
    _, bootstrap, _ = hong2025.load_sigma_bootstrap(paths["thres_ellipses"])
    h = hong2025.PAPER_HYPERPARAMS
    contour = threshold_contour(model, posterior.params, ref=coords,
                                criterion=h["target_pC"],
                                num_angles=h["threshold_directions"],
                                num_samples=size["threshold_samples"])
    fitted = fit_ellipse(contour).cov

    # 4. Compare: distance to the published ellipse, against the bootstrap spread.
    distance = ellipse_distance(fitted, published)
    boot_distance = ellipse_distance(bootstrap, published[None])
    band = np.quantile(boot_distance, BOOTSTRAP_QUANTILE, axis=0)
    within = distance <= band
    axes = np.sqrt(np.linalg.eigvalsh(np.where(np.isfinite(fitted), fitted, np.eye(2))))
    axis_error = np.abs(axes / np.sqrt(np.linalg.eigvalsh(published)) - 1.0)
    axis_error[~np.isfinite(distance)] = np.nan
    print(f"distance to the published ellipses: median {np.nanmedian(distance):.3f} "
          f"(bootstrap refits: median {np.median(boot_distance):.3f})")
    print(f"inside the bootstrap {BOOTSTRAP_QUANTILE:.0%} band at {within.sum()} of "
          f"{len(coords)} references; semi-axis error median "
          f"{np.nanmedian(axis_error):.1%}")

    if out_dir is not None:
        save_figure(Path(out_dir), subject, coords, published, bootstrap, fitted)
    return {"num_trials": data.num_trials, "objective": objective, "best": best,
            "params": posterior.params, "coords": coords, "published": published,
            "bootstrap": bootstrap, "fitted": fitted, "distance": distance,
            "bootstrap_distance": boot_distance, "within": within,
            "axis_error": axis_error}


def save_figure(out: Path, subject: int, coords, published, bootstrap, fitted) -> None:
    """Published ellipses, their bootstrap refits and ours, magnified alike."""
    import matplotlib.pyplot as plt

    from psyphy_numpyro import plot_ellipses

    out.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(6.5, 6.5))
    n_boot = len(bootstrap)
    ax, scale = plot_ellipses(
        coords, [*bootstrap, published, fitted], ax=ax, scale="auto",
        return_scale=True,
        colors=["0.75"] * n_boot + ["k", "tab:red"],
        linewidths=[0.5] * n_boot + [1.6, 1.6],
        labels=[f"published bootstrap refits ({n_boot})"] + [None] * (n_boot - 1)
        + ["published fit", "this fit"],
    )
    ax.set_xlabel("model space, dimension 1")
    ax.set_ylabel("model space, dimension 2")
    ax.set_title(f"sub{subject}: threshold ellipses at 66.7% correct (x{scale:.2g})")
    fig.savefig(out / f"hong2025_sub{subject}_thresholds.png", dpi=120,
                bbox_inches="tight")
    plt.close(fig)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subject", type=int, default=1,
                        choices=sorted(hong2025.SUBJECT_INITIALS))
    parser.add_argument("--data-dir", help="folder of sub<N>/ (default: the cache)")
    parser.add_argument("--small", action="store_true", help="a quick look on CPU")
    parser.add_argument("--out", help="folder for the figure")
    args = parser.parse_args()
    main(small=args.small or os.environ.get("PSYPHY_NUMPYRO_SMALL") == "1",
         out_dir=args.out, subject=args.subject, data_dir=args.data_dir)
