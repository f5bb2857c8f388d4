r"""Covariance fields: evaluate a Wishart-process field at one point or many.

A full WPPM describes the observer's internal noise by a covariance matrix
that changes smoothly over the stimulus space,

    Sigma(x) = U(x) U(x)^T + diag_term * I,    U(x) = sum_ij W_ij T_i(x_1) T_j(x_2),

with Chebyshev polynomials T_i. ``WPPMCovarianceField`` binds a model to one
parameter set and evaluates that field. This script draws two fields from the
prior, evaluates them at a single reference and on a grid (directly and under
``jax.vmap``), checks the square root ``U(x)``, and draws the ellipses.

Run it::

    python docs/examples/covariance_field.py            # a 7 x 7 grid
    python docs/examples/covariance_field.py --small    # a 3 x 3 grid
    python docs/examples/covariance_field.py --out figs # also save the figure

``PSYPHY_NUMPYRO_SMALL=1`` in the environment selects the small size too.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import jax
import jax.numpy as jnp

from psyphy_numpyro import WPPM, GaussianNoise, OddityTask, Prior, WPPMCovarianceField

SIZES = {"full": {"grid": 7}, "small": {"grid": 3}}


def main(small: bool = False, out_dir: str | os.PathLike | None = None) -> dict:
    """Evaluate two prior fields; return what the docs and the tests look at."""
    n_grid = SIZES["small" if small else "full"]["grid"]
    print(f"{'small' if small else 'full'} size: a {n_grid} x {n_grid} grid")

    # A livelier prior than the default (larger, slower-decaying weights), so
    # the ellipses visibly change across the plane.
    model = WPPM(
        prior=Prior(input_dim=2, basis_degree=4, variance_scale=0.03, decay_rate=0.3),
        likelihood=OddityTask(),
        noise=GaussianNoise(),
        extra_dims=1,
        diag_term=1e-3,
    )
    field = WPPMCovarianceField.from_prior(model, jax.random.PRNGKey(42))

    # One point in, one (2, 2) matrix out. Stimuli live in [-1, 1]^2.
    x_ref = jnp.array([0.5, 0.5])
    sigma_ref = field(x_ref)
    print(f"Sigma at {x_ref.tolist()}:\n{sigma_ref}")

    # A batch in, a batch out: the same call, or jax.vmap over single points.
    g = jnp.linspace(-0.7, 0.7, n_grid)
    grid = jnp.stack(jnp.meshgrid(g, g), axis=-1).reshape(-1, 2)
    sigmas = field(grid)                     # (n_grid**2, 2, 2)
    sigmas_vmap = jax.vmap(field)(grid)      # the same numbers
    gap = float(jnp.abs(sigmas - sigmas_vmap).max())
    print(f"{len(grid)} points: field(X) {sigmas.shape}, "
          f"max |field(X) - vmap(field)(X)| = {gap:.2e}")

    # The square root U(x) has one column per embedding dimension (2 + 1 here).
    U = field.sqrt_cov(x_ref)
    rebuilt = U @ U.T + model.diag_term * jnp.eye(2)
    print(f"U(x) {U.shape}; max |U U^T + eps I - Sigma| = "
          f"{float(jnp.abs(rebuilt - sigma_ref).max()):.2e}")

    # Another draw, and a field from explicit parameters.
    other = WPPMCovarianceField.from_prior(model, jax.random.PRNGKey(999))
    same = WPPMCovarianceField.from_params(model, field.params)

    figures = [] if out_dir is None else [
        save_figure(Path(out_dir), grid, [sigmas, other(grid)])]
    return {
        "figures": figures,
        "model": model, "params": field.params, "x_ref": x_ref,
        "sigma_ref": sigma_ref, "grid": grid, "sigmas": sigmas,
        "sigmas_vmap": sigmas_vmap, "sqrt_ref": U,
        "other_sigmas": other(grid), "same_sigmas": same(grid),
    }


def save_figure(out: Path, grid: jnp.ndarray, fields: list):
    """The two prior fields as ellipses on the grid, one panel each (closed figure)."""
    import matplotlib.pyplot as plt

    from psyphy_numpyro import plot_ellipses

    out.mkdir(parents=True, exist_ok=True)
    fig, axes = plt.subplots(1, 2, figsize=(10, 5))
    for ax, covs, key in zip(axes, fields, (42, 999), strict=True):
        _, scale = plot_ellipses(grid, covs, ax=ax, scale="auto", return_scale=True)
        ax.set_title(f"prior draw, key {key} (ellipses x{scale:.2g})")
        ax.set_xlabel("stimulus dimension 1 (model units)")
        ax.set_ylabel("stimulus dimension 2 (model units)")
    fig.savefig(out / "covariance_field.png", dpi=120, bbox_inches="tight")
    plt.close(fig)
    return fig


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", action="store_true", help="a smaller grid")
    parser.add_argument("--out", help="folder for the figure")
    args = parser.parse_args()
    main(small=args.small or os.environ.get("PSYPHY_NUMPYRO_SMALL") == "1",
         out_dir=args.out)
