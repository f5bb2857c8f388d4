"""Many observers: batched against sequential MAP fits, and bootstrap refits (issue 16).

Side by side in one run, each contender in a fresh Python process (so none
reuses another's compiled code):

1. **Observers.** 8 simulated observers, each with its own prior draw of ``W``
   (2-D full WPPM, ``Prior(input_dim=2, basis_degree=4)``, one extra
   embedding dimension; oddity task with the deterministic
   ``estimator="quadrature"``). References are uniform in [-0.7, 0.7]^2;
   each comparison lies at a uniform direction and a Mahalanobis distance
   uniform in [1.5, 4] under the observer's own Sigma(ref), so p(correct)
   runs from about 0.45 to 0.87 around the 2/3 threshold (at about 2.6).
   Observers have slightly different numbers of trials, as real observers
   do: ``N x (0.97 ... 1.035)`` (at N = 1,000: 970 to 1,035), so
   sequential fits compile once per observer. Contenders: ``MAPOptimizer.fit``
   8 times (sequential) and ``MAPOptimizer.fit_many`` once (batched), both
   with each observer's own seed (the same prior-draw start), at N = 1,000
   and 6,000.
2. **Bootstrap.** One 2,000-trial observer: the full-data fit then a loop of
   ``MAPOptimizer.fit`` on resampled trials from that fit (sequential, the
   same resamples as the package's), against ``pn.bootstrap(model, data, R,
   method="optimizer", batch_size=B)`` for a few B, and against the default
   ``pn.bootstrap(model, data, R)`` (Gauss-Newton refits from the full-data
   MAP), timed whole for all 120 replicates.
3. **Devices.** ``fit_many`` of the 8 observers in child processes with
   ``XLA_FLAGS=--xla_force_host_platform_device_count=K`` and
   ``JAX_PLATFORMS=cpu``, for K = 1, 2, 4 (``devices=None``: all K).

On a GPU (``jax.devices()[0].platform == "gpu"``) rows 1 and 2 run there: the
script forces CPU only for the device-count rows.

MAP settings (Hong et al.'s): per-trial mean objective (the full WPPM's
``reduction="mean"``), ``MAPOptimizer(learning_rate=1e-4, momentum=0.2)``,
1,500 steps. **The timed runs take fewer steps** (``--steps-small``,
``--steps-large``, ``--boot-steps``) and are projected to 1,500 steps
linearly: every call is timed cold (a first call: tracing and XLA
compilation included, what a user pays in a fresh session) and warm (the same
call again, nothing compiled), and

    projected = cold + (1,500 - steps) x warm / steps

for wall and CPU time alike (the steps are a fixed-cost ``lax.scan``, the
compile is paid once). A bootstrap is projected as its full-data fit (so
projected) plus one cold batch plus the other batches warm, each scaled to
1,500 steps. CPU time is the process's (``time.process_time``, all threads).

Run ``python benchmarks/many_observers.py`` (``--quick`` for a small check,
``--full`` to fit all 120 bootstrap replicates in the batched row).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import statistics
import sys
import tempfile
import time
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg
from hong_fit import CompileLog

LEARNING_RATE, MOMENTUM = 1e-4, 0.2  # Hong et al.'s MAP settings
TARGET_STEPS = 1500
NUM_REPLICATES = 120
SPREAD = (0.97, 1.035)  # observers' trial counts: N times this range
DISTANCE = (1.5, 4.0)  # Mahalanobis distances of the comparisons
BOX = 0.7  # references uniform in [-BOX, BOX]^2
BOOT_SEED = 0


# -----------------------------------------------------------------------------
# the study
# -----------------------------------------------------------------------------
def make_model():
    import psyphy_numpyro as pn

    task = pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature"))
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=4), task)


def observer_sizes(num_trials: int, num_observers: int) -> list[int]:
    """Trial counts that differ by a few percent, as real observers' do."""
    import numpy as np

    factors = np.linspace(*SPREAD, num_observers) if num_observers > 1 else [1.0]
    return [round(float(num_trials * f)) for f in factors]


def simulate_observer(model, index: int, num_trials: int):
    """Observer ``index``: its own prior-drawn ``W``, trials near its thresholds."""
    import jax
    import numpy as np

    import psyphy_numpyro as pn

    truth = model.init_params(jax.random.PRNGKey(1000 + index))
    rng = np.random.default_rng(index)
    ref = rng.uniform(-BOX, BOX, (num_trials, 2)).astype(np.float32)
    chol = np.linalg.cholesky(
        np.asarray(model.local_covariance(truth, ref), np.float64)
    )
    angle = rng.uniform(0.0, 2.0 * np.pi, num_trials)
    distance = rng.uniform(*DISTANCE, num_trials)
    step = np.einsum("nij,nj->ni", chol, np.stack([np.cos(angle), np.sin(angle)], -1))
    probe = np.clip(ref + distance[:, None] * step, -1.0, 1.0).astype(np.float32)
    y = pn.simulate_responses(
        jax.random.PRNGKey(2000 + index), model, truth, ref, probe
    )
    return ref, probe, np.asarray(y, np.int32)


def make_problem(path: str, sizes: list[int], first_index: int = 0) -> None:
    """Simulate observers of ``sizes`` trials and save them in one ``.npz``."""
    import numpy as np

    model = make_model()
    parts = [simulate_observer(model, first_index + s, n) for s, n in enumerate(sizes)]
    np.savez(
        path,
        sizes=np.asarray(sizes),
        **{
            k: np.concatenate([p[i] for p in parts])
            for i, k in enumerate(("ref", "probe", "y"))
        },
    )


def load_datasets(path: str) -> list:
    import numpy as np

    import psyphy_numpyro as pn

    p = dict(np.load(path))
    bounds = np.cumsum([0, *p["sizes"]])
    return [
        pn.TrialData(np.stack([p["ref"][a:b], p["probe"][a:b]], 1), p["y"][a:b])
        for a, b in itertools.pairwise(bounds)
    ]


def make_optimizer(steps: int):
    import psyphy_numpyro as pn

    return pn.MAPOptimizer(
        steps=steps,
        learning_rate=LEARNING_RATE,
        momentum=MOMENTUM,
        show_progress=False,
        track_history=False,
    )


# -----------------------------------------------------------------------------
# workers (fresh processes)
# -----------------------------------------------------------------------------
def timed(log: CompileLog, fn) -> tuple:
    """``fn()`` with its wall and CPU seconds and the compilations it ran."""
    c0, s0 = log.snapshot()
    cpu, wall = time.process_time(), time.perf_counter()
    out = fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    c1, s1 = log.snapshot()
    return out, {
        "wall_s": wall,
        "cpu_s": cpu,
        "compiles": c1 - c0,
        "compile_s": s1 - s0,
    }


def platform_info() -> dict:
    import jax

    return {
        "platform": jax.devices()[0].platform,
        "device_count": jax.device_count(),
        "device": str(jax.devices()[0].device_kind),
    }


def observers_worker(args) -> dict:
    """8 fits, sequential (``fit`` in a loop) or batched (``fit_many``): cold, then warm."""
    import numpy as np

    datasets = load_datasets(args.problem)
    model, opt = make_model(), make_optimizer(args.steps)
    log = CompileLog()
    seeds = list(range(len(datasets)))

    def run():
        if args.mode == "seq":
            posts = [opt.fit(model, d, seed=s) for s, d in zip(seeds, datasets)]
        else:
            posts = opt.fit_many(model, datasets, seed=seeds)
        return [np.asarray(p.params["W"]) for p in posts], posts

    (W, posts), cold = timed(log, run)
    warm = [timed(log, run)[1] for _ in range(args.repeats)]
    out = {
        "cold": cold,
        "warm": warm,
        "steps": args.steps,
        "sizes": [len(d.responses) for d in datasets],
        "W": np.stack(W).tolist(),
        "loss_first_last": [[float(p.losses[0]), float(p.losses[-1])] for p in posts],
        **platform_info(),
        "peak_rss_mib": fg.peak_rss_mib(),
    }
    if args.mode == "many":
        from psyphy_numpyro.core.infer.map_many import device_layout

        mesh = device_layout(len(datasets), max(out["sizes"])).mesh
        out["mesh"] = (
            "x".join(map(str, mesh.shape.values())) if mesh is not None else "none"
        )
    return out


def boot_seq_worker(args) -> dict:
    """The full-data fit, then ``--replicates`` single fits of resampled trials."""
    import numpy as np

    import psyphy_numpyro as pn
    from psyphy_numpyro.core.infer.bootstrap import bootstrap_indices
    from psyphy_numpyro.core.keys import bootstrap_keys

    data = load_datasets(args.problem)[0]
    model, opt = make_model(), make_optimizer(args.steps)
    log = CompileLog()
    full, full_t = timed(log, lambda: opt.fit(model, data, seed=BOOT_SEED))
    stimuli, responses = np.asarray(data.stimuli), np.asarray(data.responses)
    rows = bootstrap_indices(
        bootstrap_keys(BOOT_SEED, args.replicates).resample, len(responses)
    )
    refits, W = [], []
    for r in range(args.replicates):
        resampled = pn.TrialData(stimuli[rows[r]], responses[rows[r]])
        post, t = timed(log, lambda d=resampled: opt.fit(model, d, init_params=full))
        refits.append(t)
        W.append(np.asarray(post.params["W"]).tolist())
    return {
        "full": full_t,
        "refits": refits,
        "W": W,
        "steps": args.steps,
        "full_W": np.asarray(full.params["W"]).tolist(),
        **platform_info(),
        "peak_rss_mib": fg.peak_rss_mib(),
    }


def boot_many_worker(args) -> dict:
    """``pn.bootstrap`` with ``batch_size``; each batch's ``fit_map_many`` call is timed."""
    import jax
    import numpy as np

    import psyphy_numpyro as pn
    import psyphy_numpyro.core.infer.bootstrap as core_bootstrap

    data = load_datasets(args.problem)[0]
    model, opt = make_model(), make_optimizer(args.steps)
    log = CompileLog()
    batches = []
    original = core_bootstrap.fit_map_many

    def timed_batch(*a, **kw):  # the instrument: time each batch the bootstrap runs
        result, t = timed(log, lambda: jax.block_until_ready(original(*a, **kw)))
        batches.append(t)
        return result

    core_bootstrap.fit_map_many = timed_batch
    try:
        boot, total = timed(
            log,
            lambda: pn.bootstrap(
                model,
                data,
                args.replicates,
                seed=BOOT_SEED,
                optimizer=opt,
                batch_size=args.batch,
                method="optimizer",
            ),
        )
    finally:
        core_bootstrap.fit_map_many = original
    rest = {k: total[k] - sum(b[k] for b in batches) for k in total}
    return {
        "total": total,
        "batches": batches,
        "full_and_rest": rest,
        "steps": args.steps,
        "batch": args.batch,
        "replicates": args.replicates,
        "W": np.asarray(boot.samples["W"][: min(4, args.replicates)]).tolist(),
        "full_W": np.asarray(boot.fit.params["W"]).tolist()
        if hasattr(boot, "fit")
        else None,
        **platform_info(),
        "peak_rss_mib": fg.peak_rss_mib(),
    }


def boot_newton_worker(args) -> dict:
    """``pn.bootstrap(method="newton")`` of all ``--replicates``, timed whole (no projection).

    The full-data fit runs its full :data:`TARGET_STEPS` optimizer steps; the
    Newton refits are timed by wrapping ``newton_bootstrap``.
    """
    import importlib

    import numpy as np

    import psyphy_numpyro as pn

    # the module (the package's ``bootstrap`` attribute is the function)
    facade = importlib.import_module("psyphy_numpyro.inference.bootstrap")

    data = load_datasets(args.problem)[0]
    model, opt = make_model(), make_optimizer(TARGET_STEPS)
    log = CompileLog()
    timings = {}
    original = facade.newton_bootstrap

    def timed_refits(*a, **kw):
        result, timings["refits"] = timed(log, lambda: original(*a, **kw))
        return result

    facade.newton_bootstrap = timed_refits
    try:
        boot, total = timed(
            log,
            lambda: pn.bootstrap(
                model, data, args.replicates, seed=BOOT_SEED, optimizer=opt, method="newton"
            ),
        )
    finally:
        facade.newton_bootstrap = original
    # each replicate's loss before its last Newton step, and the step's fall
    last_fall = [float(loss[-2] - loss[-1]) for loss in boot.losses]
    W = np.asarray(boot.samples["W"])
    return {
        "total": total,
        "refits": timings["refits"],
        "replicates": args.replicates,
        "last_step_fall_max": max(last_fall),
        "loss_end_median": float(np.median([loss[-1] for loss in boot.losses])),
        "W_spread": float(np.median(W.std(axis=0)) / np.abs(W).max()),
        **platform_info(),
        "peak_rss_mib": fg.peak_rss_mib(),
    }


def worker_main(args) -> dict:
    warnings.simplefilter("ignore")
    if args.worker == "prepare":
        sizes = [int(x) for x in args.sizes.split(",")]
        make_problem(args.problem, sizes, args.first_index)
        return {}
    return {
        "observers": observers_worker,
        "boot_seq": boot_seq_worker,
        "boot_many": boot_many_worker,
        "boot_newton": boot_newton_worker,
    }[args.worker](args)


# -----------------------------------------------------------------------------
# driver
# -----------------------------------------------------------------------------
def median_of(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def project(cold: dict, warm_wall: float, warm_cpu: float, steps: int) -> tuple:
    """Cold time at ``steps`` steps, continued warm to :data:`TARGET_STEPS`."""
    extra = (TARGET_STEPS - steps) / steps
    return cold["wall_s"] + extra * warm_wall, cold["cpu_s"] + extra * warm_cpu


def project_observers(r: dict) -> dict:
    wall, cpu = median_of(r["warm"], "wall_s"), median_of(r["warm"], "cpu_s")
    pw, pc = project(r["cold"], wall, cpu, r["steps"])
    return {"warm_wall": wall, "warm_cpu": cpu, "proj_wall": pw, "proj_cpu": pc}


def project_bootstrap_seq(r: dict, num: int) -> dict:
    """Full-data fit (projected) + ``num`` refits, each warm and scaled."""
    wall = statistics.median(t["wall_s"] for t in r["refits"])
    cpu = statistics.median(t["cpu_s"] for t in r["refits"])
    scale = TARGET_STEPS / r["steps"]
    fw, fc = project(r["full"], wall, cpu, r["steps"])
    return {
        "refit_wall": wall,
        "refit_cpu": cpu,
        "full_wall": fw,
        "full_cpu": fc,
        "proj_wall": fw + num * wall * scale,
        "proj_cpu": fc + num * cpu * scale,
    }


def project_bootstrap_many(r: dict, num: int, full_warm: tuple) -> dict:
    """Full-data fit (projected with the sequential row's warm refit) + batches."""
    b, steps = r["batches"], r["steps"]
    scale = TARGET_STEPS / steps
    warm = b[1:] or b  # without a second batch the cold one stands in (an overestimate)
    wall, cpu = median_of(warm, "wall_s"), median_of(warm, "cpu_s")
    num_batches = math.ceil(num / r["batch"])
    bw, bc = project(b[0], wall, cpu, steps)
    fw, fc = project(r["full_and_rest"], *full_warm, steps)
    return {
        "batch_wall": wall,
        "batch_cpu": cpu,
        "num_batches": num_batches,
        "cold_batch_compile_s": b[0]["compile_s"],
        "full_wall": fw,
        "full_cpu": fc,
        "proj_wall": fw + bw + (num_batches - 1) * wall * scale,
        "proj_cpu": fc + bc + (num_batches - 1) * cpu * scale,
        "only_cold_batch": len(b) == 1,
    }


def max_rel_diff(a, b) -> float:
    import numpy as np

    a, b = np.asarray(a), np.asarray(b)
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


def describe_sizes(sizes: list[int]) -> str:
    return f"{len(sizes)} x {min(sizes):,}-{max(sizes):,}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--observers", type=int, default=8)
    parser.add_argument(
        "--trials", default="1000,6000", help="trials per observer, nominal (1000,6000)"
    )
    parser.add_argument(
        "--steps-small",
        type=int,
        default=100,
        help="timed steps at the first --trials size (100)",
    )
    parser.add_argument(
        "--steps-large",
        type=int,
        default=30,
        help="timed steps at the other sizes (30)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=2,
        help="warm repeats at the first size, median taken (2; 1 elsewhere)",
    )
    parser.add_argument("--boot-trials", type=int, default=2000)
    parser.add_argument("--boot-steps", type=int, default=60)
    parser.add_argument("--boot-seq-replicates", type=int, default=3)
    parser.add_argument(
        "--batch-sizes",
        default="4,8,16",
        help="bootstrap batch sizes to measure (4,8,16)",
    )
    parser.add_argument(
        "--boot-replicates",
        type=int,
        default=16,
        help="batched replicates measured: at least this and 2 batches (16)",
    )
    parser.add_argument("--device-counts", default="1,2,4")
    parser.add_argument(
        "--full",
        action="store_true",
        help="batched bootstrap: all 120 replicates (at --boot-steps steps)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="4 observers x 200/600 trials, few steps (a few minutes)",
    )
    parser.add_argument("--json", help="also write every number to this file")
    parser.add_argument(
        "--report",
        metavar="JSON",
        help="print the tables of a saved --json run again, run nothing",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--sizes", help=argparse.SUPPRESS)
    parser.add_argument("--first-index", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--replicates", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        fg.emit(worker_main(args))
        return 0
    if args.report:
        with open(args.report) as fh:
            saved = json.load(fh)
        old = argparse.Namespace(**saved["args"])
        report(
            old,
            saved["machine"],
            saved["load_after"],
            saved["total_s"],
            [int(x) for x in old.trials.split(",")],
            saved["results"],
        )
        return 0
    if args.quick:
        args.observers, args.trials, args.steps_small, args.steps_large = (
            4,
            "200,600",
            20,
            10,
        )
        args.repeats, args.boot_trials, args.boot_steps = 1, 400, 20
        args.boot_seq_replicates, args.batch_sizes, args.boot_replicates = 2, "2,4", 8
        args.device_counts = "1,2"
    if min(args.steps_small, args.steps_large, args.boot_steps) < 10:
        parser.error("steps must be at least 10 (MAPOptimizer's progress_every)")
    trial_sizes = [int(x) for x in args.trials.split(",")]
    batch_sizes = [int(x) for x in args.batch_sizes.split(",")]
    device_counts = [int(x) for x in args.device_counts.split(",")]

    info = fg.machine()
    script = os.path.abspath(__file__)
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        print(
            f"  [{time.perf_counter() - t_start:6.0f} s, load "
            f"{fg.loadavg_str(os.getloadavg())}] {msg}",
            file=sys.stderr,
            flush=True,
        )

    results = {"observers": {}, "boot_seq": None, "boot_many": {}, "boot_newton": None,
               "devices": {}}
    with tempfile.TemporaryDirectory() as tmp:
        problems = {}
        for n in trial_sizes:
            problems[n] = os.path.join(tmp, f"observers_{n}.npz")
            sizes = observer_sizes(n, args.observers)
            say(f"simulating {describe_sizes(sizes)} trials")
            fg.run_worker(
                script,
                [
                    "--worker",
                    "prepare",
                    "--problem",
                    problems[n],
                    "--sizes",
                    ",".join(map(str, sizes)),
                ],
            )
        boot_problem = os.path.join(tmp, "bootstrap.npz")
        fg.run_worker(
            script,
            [
                "--worker",
                "prepare",
                "--problem",
                boot_problem,
                "--sizes",
                str(args.boot_trials),
                "--first-index",
                "100",
            ],
        )

        for i, n in enumerate(trial_sizes):
            steps = args.steps_small if i == 0 else args.steps_large
            repeats = args.repeats if i == 0 else 1
            for mode in ("seq", "many"):
                say(f"observers x {n}: {mode}, {steps} steps")
                results["observers"][f"{n}/{mode}"] = fg.run_worker(
                    script,
                    [
                        "--worker",
                        "observers",
                        "--problem",
                        problems[n],
                        "--mode",
                        mode,
                        "--steps",
                        str(steps),
                        "--repeats",
                        str(repeats),
                    ],
                )

        say(f"bootstrap, sequential: full fit + {args.boot_seq_replicates} refits")
        results["boot_seq"] = fg.run_worker(
            script,
            [
                "--worker",
                "boot_seq",
                "--problem",
                boot_problem,
                "--steps",
                str(args.boot_steps),
                "--replicates",
                str(args.boot_seq_replicates),
            ],
        )
        for b in batch_sizes:
            reps = NUM_REPLICATES if args.full else max(args.boot_replicates, 2 * b)
            say(f"bootstrap, batched: batch_size {b}, {reps} replicates")
            results["boot_many"][b] = fg.run_worker(
                script,
                [
                    "--worker",
                    "boot_many",
                    "--problem",
                    boot_problem,
                    "--steps",
                    str(args.boot_steps),
                    "--replicates",
                    str(reps),
                    "--batch",
                    str(b),
                ],
            )

        reps = NUM_REPLICATES if not args.quick else 8
        say(f"bootstrap, Newton refits: {reps} replicates, whole")
        results["boot_newton"] = fg.run_worker(
            script,
            ["--worker", "boot_newton", "--problem", boot_problem, "--replicates", str(reps)],
        )

        n0 = trial_sizes[0]
        for k in device_counts:
            say(
                f"devices: {k} virtual CPU devices, fit_many of {args.observers} x {n0}"
            )
            flags = (
                f"{os.environ.get('XLA_FLAGS', '')} "
                f"--xla_force_host_platform_device_count={k}".strip()
            )
            results["devices"][k] = fg.run_worker(
                script,
                [
                    "--worker",
                    "observers",
                    "--problem",
                    problems[n0],
                    "--mode",
                    "many",
                    "--steps",
                    str(args.steps_small),
                    "--repeats",
                    str(args.repeats),
                ],
                env={"XLA_FLAGS": flags, "JAX_PLATFORMS": "cpu"},
            )
    load_after = os.getloadavg()
    total_s = time.perf_counter() - t_start
    report(args, info, load_after, total_s, trial_sizes, results)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(
                {
                    "machine": info,
                    "load_after": load_after,
                    "total_s": total_s,
                    "args": vars(args),
                    "results": results,
                },
                fh,
                indent=1,
            )
    return 0


def report(args, info, load_after, total_s, trial_sizes, results) -> None:
    obs = results["observers"]
    first = obs[f"{trial_sizes[0]}/seq"]
    print(
        f"Many observers (issue 16): full WPPM 2-D, basis_degree 4, extra_dims 1, "
        f'estimator="quadrature" (144 nodes); MAPOptimizer(learning_rate={LEARNING_RATE}, '
        f'momentum={MOMENTUM}), reduction "mean"; {first["platform"]} '
        f"({first['device']}, {first['device_count']} device(s))"
    )
    print(fg.describe_machine(info))
    print(
        f"load average (1/5/15 min): before {fg.loadavg_str(info['loadavg'])}, after "
        f"{fg.loadavg_str(load_after)}; whole run {total_s / 60:.1f} min"
    )
    print(
        f"Times projected to {TARGET_STEPS} steps: cold (compile included) + "
        f"({TARGET_STEPS} - steps) x warm / steps. CPU = process CPU time, all threads."
    )

    print(
        "\n1. Observers: MAPOptimizer.fit x S (sequential) against fit_many (batched)\n"
    )
    head = (
        f"{'observers x trials':22s} {'contender':10s} {'steps':>5s} {'cold s':>7s} "
        f"{'cold CPU':>8s} {'compiles':>8s} {'compile s':>9s} {'warm ms/step':>12s} "
        f"{'CPU ms/step':>11s} {f'{TARGET_STEPS} steps s':>13s} {'CPU s':>7s} "
        f"{'x seq (wall)':>12s} {'x seq (CPU)':>11s} {'x seq cold':>10s} {'RSS MiB':>8s}"
    )
    print(head)
    print("-" * len(head))
    for n in trial_sizes:
        seq, many = obs[f"{n}/seq"], obs[f"{n}/many"]
        ps, pm = project_observers(seq), project_observers(many)
        for name, r, p in (("sequential", seq, ps), ("batched", many, pm)):
            steps = r["steps"]
            print(
                f"{describe_sizes(r['sizes']):22s} {name:10s} {steps:5d} "
                f"{r['cold']['wall_s']:7.1f} {r['cold']['cpu_s']:8.1f} "
                f"{r['cold']['compiles']:8d} {r['cold']['compile_s']:9.1f} "
                f"{1e3 * p['warm_wall'] / steps:12.1f} {1e3 * p['warm_cpu'] / steps:11.1f} "
                f"{p['proj_wall']:13.0f} {p['proj_cpu']:7.0f} "
                f"{ps['proj_wall'] / p['proj_wall']:12.2f} {ps['proj_cpu'] / p['proj_cpu']:11.2f} "
                f"{seq['cold']['wall_s'] / r['cold']['wall_s']:10.2f} {r['peak_rss_mib']:8.0f}"
            )
        diff = max(max_rel_diff(a, b) for a, b in zip(many["W"], seq["W"]))
        moved = statistics.median(lf[0] - lf[1] for lf in seq["loss_first_last"])
        print(
            f"{'':22s} batched W vs sequential: max |diff| / max |W| = {diff:.1e}; "
            f"median loss drop over {seq['steps']} steps {moved:.4f} per trial"
        )

    goals = []
    for i, n in enumerate(trial_sizes[:2]):
        ps, pm = project_observers(obs[f"{n}/seq"]), project_observers(obs[f"{n}/many"])
        want = 2.0 if i == 0 else 1.0
        wall, cpu = ps["proj_wall"] / pm["proj_wall"], ps["proj_cpu"] / pm["proj_cpu"]
        goals.append(
            f"goal: batched >= {want:g}x sequential at {n:,} trials: {wall:.2f}x by "
            f"wall, {cpu:.2f}x by CPU ({TARGET_STEPS} steps) -> "
            f"{'met' if min(wall, cpu) >= want else 'not met'}"
        )

    print(
        f"\n2. Bootstrap: {NUM_REPLICATES} refits of one {args.boot_trials:,}-trial observer "
        f"(full-data fit included), projected\n"
    )
    bs = results["boot_seq"]
    pseq = project_bootstrap_seq(bs, NUM_REPLICATES)
    head = (
        f"{'contender':28s} {'measured':>8s} {'steps':>5s} {'full fit s':>10s} "
        f"{'per refit s':>11s} {'CPU s':>7s} {'compile s':>9s} "
        f"{f'{NUM_REPLICATES} refits min':>15s} {'CPU min':>8s} {'x seq (wall)':>12s} "
        f"{'x seq (CPU)':>11s} {'RSS MiB':>8s}"
    )
    print(head)
    print("-" * len(head))
    scale = TARGET_STEPS / bs["steps"]
    print(
        f"{'sequential fit loop':28s} {len(bs['refits']):8d} {bs['steps']:5d} "
        f"{pseq['full_wall']:10.1f} {pseq['refit_wall'] * scale:11.1f} "
        f"{pseq['refit_cpu'] * scale:7.1f} {bs['full']['compile_s']:9.1f} "
        f"{pseq['proj_wall'] / 60:15.1f} {pseq['proj_cpu'] / 60:8.1f} {1.0:12.2f} "
        f"{1.0:11.2f} {bs['peak_rss_mib']:8.0f}"
    )
    full_warm = (pseq["refit_wall"], pseq["refit_cpu"])
    for b, r in results["boot_many"].items():
        p = project_bootstrap_many(r, NUM_REPLICATES, full_warm)
        name = f"pn.bootstrap batch_size={b}" + ("*" if p["only_cold_batch"] else "")
        print(
            f"{name:28s} {r['replicates']:8d} {r['steps']:5d} {p['full_wall']:10.1f} "
            f"{p['batch_wall'] * scale / int(b):11.1f} {p['batch_cpu'] * scale / int(b):7.1f} "
            f"{p['cold_batch_compile_s']:9.1f} {p['proj_wall'] / 60:15.1f} "
            f"{p['proj_cpu'] / 60:8.1f} {pseq['proj_wall'] / p['proj_wall']:12.2f} "
            f"{pseq['proj_cpu'] / p['proj_cpu']:11.2f} {r['peak_rss_mib']:8.0f}"
        )
        common = min(len(r["W"]), len(bs["W"]))
        diff = max(max_rel_diff(r["W"][i], bs["W"][i]) for i in range(common))
        print(
            f"{'':28s} replicates 0-{common - 1} vs the loop's: max |diff| / max |W| = "
            f"{diff:.1e}"
        )

    contenders = [pseq] + [
        project_bootstrap_many(r, NUM_REPLICATES, full_warm)
        for r in results["boot_many"].values()
    ]
    newton = results.get("boot_newton")  # runs saved before it have none
    if newton:
        t, refits = newton["total"], newton["refits"]
        per = refits["wall_s"] / newton["replicates"]
        print(
            f"{'pn.bootstrap method=newton':28s} {newton['replicates']:8d} {'GN':>5s} "
            f"{t['wall_s'] - refits['wall_s']:10.1f} {per:11.2f} "
            f"{refits['cpu_s'] / newton['replicates']:7.2f} {t['compile_s']:9.1f} "
            f"{t['wall_s'] / 60:15.1f} {t['cpu_s'] / 60:8.1f} "
            f"{pseq['proj_wall'] / t['wall_s']:12.2f} {pseq['proj_cpu'] / t['cpu_s']:11.2f} "
            f"{newton['peak_rss_mib']:8.0f}"
        )
        print(
            f"{'':28s} measured whole, not projected: full-data fit of {TARGET_STEPS} "
            f"steps + Newton polish + {newton['replicates']} refits of 20 Gauss-Newton "
            f"steps; largest fall of a replicate's loss at its last step "
            f"{newton['last_step_fall_max']:.1e} per trial; median sd of a W entry / max |W| "
            f"{newton['W_spread']:.3f}"
        )
        if newton["replicates"] == NUM_REPLICATES:
            contenders.append({"proj_wall": t["wall_s"], "proj_cpu": t["cpu_s"]})
    best = min(contenders, key=lambda p: p["proj_wall"])
    goals.append(
        f"goal: {NUM_REPLICATES} refits under 30 min: best {best['proj_wall'] / 60:.1f} "
        f"min wall ({best['proj_cpu'] / 60:.1f} CPU min) -> "
        f"{'met' if best['proj_wall'] < 1800 else 'not met'}"
    )

    print(
        f"\n3. Devices: fit_many of {args.observers} x {trial_sizes[0]:,} on K virtual CPU "
        f"devices (XLA_FLAGS=--xla_force_host_platform_device_count=K)\n"
    )
    head = (
        f"{'K':>3s} {'mesh':>6s} {'cold s':>7s} {'cold CPU':>8s} {'warm ms/step':>12s} "
        f"{'CPU ms/step':>11s} {f'{TARGET_STEPS} steps s':>13s} {'CPU s':>7s} "
        f"{'x K=1 (wall)':>12s} {'x K=1 (warm)':>12s}"
    )
    print(head)
    print("-" * len(head))
    base = None
    for r in results["devices"].values():
        p = project_observers(r)
        base = base or (p, r)
        mesh = r.get("mesh")
        if isinstance(mesh, dict):  # runs saved before the mesh was a string
            mesh = "x".join(map(str, mesh.values()))
        print(
            f"{r['device_count']:3d} {mesh or 'none':>6} {r['cold']['wall_s']:7.1f} "
            f"{r['cold']['cpu_s']:8.1f} {1e3 * p['warm_wall'] / r['steps']:12.1f} "
            f"{1e3 * p['warm_cpu'] / r['steps']:11.1f} {p['proj_wall']:13.0f} "
            f"{p['proj_cpu']:7.0f} {base[0]['proj_wall'] / p['proj_wall']:12.2f} "
            f"{base[0]['warm_wall'] / p['warm_wall']:12.2f}"
        )
    print()
    for line in goals:
        print(line)


if __name__ == "__main__":
    sys.exit(main())
