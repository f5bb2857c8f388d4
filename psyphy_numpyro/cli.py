"""Command line: ``psyphy-numpyro demo`` runs the seed example end to end;
``psyphy-numpyro experiment`` compares trial-placement strategies in simulated
adaptive sessions (``psyphy_numpyro.experiment.cli_run``)."""

from __future__ import annotations

import argparse
import math
import os
import shutil
import sys
import tempfile
import traceback
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

    The seed's observer (``log_diag = log([0.9, 0.01])``) and design, under a
    prior wide enough to cover that observer (``scale=2.0``; the seed's 0.5
    puts the truth nine prior standard deviations out, and its 90% band
    then misses the true contour). It prints where the truth sits in the
    prior and how often the posterior's 90% band contains the true threshold.

    Returns
    -------
    dict
        ``idata``, ``map`` (posterior), ``nuts`` (posterior), ``model``,
        ``truth``, ``coverage`` (share of directions whose 90% band contains
        the true threshold) and ``files`` written.
    """
    import jax
    import jax.numpy as jnp
    import matplotlib
    import numpy as np

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psyphy_numpyro.core.idata import summary

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
    from .viz.diagnostics import plot_trace

    trials, steps, seed, out, num_warmup, num_samples, num_chains = _demo_settings(
        trials=trials, steps=steps, seed=seed, out=out, num_warmup=num_warmup,
        num_samples=num_samples, num_chains=num_chains)
    prior_scale = 2.0  # the seed's 0.5 excludes its own observer (see the docstring)
    model = WPPM(input_dim=2, prior=Prior.default(2, scale=prior_scale),
                 task=OddityTask(slope=1.5), noise=GaussianNoise(sigma=1.0))
    truth = {"log_diag": jnp.log(jnp.array([0.9, 0.01]))}
    data = simulate_trials(jax.random.PRNGKey(seed), model, truth, trials)
    trials_ = model.trials(data)
    print(f"Simulated {trials} oddity trials around (0, 0); true log_diag = "
          f"{[round(float(v), 3) for v in truth['log_diag']]}")
    print(f"Prior: log_diag ~ Normal(0, {prior_scale:g}^2) per dimension; the truth lies "
          f"{[round(float(v) / prior_scale, 2) for v in truth['log_diag']]} prior "
          "standard deviations from its mean")

    init = model.init_params(jax.random.PRNGKey(42))
    # the seed's rate, 2e-2 at 400 trials; the summed objective's curvature grows
    # with the trials, so SGD stays stable only with a rate that shrinks with them
    learning_rate = 2e-2 * min(1.0, 400 / trials)
    optimizer = MAPOptimizer(steps=steps, learning_rate=learning_rate, momentum=0.9,
                             track_history=True, log_every=10, show_progress=progress)
    map_fit = optimizer.fit(model, data, init_params=init)
    print(f"MAP log_diag = {[round(float(v), 3) for v in map_fit.params['log_diag']]}")

    sampler = NUTSSampler(num_warmup=num_warmup, num_samples=num_samples,
                          num_chains=num_chains, seed=seed, progress_bar=progress)
    nuts = sampler.fit(model, data, init_params=map_fit)
    idata = nuts.to_inference_data()
    print(summary(idata, var_names=["log_diag"], prob=0.9).to_string())
    print(f"Divergent transitions after warm-up: {nuts.num_divergences}")

    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    files = {"idata": out / "posterior.nc"}
    idata.to_netcdf(str(files["idata"]))

    num_angles = 720  # the true contour is a thin ellipse: sample its tips finely
    posterior = threshold_contour(model, nuts.samples, num_angles=num_angles)
    contours = {name: threshold_contour(model, p, num_angles=num_angles) for name, p in
                [("true", truth), ("initial", init), ("MAP", map_fit.params)]}
    band = contour_band(posterior, 0.9)
    true_r = contours["true"].radii
    coverage = float(np.mean((band.lower <= true_r) & (true_r <= band.upper)))
    print(f"The 90% band contains the true threshold in {coverage:.0%} of directions")
    ax = plot_thresholds(trials_, contours, band, legend_loc="upper left")
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    # frame the trials and the point contours; the band may reach farther
    offsets = np.linalg.norm(np.asarray(trials_.probe - trials_.ref), axis=-1)
    lim = 1.15 * max(offsets.max(), *(float(np.max(c.radii)) for c in contours.values()))
    ax.set_xlim(-lim, lim)
    ax.set_ylim(-lim, lim)
    far = int(np.argmax(band.upper))
    if band.upper[far] > lim:
        ax.text(0.5, -0.14, f"The band runs past the frame: up to r = "
                f"{band.upper[far]:.2g} at {np.degrees(band.angles[far]):.0f} deg. Probes "
                f"reach only {offsets.max():.2g}, so the data bound that threshold weakly.",
                transform=ax.transAxes, ha="center", va="top", fontsize="small",
                wrap=True)
    ax.set_title(f"Thresholds at p(correct) = {posterior.criterion:.3f}: "
                 f"90% band contains the truth in {coverage:.0%} of directions",
                 fontsize="medium")
    files["thresholds"] = out / "thresholds.png"
    ax.figure.savefig(files["thresholds"], dpi=120, bbox_inches="tight")

    ax = plot_learning_curve(*optimizer.get_history())
    files["learning_curve"] = out / "learning_curve.png"
    ax.figure.savefig(files["learning_curve"], dpi=120, bbox_inches="tight")

    axes = plot_trace(nuts, truth=truth)
    files["trace"] = out / "trace.png"
    axes[0, 0].figure.savefig(files["trace"], dpi=100, bbox_inches="tight")
    plt.close("all")
    for name, path in files.items():
        print(f"wrote {name}: {path}")
    return {"idata": idata, "map": map_fit, "nuts": nuts, "model": model, "truth": truth,
            "coverage": coverage, "files": files}


def _demo_settings(*, trials: int, steps: int, seed: int, out: str | os.PathLike,
                   num_warmup: int, num_samples: int, num_chains: int) -> tuple:
    """Check the demo's settings, its memory estimate and its folder; return them."""
    from psyphy_numpyro.core import checks as check

    trials = check.positive_int("trials", trials)
    steps = check.iterations("steps", steps)
    seed = check.seed("seed", seed)
    from psyphy_numpyro.core.infer.mcmc import check_run_lengths

    num_warmup, num_samples, num_chains = check_run_lengths(num_warmup, num_samples,
                                                            num_chains)
    check_memory(
        DEMO_BYTES["fixed"] + DEMO_BYTES["trial"] * trials + DEMO_BYTES["step"] * steps
        + DEMO_BYTES["draw_trial"] * num_chains * num_samples * trials,
        f"the demo with trials={trials}, steps={steps}, num_samples={num_samples} "
        f"and num_chains={num_chains}")
    return trials, steps, seed, writable_folder(out), num_warmup, num_samples, num_chains


#: The demo's memory beyond the running interpreter, in bytes, measured on CPU and
#: rounded up: a fixed part (compiled programs, the samplers' state), per trial
#: (stimuli, answers, the fits' per-trial terms), per posterior draw and trial (the
#: log-likelihood and predictive draws of ``posterior.nc``) and per MAP step (its
#: loss history).
DEMO_BYTES = {"fixed": 480 * 2**20, "trial": 350, "draw_trial": 12, "step": 16}

def available_memory() -> int | None:
    """Bytes this process can still allocate, or None where that is unknown.

    The least of the memory the system can give (``MemAvailable``, else the
    free pages), the room left under a cgroup memory limit (containers, batch
    jobs) and the address space left under ``ulimit -v``.
    """
    room = []
    try:
        with open("/proc/meminfo") as f:
            room += [int(line.split()[1]) * 1024 for line in f
                     if line.startswith("MemAvailable:")]
    except (OSError, ValueError, IndexError):
        pass
    if not room:
        try:
            room.append(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
        except (AttributeError, OSError, ValueError):
            pass
    for limit, usage in (("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
                         ("/sys/fs/cgroup/memory/memory.limit_in_bytes",
                          "/sys/fs/cgroup/memory/memory.usage_in_bytes")):
        try:
            room.append(int(Path(limit).read_text()) - int(Path(usage).read_text()))
        except (OSError, ValueError):  # absent, or "max": no limit
            pass
    try:
        import resource

        soft = resource.getrlimit(resource.RLIMIT_AS)[0]
        if soft != resource.RLIM_INFINITY:
            with open("/proc/self/status") as f:
                size = next(int(line.split()[1]) * 1024 for line in f
                            if line.startswith("VmSize:"))
            room.append(soft - size)
    except (ImportError, OSError, ValueError, StopIteration):
        pass
    return max(min(room), 0) if room else None


def check_memory(need: int, what: str) -> None:
    """Refuse a run whose estimated memory ``need`` (bytes) exceeds what is available."""
    free = available_memory()
    if free is not None and need > free:
        raise ValueError(f"{what} needs about {_gib(need)} of memory, but only "
                         f"{_gib(free)} is available; choose smaller sizes.")


def _gib(size: float) -> str:
    return f"{size / 2**30:.3g} GiB"


def writable_folder(out: str | os.PathLike) -> Path:
    """``out`` as a path, if it is (or can be created as) a writable folder; else raise.

    Writing is tried, not read from permission bits (which bind neither root nor
    a read-only file system): a temporary folder is made and removed in ``out``,
    or in its nearest existing parent. Nothing is left behind.
    """
    if not isinstance(out, (str, os.PathLike)):
        raise TypeError(f"out must be a folder path, got {type(out).__name__}.")
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"out={str(out)!r} exists and is not a folder.")
    existing = next(p for p in (out, *out.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise ValueError(f"cannot create the output folder {str(out)!r}: "
                         f"{str(existing)!r} is a file; choose another --out.")
    try:
        os.rmdir(tempfile.mkdtemp(prefix=".psyphy-numpyro-", dir=existing))
    except OSError as err:
        raise ValueError(f"cannot write the output folder {str(out)!r}: "
                         f"{str(existing)!r} is not writable ({err.strerror}); "
                         "choose another --out.") from None
    return out


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors on one line: ``prog: error: message``, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _count(text: str) -> int:
    """An integer option, also written as a float without a fraction (``1e5``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r}") from None
    if not math.isfinite(value) or value != math.floor(value):
        raise argparse.ArgumentTypeError(f"invalid integer: {text!r} (a whole number "
                                         "is needed)")
    return int(value)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``psyphy-numpyro`` command; returns the exit status.

    Every option is checked before any work: its value, whether the sizes fit
    in the available memory, whether the output folder can be written. A bad
    option is refused in one line, ``psyphy-numpyro: error: ...``, with status 2
    (argparse's usage errors). A run that fails afterwards exits with status 1:
    one line for a problem of the machine (a file in use, a full disk, memory),
    and for anything else an internal error with a hint (``--traceback`` shows
    it in full). A failed run removes the output folder it created.
    """
    from psyphy_numpyro import __version__

    parser = _Parser(prog="psyphy-numpyro", description=__doc__)
    parser.add_argument("--version", action="version",
                        version=f"%(prog)s {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="print the full traceback of an internal error")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="simulate, fit by MAP and NUTS, write results")
    demo.add_argument("--trials", type=_count, default=400, help="number of trials (400)")
    demo.add_argument("--steps", type=_count, default=1000, help="MAP steps (1000)")
    demo.add_argument("--seed", type=_count, default=0, help="simulation/NUTS seed (0)")
    demo.add_argument("--out", default="demo_output", help="output folder")
    demo.add_argument("--warmup", type=_count, default=500, help="NUTS warm-up (500)")
    demo.add_argument("--samples", type=_count, default=1000, help="NUTS draws (1000)")
    demo.add_argument("--chains", type=_count, default=4, help="NUTS chains (4)")
    demo.add_argument("--no-progress", action="store_true", help="hide progress bars")
    _add_experiment(sub)
    args = parser.parse_args(argv)

    if args.command == "demo":
        options = {"trials": args.trials, "steps": args.steps, "seed": args.seed,
                   "out": args.out, "num_warmup": args.warmup,
                   "num_samples": args.samples, "num_chains": args.chains}
        check_all, run = _demo_settings, run_demo
    else:
        from psyphy_numpyro.experiment.cli_run import check_experiment, run_experiment

        options = {
            "strategies": args.strategy or ["bald,sobol"], "trials": args.trials,
            "batch": args.batch, "warmup": args.warmup, "eval_every": args.eval_every,
            "model": args.model, "degree": args.degree, "truth_seed": args.truth_seed,
            "truth": args.truth, "seed": args.seed, "out": args.out,
            "candidates": args.candidates, "draws": args.draws,
            "overwrite": args.overwrite}
        check_all, run = check_experiment, run_experiment
    try:
        check_all(**options)
    except (ValueError, TypeError, OSError) as err:
        return _say(f"error: {err}", 2)
    except BaseException as err:  # noqa: BLE001 - reported by _failed, or re-raised
        return _failed(err, args.traceback)

    out = Path(args.out).expanduser().absolute()
    created = next((p for p in (*reversed(out.parents), out) if not p.exists()), None)
    try:
        run(**options, progress=not args.no_progress)
    except BaseException as err:  # noqa: BLE001 - reported by _failed, or re-raised
        if created is not None and created.is_dir():
            shutil.rmtree(created, ignore_errors=True)
        return _failed(err, args.traceback)
    return 0


def _say(message: str, status: int) -> int:
    print(f"psyphy-numpyro: {message}", file=sys.stderr)
    return status


def _failed(err: BaseException, show_traceback: bool) -> int:
    """Report a run that failed after its options were accepted; its exit status."""
    from psyphy_numpyro.experiment.store import SessionInUseError

    if isinstance(err, KeyboardInterrupt):
        return _say("interrupted.", 130)
    if isinstance(err, MemoryError) or "RESOURCE_EXHAUSTED" in str(err):  # XLA's
        message = str(err).strip().splitlines()[0] if str(err).strip() else "MemoryError"
        return _say(f"error: out of memory ({message}); choose smaller sizes.", 1)
    if isinstance(err, (OSError, SessionInUseError)):  # the machine, not the options
        return _say(f"error: {err}", 1)
    if not isinstance(err, Exception):
        raise err
    if show_traceback:
        traceback.print_exception(err)
    return _say(f"internal error: {type(err).__name__}: {err}\n  This is a fault in "
                "psyphy_numpyro, not in the options given. Rerun with --traceback "
                "before the command's name to see where, and report it with the "
                "command line.", 1)


def _add_experiment(sub: Any) -> None:
    """The ``experiment`` subcommand's options (its body is in ``experiment.cli_run``)."""
    exp = sub.add_parser("experiment", help="compare trial placements in simulated "
                         "adaptive sessions, write sessions, posteriors and figures")
    exp.add_argument("--strategy", action="append", metavar="NAMES",
                     help="placements: bald, threshold, threshold_linear, sobol, random; "
                     "repeat or "
                     "comma-separate (bald,sobol)")
    exp.add_argument("--trials", type=_count, default=600,
                     help="answers per session, a multiple of --eval-every (600)")
    exp.add_argument("--batch", type=_count, default=20, help="trials per ask (20)")
    exp.add_argument("--warmup", type=_count, default=200,
                     help="space-filling trials first, a multiple of --batch (200)")
    exp.add_argument("--eval-every", type=_count, default=100,
                     help="answers between error evaluations, a multiple of --batch (100)")
    exp.add_argument("--model", default="full", help="full: WPPM with quadrature "
                     "oddity; mvp: constant covariance (full)")
    exp.add_argument("--degree", type=_count, default=4,
                     help="Chebyshev degree of the full model (4)")
    exp.add_argument("--truth-seed", type=_count, default=1,
                     help="seed of the simulated observer, a prior draw (1)")
    exp.add_argument("--truth", default=None,
                     help="saved fit (save_fit) whose params answer instead")
    exp.add_argument("--seed", type=_count, default=0, help="session seed (0)")
    exp.add_argument("--out", default="experiment_output",
                     help="output folder (experiment_output)")
    exp.add_argument("--candidates", type=_count, default=1024,
                     help="candidate trials per posterior proposal (1024)")
    exp.add_argument("--draws", type=_count, default=128,
                     help="posterior draws per bald/threshold proposal (128)")
    exp.add_argument("--overwrite", action="store_true",
                     help="replace session files already in --out")
    exp.add_argument("--no-progress", action="store_true", help="hide progress bars")


if __name__ == "__main__":
    sys.exit(main())
