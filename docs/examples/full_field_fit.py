"""Full field fit: recover a whole Wishart-process covariance field by MAP.

The simulated observer's covariance changes across the stimulus plane. We
place references on a grid, show the observer trials around each one, fit a
WPPM to all the answers at once, and measure how far the fitted field is from
the truth at every reference, next to the prior draw the fit started from.

psyphy's own version of this workflow (25 references x 4,000 trials, 500
Monte Carlo samples, 2,000 steps) needs a GPU; the sizes below run on a
laptop CPU, and the likelihood here is the same Monte Carlo oddity rule.

Run it::

    python docs/examples/full_field_fit.py            # 25 references x 400 trials
    python docs/examples/full_field_fit.py --small    # 9 x 150 (what the tests run)
    python docs/examples/full_field_fit.py --out figs # also save the figures

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

# references per axis, trials per reference, Monte Carlo samples, SGD steps,
# learning rate (for the per-trial loss, psyphy 0.0.5's default reduction)
SIZES = {
    "full": {"grid": 5, "trials_per_ref": 400, "mc_samples": 100, "steps": 1500,
             "learning_rate": 1e-4},
    "small": {"grid": 3, "trials_per_ref": 150, "mc_samples": 50, "steps": 800,
              "learning_rate": 1e-4},
}
MAHALANOBIS_RADIUS = 2.8


def field_errors(field: WPPMCovarianceField, truth: WPPMCovarianceField,
                 refs: jnp.ndarray) -> jnp.ndarray:
    """Relative Frobenius error of ``field`` at each reference."""
    diff = jnp.linalg.norm(field(refs) - truth(refs), axis=(-2, -1))
    return diff / jnp.linalg.norm(truth(refs), axis=(-2, -1))


def main(small: bool = False, out_dir: str | os.PathLike | None = None) -> dict:
    """Simulate a study, fit the field, compare; return the numbers."""
    size = SIZES["small" if small else "full"]
    print(f"{'small' if small else 'full'} size: {size['grid']} x {size['grid']} "
          f"references x {size['trials_per_ref']} trials, {size['mc_samples']} Monte "
          f"Carlo samples per trial, {size['steps']} MAP steps")

    # 1. The model, with psyphy 0.0.5's default prior written out.
    prior = Prior(input_dim=2, basis_degree=4, extra_embedding_dims=1,
                  variance_scale=4e-3, decay_rate=0.4)
    task = OddityTask(config=OddityTaskConfig(num_samples=size["mc_samples"],
                                              bandwidth=1e-2))
    model = WPPM(prior=prior, likelihood=task, noise=GaussianNoise(),
                 input_dim=2, extra_dims=1, diag_term=1e-4)
    truth = model.init_params(jax.random.PRNGKey(123))
    truth_field = WPPMCovarianceField(model, truth)

    # 2. The design: a grid of references; around each, comparisons in random
    #    directions at a fixed Mahalanobis radius of the true local covariance,
    #    kept inside the stimulus domain [-1, 1]^2.
    g = jnp.linspace(-0.7, 0.7, size["grid"])
    ref_points = jnp.stack(jnp.meshgrid(g, g), axis=-1).reshape(-1, 2)
    refs = jnp.repeat(ref_points, size["trials_per_ref"], axis=0)
    n = refs.shape[0]
    key_angle, key_answers = jax.random.split(jax.random.PRNGKey(3))
    angle = jax.random.uniform(key_angle, (n,), maxval=2 * jnp.pi)
    directions = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    chol = jnp.linalg.cholesky(truth_field(refs))                   # (n, 2, 2)
    deltas = MAHALANOBIS_RADIUS * jnp.einsum("nij,nj->ni", chol, directions)
    comparisons = jnp.clip(refs + deltas, -1.0, 1.0)
    stimuli = jnp.stack([refs, comparisons], axis=1)
    answers, (p_correct,) = task.simulate(truth, stimuli, model, key=key_answers)
    data = TrialData(stimuli=stimuli, responses=answers)

    # 3. MAP fit from a prior draw.
    start = model.init_params(jax.random.PRNGKey(42))
    optimizer = MAPOptimizer(steps=size["steps"], learning_rate=size["learning_rate"],
                             momentum=0.9, track_history=True, show_progress=False)
    posterior = optimizer.fit(model, data, init_params=start)
    steps, losses = optimizer.get_history()

    # 4. How close is each field to the truth, reference by reference?
    fields = {
        "truth": truth_field,
        "prior draw": WPPMCovarianceField(model, start),
        "MAP fit": WPPMCovarianceField.from_posterior(posterior),
    }
    errors = {k: field_errors(fields[k], truth_field, ref_points)
              for k in ("prior draw", "MAP fit")}
    print(f"{len(ref_points)} references x {size['trials_per_ref']} trials, "
          f"mean p(correct) {float(p_correct.mean()):.3f}")
    print(f"loss per trial: {losses[0]:.3f} -> {losses[-1]:.3f} "
          f"in {steps[-1] + 1} steps")
    for name, err in errors.items():
        print(f"{name}: relative error median {float(jnp.median(err)):.3f}, "
              f"worst {float(err.max()):.3f}")

    figures = ([] if out_dir is None
               else save_figures(Path(out_dir), ref_points, fields, steps, losses))
    return {"ref_points": ref_points, "errors": errors, "steps": steps,
            "losses": losses, "params": posterior.params, "truth": truth,
            "figures": figures}


def save_figures(out: Path, refs, fields: dict, steps: list, losses: list) -> list:
    """Truth, prior draw and fit as ellipses at the references; the learning curve.

    Returns the two (closed) figures.
    """
    import matplotlib.pyplot as plt

    from psyphy_numpyro import plot_ellipses

    out.mkdir(parents=True, exist_ok=True)
    ax_ellipses, scale = plot_ellipses(
        refs, [f(refs) for f in fields.values()], scale="auto", return_scale=True,
        labels=list(fields), colors=["k", "tab:blue", "tab:red"])
    ax_ellipses.set_title(f"Covariance field at the references (ellipses x{scale:.2g})")
    ax_ellipses.set_xlabel("stimulus dimension 1 (model units)")
    ax_ellipses.set_ylabel("stimulus dimension 2 (model units)")
    ax_ellipses.figure.savefig(out / "full_field_fit_ellipses.png", dpi=120,
                               bbox_inches="tight")
    plt.close(ax_ellipses.figure)

    fig, ax = plt.subplots(figsize=(5, 3))
    ax.plot(steps, losses)
    ax.set_xlabel("step")
    ax.set_ylabel("negative log posterior per trial")
    fig.savefig(out / "full_field_fit_learning_curve.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return [ax_ellipses.figure, fig]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true",
                        help="9 references x 150 trials instead of 25 x 400")
    parser.add_argument("--out", help="folder for the figures")
    args = parser.parse_args()
    main(small=args.small or os.environ.get("PSYPHY_NUMPYRO_SMALL") == "1",
         out_dir=args.out)
