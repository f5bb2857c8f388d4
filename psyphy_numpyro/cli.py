"""Command line: ``psyphy-numpyro demo`` runs the seed example end to end;
``psyphy-numpyro experiment`` compares trial-placement strategies in simulated
adaptive sessions (``psyphy_numpyro.experiment.cli_run``)."""

from __future__ import annotations

import argparse
import os
import sys
import warnings
from pathlib import Path
from typing import Any

__all__ = ["main", "run_demo"]


def run_demo(
    *,
    trials: int = 400,
    steps: int = 1000,
    seed: int = 0,
    out: str | Path = "demo_output",
    num_warmup: int = 500,
    num_samples: int = 1000,
    num_chains: int = 4,
    progress: bool = True,
) -> dict:
    """Simulate the seed's experiment, fit it by MAP and NUTS, and write the results.

    Returns
    -------
    dict
        ``idata``, ``map`` (posterior), ``nuts`` (posterior) and ``files`` written.
    """
    import jax
    import jax.numpy as jnp
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psyphy_numpyro.core import checks as check
    from psyphy_numpyro.core.idata import import_arviz

    from . import (
        WPPM,
        GaussianNoise,
        MAPOptimizer,
        NUTSSampler,
        OddityTask,
        Prior,
        contour_band,
        plot_learning_curve,
        plot_thresholds,
        simulate_trials,
        threshold_contour,
    )

    trials = check.positive_int("trials", trials)
    steps = check.positive_int("steps", steps)
    seed = check.seed("seed", seed)
    num_warmup = check.positive_int("num_warmup", num_warmup, minimum=0)
    num_samples = check.positive_int("num_samples", num_samples)
    num_chains = check.positive_int("num_chains", num_chains)
    out = writable_folder(out)
    az = import_arviz()
    model = WPPM(input_dim=2, prior=Prior.default(2, scale=0.5),
                 task=OddityTask(slope=1.5), noise=GaussianNoise(sigma=1.0))
    truth = {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}
    data = simulate_trials(jax.random.PRNGKey(seed), model, truth, trials)
    trials_ = model.trials(data)
    print(f"Simulated {trials} oddity trials around (0, 0); true log_diag = "
          f"{[round(float(v), 3) for v in truth['log_diag']]}")

    init = model.init_params(jax.random.PRNGKey(42))
    optimizer = MAPOptimizer(steps=steps, learning_rate=2e-2, momentum=0.9,
                             track_history=True, log_every=10, show_progress=progress)
    map_fit = optimizer.fit(model, data, init_params=init)
    print(f"MAP log_diag = {[round(float(v), 3) for v in map_fit.params['log_diag']]}")

    sampler = NUTSSampler(num_warmup=num_warmup, num_samples=num_samples,
                          num_chains=num_chains, seed=seed, progress_bar=progress)
    nuts = sampler.fit(model, data, init_params=map_fit)
    idata = nuts.to_inference_data()
    print(az.summary(idata, var_names=["log_diag"], hdi_prob=0.9).to_string())
    print(f"Divergent transitions after warm-up: {nuts.num_divergences}")

    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    files = {"idata": out / "posterior.nc"}
    idata.to_netcdf(str(files["idata"]))

    posterior = threshold_contour(model, nuts.samples)
    contours = {name: threshold_contour(model, p) for name, p in
                [("true", truth), ("initial", init), ("MAP", map_fit.params)]}
    ax = plot_thresholds(trials_, contours, contour_band(posterior, 0.9))
    ax.set_title(f"Threshold contours at p(correct) = {posterior.criterion:.3f}")
    files["thresholds"] = out / "thresholds.png"
    ax.figure.savefig(files["thresholds"], dpi=120, bbox_inches="tight")

    ax = plot_learning_curve(*optimizer.get_history())
    files["learning_curve"] = out / "learning_curve.png"
    ax.figure.savefig(files["learning_curve"], dpi=120, bbox_inches="tight")

    with warnings.catch_warnings():  # arviz 0.23 + matplotlib 3.11 deprecation noise
        warnings.simplefilter("ignore", DeprecationWarning)
        axes = az.plot_trace(idata, var_names=["log_diag"])
    files["trace"] = out / "trace.png"
    axes.ravel()[0].figure.savefig(files["trace"], dpi=100, bbox_inches="tight")
    plt.close("all")
    for name, path in files.items():
        print(f"wrote {name}: {path}")
    return {"idata": idata, "map": map_fit, "nuts": nuts, "files": files}


def writable_folder(out: str | os.PathLike) -> Path:
    """``out`` as a path, if it is (or can be created as) a writable folder; else raise."""
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {type(out).__name__}.")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a folder.")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise ValueError(f"cannot write the output folder {str(out)!r}: {str(existing)!r} "
                         "is not writable; choose another --out.")
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``psyphy-numpyro`` command."""
    parser = argparse.ArgumentParser(prog="psyphy-numpyro", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate, fit by MAP and NUTS, write results")
    demo.add_argument("--trials", type=int, default=400, help="number of trials (400)")
    demo.add_argument("--steps", type=int, default=1000, help="MAP steps (1000)")
    demo.add_argument("--seed", type=int, default=0, help="simulation/NUTS seed (0)")
    demo.add_argument("--out", default="demo_output", help="output folder")
    demo.add_argument("--warmup", type=int, default=500, help="NUTS warm-up (500)")
    demo.add_argument("--samples", type=int, default=1000, help="NUTS draws (1000)")
    demo.add_argument("--chains", type=int, default=4, help="NUTS chains (4)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_experiment(sub)
    args = parser.parse_args(argv)
    from psyphy_numpyro.experiment.store import SessionInUseError

    try:
        if args.command == "demo":
            run_demo(trials=args.trials, steps=args.steps, seed=args.seed, out=args.out,
                     num_warmup=args.warmup, num_samples=args.samples,
                     num_chains=args.chains, progress=not args.no_progress)
        else:
            from psyphy_numpyro.experiment.cli_run import run_experiment

            run_experiment(
                strategies=args.strategy or ["bald,sobol"], trials=args.trials,
                batch=args.batch, warmup=args.warmup, eval_every=args.eval_every,
                model=args.model, degree=args.degree, truth_seed=args.truth_seed,
                truth=args.truth, seed=args.seed, out=args.out,
                candidates=args.candidates, draws=args.draws,
                overwrite=args.overwrite, progress=not args.no_progress)
    except (ValueError, TypeError, OSError, SessionInUseError) as err:
        print(f"psyphy-numpyro: error: {err}", file=sys.stderr)
        return 2
    return 0


def _add_experiment(sub: Any) -> None:
    """The ``experiment`` subcommand's options (its body is in ``experiment.cli_run``)."""
    exp = sub.add_parser("experiment", help="compare trial placements in simulated "
                         "adaptive sessions, write sessions, posteriors and figures")
    exp.add_argument("--strategy", action="append", metavar="NAMES",
                     help="placements: bald, threshold, sobol, random; repeat or "
                     "comma-separate (bald,sobol)")
    exp.add_argument("--trials", type=int, default=600,
                     help="answers per session, a multiple of --eval-every (600)")
    exp.add_argument("--batch", type=int, default=20, help="trials per ask (20)")
    exp.add_argument("--warmup", type=int, default=200,
                     help="space-filling trials first, a multiple of --batch (200)")
    exp.add_argument("--eval-every", type=int, default=100,
                     help="answers between error evaluations, a multiple of --batch (100)")
    exp.add_argument("--model", default="full", help="full: WPPM with quadrature "
                     "oddity; mvp: constant covariance (full)")
    exp.add_argument("--degree", type=int, default=4,
                     help="Chebyshev degree of the full model (4)")
    exp.add_argument("--truth-seed", type=int, default=1,
                     help="seed of the simulated observer, a prior draw (1)")
    exp.add_argument("--truth", default=None,
                     help="saved fit (save_fit) whose params answer instead")
    exp.add_argument("--seed", type=int, default=0, help="session seed (0)")
    exp.add_argument("--out", default="experiment_output",
                     help="output folder (experiment_output)")
    exp.add_argument("--candidates", type=int, default=1024,
                     help="candidate trials per bald/threshold proposal (1024)")
    exp.add_argument("--draws", type=int, default=128,
                     help="posterior draws per bald/threshold proposal (128)")
    exp.add_argument("--overwrite", action="store_true",
                     help="replace session files already in --out")
    exp.add_argument("--no-progress", action="store_true", help="hide progress bars")


if __name__ == "__main__":
    sys.exit(main())
