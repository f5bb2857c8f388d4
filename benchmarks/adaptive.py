"""Adaptive placement against space-filling placement on simulated observers (issue 14).

Each observer is a field drawn from the full WPPM's prior (2-D, Chebyshev
degree 4, one extra embedding dimension, Gaussian noise, the quadrature
rule). Every strategy starts from the same 200-trial Sobol warm-up (the
session's own space-filling sequence, same seed) and runs to 2,000 answers
in batches of 20, through :func:`psyphy_numpyro.experiment.simulate.run_simulated_session`:

- ``threshold_linear``, ``bald`` and ``threshold``:
  :class:`~psyphy_numpyro.InfoGainPlacement` on the session's posterior
  (MAP + Laplace refitted every 20 answers);
- ``sobol``: the warm-up's Sobol sequence continued;
- ``random``: uniform random pairs in the same box and radius;
- ``aepsych`` (only with ``--contenders`` naming it, and only where AEPsych
  installs; see ``aepsych_contender.py``).

The error is :func:`~psyphy_numpyro.experiment.simulate.threshold_error`: the
mean absolute log ratio of the fitted threshold radii (the MAP of the last
refit) to the true ones on a 5 x 5 reference grid, 24 directions each. The
table gives its median over observers at 400, 800, 1,200 and 2,000 answers,
the answers each strategy needs to reach Sobol's error at 2,000 (median over
observers; "-" when not reached; then per observer), and the median and 95th percentile wall
time of one 20-trial proposal and of one refit, with the CPU time of the
whole run beside its wall time. All strategies run in one process one after
another, so each pays its own first compilations once (they show in the
95th percentiles).

Run ``python benchmarks/adaptive.py`` (20 observers, about 35 minutes on 2
cores) or ``--quick`` (2 observers to 600 answers).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import jax
import numpy as np

from psyphy_numpyro import WPPM, OddityTask, OddityTaskConfig, Prior
from psyphy_numpyro.experiment.simulate import run_simulated_session

CHECKPOINTS = (400, 800, 1200, 2000)


def hong_like_model(degree: int) -> WPPM:
    """The full WPPM at Hong et al.'s 2-D settings, with the quadrature rule."""
    return WPPM(Prior(input_dim=2, basis_degree=degree),
                task=OddityTask(config=OddityTaskConfig(estimator="quadrature")))


def trials_to_reach(counts: np.ndarray, errors: np.ndarray, target: float) -> float:
    """First answer count whose error is at most ``target`` (nan if never)."""
    hit = np.flatnonzero(errors <= target)
    return float(counts[hit[0]]) if hit.size else float("nan")


def run(args: argparse.Namespace) -> dict:
    model = hong_like_model(args.degree)
    strategies = args.contenders.split(",")
    results: dict[str, list] = {s: [] for s in strategies}
    folder = tempfile.mkdtemp(prefix="adaptive_bench_")
    for obs in range(args.observers):
        truth = model.init_params(jax.random.PRNGKey(1000 + obs))
        for strategy in strategies:
            start_wall, start_cpu = time.perf_counter(), time.process_time()
            path = os.path.join(folder, f"obs{obs}_{strategy}.sqlite")
            if strategy == "aepsych":
                import aepsych_contender

                run_ = aepsych_contender.run(path, model, truth, num_trials=args.trials,
                                             warmup=args.warmup, batch_size=args.batch,
                                             eval_every=args.eval_every, seed=obs)
            else:
                run_ = run_simulated_session(
                    path, model, truth, strategy=strategy, num_trials=args.trials,
                    batch_size=args.batch, warmup=args.warmup,
                    eval_every=args.eval_every, seed=obs, progress_bar=False)
            wall, cpu = time.perf_counter() - start_wall, time.process_time() - start_cpu
            results[strategy].append((run_, wall, cpu))
            last = run_.error[-1] if len(run_.error) else float("nan")
            print(f"observer {obs} {strategy:9s} error at {args.trials}: {last:.3f} "
                  f"({wall:.0f} s wall, {cpu:.0f} s CPU)", file=sys.stderr, flush=True)
    return results


def table(results: dict, args: argparse.Namespace) -> str:
    checkpoints = [c for c in CHECKPOINTS if c <= args.trials]
    if args.trials not in checkpoints:
        checkpoints.append(args.trials)
    sobol_final = None
    if "sobol" in results:
        sobol_final = [r.error[-1] for r, _, _ in results["sobol"]]
    head = ["strategy"] + [f"err@{c}" for c in checkpoints] + [
        "n to Sobol@end", "proposal med/p95 s", "refit med/p95 s", "wall s", "CPU s"]
    rows = [head]
    for strategy, runs in results.items():
        row = [strategy]
        for c in checkpoints:
            vals = [r.error[list(r.num_trials).index(c)] for r, _, _ in runs
                    if c in list(r.num_trials)]
            row.append(f"{np.median(vals):.3f}" if vals else "-")
        if sobol_final is not None:
            need = [trials_to_reach(r.num_trials, r.error, target)
                    for (r, _, _), target in zip(runs, sobol_final)]
            # an observer that never reaches the target counts as needing more
            med = np.median(np.where(np.isnan(need), np.inf, need))
            row.append((f"{med:.0f} ({med / args.trials:.2f}x) " if np.isfinite(med)
                        else f">{args.trials} ")
                       + " ".join("-" if np.isnan(n) else f"{n:.0f}" for n in need))
        else:
            row.append("-")
        props = np.concatenate([r.proposal_seconds for r, _, _ in runs])
        refits = np.concatenate([r.refit_seconds for r, _, _ in runs])
        row.append(f"{np.median(props):.2f}/{np.percentile(props, 95):.2f}"
                   if props.size else "-")
        row.append(f"{np.median(refits):.2f}/{np.percentile(refits, 95):.2f}"
                   if refits.size else "-")
        row.append(f"{np.median([w for _, w, _ in runs]):.0f}")
        row.append(f"{np.median([c for _, _, c in runs]):.0f}")
        rows.append(row)
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    return "\n".join("  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--observers", type=int, default=20)
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--warmup", type=int, default=200)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--eval-every", type=int, default=100)
    parser.add_argument("--degree", type=int, default=4)
    parser.add_argument("--contenders",
                        default="threshold_linear,bald,threshold,sobol,random")
    parser.add_argument("--quick", action="store_true",
                        help="2 observers to 600 answers")
    args = parser.parse_args()
    if args.quick:
        args.observers, args.trials = 2, 600
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    results = run(args)
    print(f"{args.observers} observers, degree {args.degree}, warm-up {args.warmup}, "
          f"batches of {args.batch}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(table(results, args))


if __name__ == "__main__":
    main()
