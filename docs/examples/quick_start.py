"""Quick start: recover one covariance ellipse of the full WPPM.

A simulated observer has a known Wishart-process covariance field. We show it
trials around a single reference, (0, 0), fit a fresh WPPM to its answers by
MAP, and compare the fitted covariance at the reference with the truth and
with the prior draw the fit started from.

The script uses only psyphy's names, imported from psyphy_numpyro, so a
psyphy 0.0.5 user reads it as their own code.

Run it::

    python docs/examples/quick_start.py            # 2,000 trials
    python docs/examples/quick_start.py --small    # 400 trials (what the tests run)
    python docs/examples/quick_start.py --out figs # also save the figures

Each run prints its size first. Compiling the simulation and the MAP loop takes
most of either run (15-20 s of CPU time on a laptop), so the small run saves
less time than its size suggests.
``PSYPHY_NUMPYRO_SMALL=1`` in the environment selects the small size too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax
import jax.numpy as jnp

from psyphy_numpyro import (
    WPPM,
    GaussianNoise,
    MAPOptimizer,
    OddityTask,
    OddityTaskConfig,
    Prior,
    TrialData,
    WPPMCovarianceField,
)

# trials, Monte Carlo samples per trial, SGD steps, learning rate (per-trial loss)
SIZES = {
    "full": {"num_trials": 2000, "mc_samples": 100, "steps": 1000,
             "learning_rate": 1e-4},
    "small": {"num_trials": 400, "mc_samples": 30, "steps": 300,
              "learning_rate": 1e-4},
}
REFERENCE = jnp.array([0.0, 0.0])
MAHALANOBIS_RADIUS = 2.8  # comparisons sit this many "standard deviations" away


def relative_error(cov: jnp.ndarray, truth: jnp.ndarray) -> float:
    """Frobenius distance to the truth, relative to the truth's size."""
    return float(jnp.linalg.norm(cov - truth) / jnp.linalg.norm(truth))


def main(small: bool = False, out_dir: str | os.PathLike | None = None) -> dict:
    """Simulate, fit and compare; return the numbers the docs quote."""
    size = SIZES["small" if small else "full"]
    print(f"{'small' if small else 'full'} size: {size['num_trials']} trials, "
          f"{size['mc_samples']} Monte Carlo samples per trial, {size['steps']} MAP steps")

    # 1. One model serves as the simulated observer and as the model we fit.
    task = OddityTask(config=OddityTaskConfig(num_samples=size["mc_samples"]))
    model = WPPM(prior=Prior(), likelihood=task, noise=GaussianNoise())
    truth = model.init_params(jax.random.PRNGKey(123))
    truth_field = WPPMCovarianceField(model, truth)

    # 2. Trials: comparisons in random directions at a fixed Mahalanobis
    #    radius of the true covariance, so every trial is about as hard.
    n = size["num_trials"]
    key_angle, key_answers = jax.random.split(jax.random.PRNGKey(3))
    angle = jax.random.uniform(key_angle, (n,), maxval=2 * jnp.pi)
    directions = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    chol = jnp.linalg.cholesky(truth_field(REFERENCE))
    refs = jnp.broadcast_to(REFERENCE, (n, 2))
    comparisons = refs + MAHALANOBIS_RADIUS * directions @ chol.T
    stimuli = jnp.stack([refs, comparisons], axis=1)  # (n, 2, 2): ref, comparison
    answers, (p_correct,) = task.simulate(truth, stimuli, model, key=key_answers)
    data = TrialData(stimuli=stimuli, responses=answers)

    # 3. Fit by MAP, starting from a prior draw.
    start = model.init_params(jax.random.PRNGKey(42))
    optimizer = MAPOptimizer(
        steps=size["steps"], learning_rate=size["learning_rate"], momentum=0.9,
        track_history=True, show_progress=False,
    )
    posterior = optimizer.fit(model, data, init_params=start, seed=4)
    steps, losses = optimizer.get_history()

    # 4. Compare the covariances at the reference.
    covs = {
        "truth": truth_field(REFERENCE),
        "prior draw": WPPMCovarianceField(model, start)(REFERENCE),
        "MAP fit": WPPMCovarianceField.from_posterior(posterior)(REFERENCE),
    }
    errors = {k: relative_error(covs[k], covs["truth"])
              for k in ("prior draw", "MAP fit")}
    print(f"{n} trials, mean p(correct) {float(p_correct.mean()):.3f}")
    print(f"loss per trial: {losses[0]:.3f} at step 0 -> {losses[-1]:.3f} "
          f"at step {steps[-1]}")
    for name, err in errors.items():
        print(f"relative error of the {name}: {err:.3f}")

    figures = [] if out_dir is None else save_figures(Path(out_dir), covs, steps, losses)
    return {"covariances": covs, "errors": errors, "steps": steps, "losses": losses,
            "figures": figures}


def save_figures(out: Path, covs: dict, steps: list, losses: list) -> list:
    """The three ellipses at the reference, and the learning curve (closed figures)."""
    import matplotlib.pyplot as plt

    from psyphy_numpyro import plot_ellipses

    out.mkdir(parents=True, exist_ok=True)
    centers = REFERENCE[None]
    ax_ellipses = plot_ellipses(centers, [c[None] for c in covs.values()],
                                labels=list(covs), colors=["k", "tab:blue", "tab:red"])
    ax_ellipses.set_title("Covariance at the reference (1 standard deviation)")
    ax_ellipses.set_xlabel("stimulus dimension 1 (model units)")
    ax_ellipses.set_ylabel("stimulus dimension 2 (model units)")
    ax_ellipses.figure.savefig(out / "quick_start_ellipses.png", dpi=120,
                               bbox_inches="tight")
    plt.close(ax_ellipses.figure)

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(steps, losses)
    ax.set_xlabel("step")
    ax.set_ylabel("negative log posterior per trial")
    fig.savefig(out / "quick_start_learning_curve.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [ax_ellipses.figure, fig]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="400 trials instead of 2,000: a quicker run")
    parser.add_argument("--out", help="folder for the figures")
    args = parser.parse_args()
    main(small=args.small or os.environ.get("PSYPHY_NUMPYRO_SMALL") == "1",
         out_dir=args.out)
