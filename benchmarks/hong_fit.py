"""A Hong-scale MAP fit end to end, and the cold start (issue 4, goals 4 and 5).

One fresh Python process fits the simulated study of ``full_gradient.py``
(6,000 trials, 25 references on a grid, comparisons up to 0.3 away, answers
from a prior draw of ``W``) with ``MAPOptimizer(steps=1500,
learning_rate=1e-3, momentum=0.9, max_grad_norm=1.0)`` (clipped SGD:
``optax.chain(clip, sgd)``), ``estimator="mc"`` with 2,000 samples and fresh
draws every step. A ``jax.monitoring`` listener records every compilation
(tracing, lowering, XLA), so the wall time splits into compile and steps.

Then, in the same process:

- a second fit of the same shapes (a second simulated observer: new answers,
  another start) with the same model and optimizer objects; it must compile
  nothing;
- short fits showing what else recompiles: a new ``MAPOptimizer`` with the same
  settings, and a new, identically configured ``WPPM``.

psyphy 0.0.5 is not run for 1,500 steps: its projected time is its measured
MAP-step time (``full_gradient.py``'s ``psyphy`` worker, in a fresh process in
the same run) times 1,500, plus its compile time.

Run ``python benchmarks/hong_fit.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg

COMPILE_EVENTS = (
    "/jax/core/compile/jaxpr_trace_duration",
    "/jax/core/compile/jaxpr_to_mlir_module_duration",
    "/jax/core/compile/backend_compile_duration",
)
BACKEND_EVENT = "/jax/core/compile/backend_compile_duration"
SECOND_ANSWER_SEED, SECOND_INIT_SEED = 13, 43


class CompileLog:
    """Counts XLA compilations and sums the compile-phase durations (seconds)."""

    def __init__(self) -> None:
        import jax.monitoring

        self.count = 0
        self.seconds = 0.0
        jax.monitoring.register_event_duration_secs_listener(self._on)

    def _on(self, event: str, duration: float, **kwargs) -> None:
        if event in COMPILE_EVENTS:
            self.seconds += duration
        if event == BACKEND_EVENT:
            self.count += 1

    def snapshot(self) -> tuple[int, float]:
        return self.count, self.seconds


def _timed_fit(log: CompileLog, optimizer, model, data, init) -> dict:
    import jax

    c0, s0 = log.snapshot()
    cpu = time.process_time()
    t = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = optimizer.fit(model, data, init_params=init, seed=0)
        jax.block_until_ready(fit.params)
    wall = time.perf_counter() - t
    cpu = time.process_time() - cpu
    c1, s1 = log.snapshot()
    return {
        "fit": fit,
        "wall_s": wall,
        "cpu_s": cpu,
        "compiles": c1 - c0,
        "compile_s": s1 - s0,
        "steps_s": wall - (s1 - s0),
        "steps": optimizer.steps,
        "clip_rate": optimizer.clip_rate,
        "warnings": [str(w.message)[:120] for w in caught],
    }


def fit_worker(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from psyphy_numpyro.core.design import reference_points
    from psyphy_numpyro.core.simulate import simulate_responses
    from psyphy_numpyro.core.trials import TrialData
    from psyphy_numpyro.inference.map_optimizer import MAPOptimizer

    problem = fg.load_problem(args.problem)
    model = fg.our_model("mc", args.samples)
    data = TrialData(np.stack([problem["ref"], problem["cmp"]], 1), problem["y"])
    init = {"W": jnp.asarray(problem["init"], jnp.float32)}
    truth = {"W": jnp.asarray(problem["truth"], jnp.float32)}
    # the second observer: same stimuli, new answers (exact p(correct)), new start
    y2 = simulate_responses(
        jax.random.PRNGKey(SECOND_ANSWER_SEED),
        fg.our_model("quadrature", 1),
        truth,
        problem["ref"],
        problem["cmp"],
    )
    data2 = TrialData(np.stack([problem["ref"], problem["cmp"]], 1), y2)
    init2 = model.init_params(jax.random.PRNGKey(SECOND_INIT_SEED))

    def make_optimizer(steps):
        return MAPOptimizer(
            steps=steps,
            learning_rate=fg.LEARNING_RATE,
            momentum=fg.MOMENTUM,
            max_grad_norm=fg.MAX_GRAD_NORM,
            show_progress=False,
            log_every=10,
        )

    log = CompileLog()
    optimizer = make_optimizer(args.steps)
    first = _timed_fit(log, optimizer, model, data, init)
    history = optimizer.get_history()
    optimizer.steps = args.second_steps  # same object: same compiled loop
    second = _timed_fit(log, optimizer, model, data2, init2)
    # what else recompiles (short fits)
    new_optimizer = _timed_fit(
        log, make_optimizer(args.probe_steps), model, data2, init2
    )
    optimizer.steps = args.probe_steps  # the first optimizer object, a new model object
    new_model = _timed_fit(
        log, optimizer, fg.our_model("mc", args.samples), data2, init2
    )

    xs = reference_points(fg.NUM_REFS, fg.INPUT_DIM, method="grid")
    true_field = np.asarray(model.local_covariance(truth, xs))

    def field_error(params):
        est = np.asarray(model.local_covariance(params, xs))
        rel = np.linalg.norm(est - true_field, axis=(1, 2)) / np.linalg.norm(
            true_field, axis=(1, 2)
        )
        return float(rel.mean())

    def public(r):
        return {k: v for k, v in r.items() if k != "fit"}

    return {
        "first": public(first),
        "second": public(second),
        "new_optimizer": public(new_optimizer),
        "new_model": public(new_model),
        "loss_first_last": [history[1][0], history[1][-1]],
        "field_error_init": field_error(init),
        "field_error_fit": field_error(first["fit"].params),
        "field_error_second_init": field_error(init2),
        "field_error_second_fit": field_error(second["fit"].params),
        "peak_rss_mib": fg.peak_rss_mib(),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument(
        "--second-steps", type=int, default=300, help="steps of the second fit (300)"
    )
    parser.add_argument(
        "--probe-steps",
        type=int,
        default=20,
        help="steps of the short recompilation probes (20)",
    )
    parser.add_argument(
        "--psyphy-repeats",
        type=int,
        default=3,
        help="timed psyphy steps for the projection (3; 0 skips psyphy)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="600 trials x 200 samples, 100 + 50 steps, 1 psyphy step",
    )
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.samples, args.steps, args.second_steps = 600, 200, 100, 50
        args.probe_steps, args.psyphy_repeats = 10, 1
    if args.worker:
        fg.emit(fit_worker(args))
        return 0
    if min(args.steps, args.second_steps, args.probe_steps) < 10:
        parser.error("steps must be at least 10 (MAPOptimizer's progress_every)")

    info = fg.machine()
    script = os.path.abspath(__file__)
    with tempfile.TemporaryDirectory() as tmp:
        problem = os.path.join(tmp, "problem.npz")
        common = [
            "--problem",
            problem,
            "--trials",
            str(args.trials),
            "--samples",
            str(args.samples),
        ]
        fg.run_worker(
            os.path.join(fg.HERE, "full_gradient.py"), ["--worker", "prepare", *common]
        )
        print("  fitting ...", file=sys.stderr, flush=True)
        res = fg.run_worker(
            script,
            [
                "--worker",
                *common,
                "--steps",
                str(args.steps),
                "--second-steps",
                str(args.second_steps),
                "--probe-steps",
                str(args.probe_steps),
            ],
        )
        load_mid = os.getloadavg()
        psyphy = None
        if args.psyphy_repeats:
            print("  psyphy step ...", file=sys.stderr, flush=True)
            psyphy = fg.run_worker(
                os.path.join(fg.HERE, "full_gradient.py"),
                ["--worker", "psyphy", *common, "--repeats", str(args.psyphy_repeats)],
            )
    load_after = os.getloadavg()

    f, s = res["first"], res["second"]
    print(
        f"Hong-scale MAP fit: {args.trials} trials x {args.samples} samples x {args.steps} "
        f"steps, MAPOptimizer(learning_rate={fg.LEARNING_RATE}, momentum={fg.MOMENTUM}, "
        f'max_grad_norm={fg.MAX_GRAD_NORM}), estimator="mc", fresh draws every step'
    )
    print(fg.describe_machine(info))
    print(
        f"load average (1/5/15 min): before {fg.loadavg_str(info['loadavg'])}, after the fits "
        f"{fg.loadavg_str(load_mid)}, at the end {fg.loadavg_str(load_after)}"
    )
    print()
    head = (
        f"{'fit':44s} {'steps':>6s} {'wall s':>8s} {'CPU s':>8s} {'compile s':>9s} "
        f"{'compiles':>8s} {'steps s':>8s} {'s / step':>9s}"
    )
    print(head)
    print("-" * len(head))
    for label, r in (
        ("first fit (cold)", f),
        ("second fit, same model + optimizer objects", s),
        ("new MAPOptimizer, same settings", res["new_optimizer"]),
        ("new WPPM, same settings", res["new_model"]),
    ):
        print(
            f"{label:44s} {r['steps']:6d} {r['wall_s']:8.1f} {r['cpu_s']:8.1f} "
            f"{r['compile_s']:9.2f} "
            f"{r['compiles']:8d} {r['steps_s']:8.1f} {r['steps_s'] / r['steps']:9.4f}"
        )
    print()
    print(
        f"loss per trial: {res['loss_first_last'][0]:.4f} at step 0, "
        f"{res['loss_first_last'][1]:.4f} at the last; clip rate {f['clip_rate']:.2f}"
    )
    print(
        f"mean relative error of Sigma(x) at the 25 references: start {res['field_error_init']:.3f}"
        f" -> fit {res['field_error_fit']:.3f} (second observer: "
        f"{res['field_error_second_init']:.3f} -> {res['field_error_second_fit']:.3f})"
    )
    print(f"peak RSS of the fitting process: {res['peak_rss_mib']:.0f} MiB")
    if psyphy:
        comp = psyphy["trace_lower_s"] + psyphy["xla_compile_s"]
        projected = comp + args.steps * psyphy["median_s"]
        print(
            f"psyphy 0.0.5: {psyphy['median_s']:.2f} s per MAP step (median of "
            f"{args.psyphy_repeats}), compile {comp:.1f} s -> projected {args.steps}-step fit "
            f"{projected:.0f} s = {projected / 3600:.2f} h; ours {f['wall_s']:.0f} s "
            f"({projected / f['wall_s']:.0f}x faster)"
        )
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "machine": info,
                    "load_mid": load_mid,
                    "load_after": load_after,
                    "args": vars(args),
                    "fit": res,
                    "psyphy": psyphy,
                },
                fh,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
