"""The ``psyphy-numpyro experiment`` command: simulated adaptive sessions, compared.

:func:`run_experiment` runs
:func:`~psyphy_numpyro.experiment.simulate.run_simulated_session` once per
placement strategy against one simulated observer (a field drawn from the
prior, or a saved fit), then writes each session's SQLite file, its final
posterior as ArviZ netCDF, the threshold error of every strategy against the
number of answers, and each strategy's final threshold field beside the truth.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.acquisition import CRITERIA

__all__ = ["MODELS", "check_experiment", "format_table", "parse_strategies",
           "run_experiment"]

MODELS = ("full", "mvp")
"""Models of :func:`run_experiment`: the full WPPM (quadrature oddity) or the MVP."""

#: Posterior draws written to each netCDF file and summarised in the figures.
NUM_DRAWS = 1000
BAND_DRAWS = 200

#: Memory of one session beyond the running interpreter, in bytes, by model,
#: measured on CPU and rounded up: a fixed part (compiled programs, figures); per
#: answer (the refits' per-trial terms and the NUM_DRAWS draws per trial written
#: to netCDF); per candidate and posterior draw of a bald/threshold proposal
#: (p(correct) of every pair, the greedy batch's fantasies).
RUN_BYTES = {"fixed": {"mvp": 384 * 2**20, "full": 768 * 2**20},
             "trial": {"mvp": 40_000, "full": 300_000},
             "candidate_draw": {"mvp": 40, "full": 4_000}}


def parse_strategies(value: str | Iterable[str]) -> tuple[str, ...]:
    """Placement strategies from ``"bald,sobol"`` or ``["bald", "sobol,random"]``.

    Names are split at commas and stripped; repeats are dropped, order kept.

    Examples
    --------
    >>> parse_strategies(["bald, sobol", "bald"])
    ('bald', 'sobol')
    """
    from psyphy_numpyro.experiment.simulate import STRATEGIES

    items = [value] if isinstance(value, str) else list(value)
    names: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"strategies must be names (str), got {type(item).__name__}.")
        names += [n.strip() for n in item.split(",") if n.strip()]
    if not names:
        raise ValueError(f"strategy: name at least one of {', '.join(STRATEGIES)}.")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise ValueError(f"unknown strategy {unknown[0]!r}; choose among "
                         f"{', '.join(STRATEGIES)} (comma-separated or repeated).")
    return tuple(dict.fromkeys(names))


def _build_model(name: str, degree: int) -> Any:
    from psyphy_numpyro import WPPM, OddityTask, OddityTaskConfig, Prior

    if name not in MODELS:
        raise ValueError(f"model must be one of {', '.join(MODELS)}, got {name!r}.")
    if name == "mvp":
        return WPPM(input_dim=2, prior=Prior.default(2))
    degree = check.positive_int("degree", degree, minimum=0)
    task = OddityTask(config=OddityTaskConfig(estimator="quadrature"))
    return WPPM(Prior(input_dim=2, basis_degree=degree), task=task)


def _settings(*, trials, batch, warmup, eval_every, candidates, draws, strategies):
    """Check the run's sizes together; return them as ints."""
    trials = check.positive_int("trials", trials)
    batch = check.positive_int("batch", batch)
    warmup = check.positive_int("warmup", warmup)
    eval_every = check.positive_int("eval_every", eval_every)
    candidates = check.positive_int("candidates", candidates)
    draws = check.positive_int("draws", draws, minimum=2)
    if warmup % batch:
        raise ValueError(f"warmup={warmup} must be a multiple of batch={batch}, so that "
                         "the first fit sees exactly the warm-up trials.")
    if eval_every % batch:
        raise ValueError(f"eval_every={eval_every} must be a multiple of batch={batch}, "
                         "the refit spacing of the posterior strategies.")
    if trials < warmup:
        raise ValueError(f"trials={trials} must be at least warmup={warmup}.")
    if trials % eval_every:
        raise ValueError(f"trials={trials} must be a multiple of eval_every={eval_every}, "
                         "so that the last evaluation is of every answer.")
    if batch > candidates and set(CRITERIA) & set(strategies):
        raise ValueError(f"batch={batch} exceeds candidates={candidates}; a posterior "
                         "strategy picks each batch among its candidates.")
    return trials, batch, warmup, eval_every, candidates, draws


def _memory_estimate(model: str, trials: int, candidates: int, draws: int,
                     posterior_strategy: bool) -> int:
    """Bytes one session of this size needs (the sessions run one after another)."""
    need = RUN_BYTES["fixed"][model] + RUN_BYTES["trial"][model] * trials
    if posterior_strategy:
        need += RUN_BYTES["candidate_draw"][model] * candidates * draws
    return need


def _session_files(out: Path, strategies: Sequence[str], overwrite: bool) -> dict:
    """The session file of each strategy; refuse (or clear) files already there."""
    files = {s: out / f"session_{s}.sqlite" for s in strategies}
    for path in files.values():
        leftovers = [Path(f"{path}{tail}") for tail in ("", "-wal", "-shm")]
        leftovers = [p for p in leftovers if p.exists()]
        if leftovers and not overwrite:
            raise ValueError(f"{str(path)!r} exists already (a session is never "
                             "overwritten silently); pass --overwrite, or choose "
                             "another --out.")
        if overwrite:
            for p in leftovers:
                if p.is_dir():
                    raise ValueError(f"{str(p)!r} is a folder; remove it or choose "
                                     "another --out.")
    return files


def _load_truth(model: Any, path: Path) -> dict:
    from psyphy_numpyro.data.fits import load_fit

    fit = load_fit(path)
    params = getattr(fit, "params", None)
    if not isinstance(params, dict):
        raise TypeError(f"truth={str(path)!r} holds a {type(fit).__name__} without "
                        "params; save a fit with save_fit.")
    try:
        return model.check_params({k: np.asarray(v) for k, v in params.items()},
                                        "truth")
    except ValueError as err:
        raise ValueError(f"truth={str(path)!r} does not fit the chosen model ({err}); "
                         "pick the --model (and --degree) the fit was made with.") \
            from None


def _seconds(values: np.ndarray) -> str:
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return "-"
    return f"{np.median(values):.3g} / {np.percentile(values, 95):.3g}"


def format_table(runs: Sequence[Any]) -> str:
    """The summary table: per strategy, the error at each evaluation and the timings.

    ``runs`` are results of :func:`run_simulated_session`; the timings are the
    median and 95th percentile, in seconds, of the proposals after the
    warm-up and of the refits.
    """
    counts = sorted({int(n) for run in runs for n in run.num_trials})
    name_w = max(8, *(len(run.strategy) for run in runs))
    head = ["strategy".ljust(name_w), *(f"{n:>8d}" for n in counts),
            f"{'propose s (med / p95)':>22}", f"{'refit s (med / p95)':>22}"]
    lines = ["Threshold error (mean |log fitted / true threshold|) after N answers:",
             "  ".join(head)]
    for run in runs:
        by_n = {int(n): e for n, e in zip(run.num_trials, run.error)}
        cells = [f"{by_n[n]:8.4f}" if n in by_n else f"{'-':>8}" for n in counts]
        lines.append("  ".join([run.strategy.ljust(name_w), *cells,
                                f"{_seconds(run.proposal_seconds):>22}",
                                f"{_seconds(run.refit_seconds):>22}"]))
    return "\n".join(lines)


def _plot_final_thresholds(model: Any, posterior: Any, truth: dict, title: str) -> Any:
    """Bands of the posterior's thresholds beside the truth's, on a 5 x 5 grid."""
    import jax

    from psyphy_numpyro.core.bands import threshold_bands
    from psyphy_numpyro.core.readouts import reference_grid, threshold_contour
    from psyphy_numpyro.viz.bands import plot_threshold_bands

    refs = reference_grid(5)
    bands = threshold_bands(posterior, ref=refs, prob=0.9, num_draws=BAND_DRAWS,
                            key=jax.random.PRNGKey(0))
    true = threshold_contour(model, truth, ref=refs)
    scale = 1.0
    radii = np.asarray(true.radii)
    if bands.refs is not None and np.any(np.isfinite(radii)):
        spacing = float(np.min(np.diff(np.unique(refs[:, 0]))))
        scale = 0.35 * spacing / float(np.median(radii[np.isfinite(radii)]))
    with np.errstate(invalid="ignore"):  # unreached directions (inf) are drawn as gaps
        ax = plot_threshold_bands(bands, {"truth": true}, scale=scale, legend_loc=None)
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize="small")
    ax.set_title(f"{title}\nthresholds at p(correct) = {bands.criterion:.3f}"
                 + (f" (x{scale:.3g})" if scale != 1.0 else ""))
    return ax


def check_experiment(**settings: Any) -> None:
    """Check :func:`run_experiment`'s settings as it does first, running nothing.

    Takes its keywords (``progress`` aside); raises what it would raise.
    """
    run_experiment(**settings, check_only=True)


def run_experiment(
    *,
    strategies: str | Iterable[str] = ("bald", "sobol"),
    trials: int = 600,
    batch: int = 20,
    warmup: int = 200,
    eval_every: int = 100,
    model: str = "full",
    degree: int = 4,
    truth_seed: int = 1,
    truth: str | os.PathLike | None = None,
    seed: int = 0,
    out: str | os.PathLike = "experiment_output",
    candidates: int = 1024,
    draws: int = 128,
    overwrite: bool = False,
    progress: bool = True,
    check_only: bool = False,
) -> dict | None:
    """Run one simulated adaptive session per strategy and write the comparison.

    Every setting is checked before any JAX work: the values, the memory the
    sizes need against what is available, the output folder and its session
    files, the saved truth. The simulated observer is
    ``truth`` when given, else the model's prior draw from ``truth_seed``.
    Refits follow :func:`~psyphy_numpyro.experiment.simulate.run_simulated_session`:
    every ``batch`` answers for the posterior strategies, and for the
    space-filling ones exactly where an evaluation needs a fit of all answers.

    Parameters
    ----------
    strategies
        Names of :data:`~psyphy_numpyro.experiment.simulate.STRATEGIES`, as a
        list or comma-separated.
    trials, batch, warmup, eval_every
        Answers per session, trials per ask, space-filling trials first (a
        multiple of ``batch``), answers between evaluations (a multiple of
        ``batch`` dividing ``trials``).
    model, degree
        ``"full"``: the WPPM with a Chebyshev basis of ``degree`` and the
        quadrature oddity rule; ``"mvp"``: the constant-covariance MVP.
    truth_seed, truth
        The simulated observer: a prior draw from ``truth_seed``, or the
        ``params`` of a fit saved by :func:`~psyphy_numpyro.save_fit`.
    seed
        Seed of each session (warm-up, placement, refits, answers).
    out
        Output folder.
    candidates, draws
        ``num_candidates`` of the posterior strategies'
        :class:`~psyphy_numpyro.InfoGainPlacement`, and ``num_draws`` of
        ``"bald"`` and ``"threshold"`` (``"threshold_linear"`` keeps its default).
    overwrite
        Replace session files already in ``out`` (else they are refused).
    progress
        Show a progress bar per session.
    check_only
        Make every check, then return None without running anything.

    Returns
    -------
    dict
        ``runs`` (strategy -> :class:`SimulatedRun`), ``model``, ``truth`` and
        ``files`` (name -> path written).
    """
    strategies = parse_strategies(strategies)
    trials, batch, warmup, eval_every, candidates, draws = _settings(
        trials=trials, batch=batch, warmup=warmup, eval_every=eval_every,
        candidates=candidates, draws=draws, strategies=strategies)
    truth_seed = check.seed("truth_seed", truth_seed)
    seed = check.seed("seed", seed)
    if truth is not None:
        truth = Path(truth).expanduser()
        if not truth.is_file():
            raise FileNotFoundError(f"truth: no saved fit at {str(truth)!r}.")
    from psyphy_numpyro.cli import check_memory, writable_folder

    model_name = model
    model = _build_model(model, degree)
    check_memory(_memory_estimate(model_name, trials, candidates, draws,
                                  bool(set(CRITERIA) & set(strategies))),
                 f"one session ({model_name} model, trials={trials}, candidates="
                 f"{candidates}, draws={draws})")
    out = writable_folder(out)
    sessions = _session_files(out, strategies, overwrite)
    truth_params = None if truth is None else _load_truth(model, truth)
    if check_only:
        return None

    # -- every setting holds: the work starts here ------------------------------------
    import jax
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from psyphy_numpyro.experiment.simulate import run_simulated_session
    from psyphy_numpyro.viz.adaptive import plot_threshold_error

    if truth is None:
        truth_params = model.init_params(jax.random.PRNGKey(truth_seed))
        source = f"a prior draw (truth seed {truth_seed})"
    else:
        source = f"the fit in {str(truth)!r}"
    what = "MVP" if model_name == "mvp" else f"full WPPM (degree {degree}, quadrature)"
    print(f"Simulated observer: {source}; model: {what}; {trials} trials per strategy "
          f"({warmup} warm-up, batches of {batch}), errors every {eval_every}.")

    out.mkdir(parents=True, exist_ok=True)  # only once there is something to write
    for path in sessions.values():
        for tail in ("", "-wal", "-shm"):
            Path(f"{path}{tail}").unlink(missing_ok=True)
    runs, files = {}, {}
    for strategy in strategies:
        posterior_strategy = strategy in CRITERIA
        options = {"num_candidates": candidates}
        if strategy != "threshold_linear":  # its draws only estimate a covariance
            options["num_draws"] = draws
        runs[strategy] = run = run_simulated_session(
            sessions[strategy], model, truth_params, strategy=strategy,
            num_trials=trials, batch_size=batch, warmup=warmup,
            eval_every=eval_every, seed=seed,
            placement_options=options if posterior_strategy else None,
            progress_bar=progress)
        files[f"session_{strategy}"] = sessions[strategy]
        posterior = run.session.posterior
        idata = posterior.to_inference_data(NUM_DRAWS, seed=seed)
        files[f"posterior_{strategy}"] = out / f"posterior_{strategy}.nc"
        idata.to_netcdf(str(files[f"posterior_{strategy}"]))
        ax = _plot_final_thresholds(
            model, posterior, truth_params,
            f"{strategy}: fit of {len(posterior.trials.ref)} answers vs truth")
        files[f"thresholds_{strategy}"] = out / f"thresholds_{strategy}.png"
        ax.figure.savefig(files[f"thresholds_{strategy}"], dpi=120, bbox_inches="tight")
        plt.close(ax.figure)

    ax = plot_threshold_error(list(runs.values()))
    files["threshold_error"] = out / "threshold_error.png"
    ax.figure.savefig(files["threshold_error"], dpi=120, bbox_inches="tight")
    plt.close("all")
    print(format_table(list(runs.values())))
    for name, path in files.items():
        print(f"wrote {name}: {path}")
    return {"runs": runs, "model": model, "truth": truth_params, "files": files}
