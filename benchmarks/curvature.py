"""How far the full WPPM's posterior is from Gaussian, seen from the Laplace eigenbasis.

``NUTSSampler(precondition="laplace")`` samples ``z``, the gauge-fixed
weights in the eigenbasis of the Laplace approximation at the mode, where
the Hessian of the potential is the identity by construction. If the
posterior were Gaussian it would be the identity everywhere. This script
builds ``nuts_full.py``'s study (MAP by clipped SGD, the principal frame,
the package's ``laplace_basis``), then takes the Hessian in ``z`` at the mode
and at ``--draws`` draws from the Laplace approximation (``z`` standard
normal, about one posterior standard deviation away) and prints its least,
median and largest eigenvalue, how many of them are off by more than a
factor of 2, and which free coordinates make up the stiffest and the
softest direction (``tri``: the block's lower triangle, ``logL``: its
log-diagonal, ``row r col c``: the other rows, in the principal frame). A
spread of eigenvalues far from 1 means that no constant mass matrix suits
every point of the posterior (issue 17 part 1). It also times one gradient
and one Hessian of the potential (medians, wall and CPU), the price of a
metric that follows the position.

Usage::

    python benchmarks/curvature.py --trials 6000               # about 3 minutes
    python benchmarks/curvature.py --trials 6000 --extra-dims 0
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer.util import potential_energy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import full_gradient as fg  # noqa: E402  (the timer, shared)
import samplers  # noqa: E402  (the study and its MAP, shared)

from psyphy_numpyro.core.infer.laplace_basis import in_basis, laplace_basis  # noqa: E402


def coordinate_names(E: int, k: int) -> list[str]:
    """Names of the ``k`` free coordinates of a gauge-fixed ``W`` with ``E`` columns."""
    names = [f"tri{r}{c}" for r, c in zip(*np.tril_indices(E, -1))]
    names += [f"logL{i}" for i in range(E)]
    rows = (k - len(names)) // E
    return names + [f"row{E + r}col{c}" for r in range(rows) for c in range(E)]


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=6000)
    p.add_argument("--extra-dims", type=int, default=1)
    p.add_argument("--quadrature", type=int, nargs=3, default=(3, 3, 6),
                   metavar=("ANGLES", "RADII", "CHORDS"))
    p.add_argument("--draws", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    if min(args.trials, args.draws) < 1 or args.extra_dims < 0:
        p.error("--trials and --draws must be positive, --extra-dims at least 0.")
    _, scale, _, gauge_fixed, model_args, model_kwargs, x = samplers.gauge_fixed_study(
        args.trials, args.quadrature, args.seed, args.extra_dims)
    start = {"W_free": x}
    clock = time.perf_counter()
    basis = laplace_basis(gauge_fixed, start, "W_free", *model_args, **model_kwargs)
    if basis is None:
        raise SystemExit("the Hessian at the mode is not positive definite")
    in_z = in_basis(gauge_fixed, "W_free", basis)

    def energy(z):
        return potential_energy(in_z, model_args, model_kwargs, {"W_free_base": z})

    hessian = jax.jit(jax.hessian(energy))
    k = basis.shift.shape[0]
    names = coordinate_names(scale.shape[-1], k)
    back = np.asarray(basis.inverse_matrix, np.float64)
    print(f"{args.trials} trials, quadrature {tuple(args.quadrature)}, {k} free "
          f"coordinates; mode and Hessian in {time.perf_counter() - clock:.0f} s; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    same = lambda out, args: args  # noqa: E731  (time the same point again)
    g = fg.compile_and_time(jax.grad(energy), (jnp.zeros(k),), same, 21)
    h = fg.compile_and_time(hessian, (jnp.zeros(k),), same, 5)
    print(f"one gradient {1e3 * g['median_s']:.1f} ms ({1e3 * g['cpu_median_s']:.1f} ms "
          f"CPU), one Hessian {h['median_s']:.2f} s ({h['cpu_median_s']:.2f} s CPU): "
          f"{h['median_s'] / g['median_s']:.0f} gradients (medians of 21 and 5 calls)")
    print("| point | least | median | largest | below 0.5 | above 2 | softest direction "
          "| stiffest direction |")
    print("|---|---:|---:|---:|---:|---:|---|---|")
    draws = np.random.default_rng(args.seed).standard_normal((args.draws, k))
    for i, z in enumerate(np.concatenate([np.zeros((1, k)), draws])):
        H = np.asarray(hessian(jnp.asarray(z, jnp.float32)), np.float64)
        lam, vectors = np.linalg.eigh(0.5 * (H + H.T))

        def direction(j):  # the three free coordinates that weigh most
            d = back @ vectors[:, j]
            d = d / np.linalg.norm(d)
            return ", ".join(f"{names[t]} {d[t]:+.2f}" for t in np.argsort(-np.abs(d))[:3])

        print(f"| {'mode' if i == 0 else f'draw {i}'} | {lam[0]:.3f} | "
              f"{np.median(lam):.3f} | {lam[-1]:.3f} | {int(np.sum(lam < 0.5))} | "
              f"{int(np.sum(lam > 2))} | {direction(0)} | {direction(-1)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
