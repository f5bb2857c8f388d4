"""Seed-scale MAP fit of the MVP WPPM: psyphy_numpyro against a plain JAX loop.

The problem is the seed example's: 400 oddity trials around the reference
(0, 0), true ``log_diag = [log 0.9, log 0.01]``, 1,000 steps of
``optax.sgd(2e-2, momentum=0.9)`` from ``model.init_params(PRNGKey(42))``.

Contenders
----------
plain
    The seed's from-scratch loop in plain JAX + optax (no NumPyro): a jitted
    ``value_and_grad`` + optax step, a Python loop of ``steps`` calls, the loss
    pulled to a Python float every 10 steps and at the last step.
plain_fused
    The same maths with the optimizer's init and the whole ``lax.scan`` of
    steps in one ``jax.jit`` (the loss kept every 10 steps): the plain loop at
    its fastest, the reference of issue 17's "within 3x".
psyphy_numpyro
    ``MAPOptimizer(steps, 2e-2, 0.9, track_history=True, log_every=10,
    show_progress=False).fit(model, data, init_params=init)``.
svi_run
    Plain NumPyro: ``SVI(model.numpyro_model, AutoDelta(...), optax.sgd(...),
    Trace_ELBO()).run(key, steps, ref, probe, y, progress_bar=False)``.

Every measurement runs in a fresh Python process (``--worker NAME``), so no
compilation cache is shared. The clock starts after the imports, the data and
the initial values exist (and the JAX backend is up), right before the fit
call, and stops when the fitted parameters are ready
(``block_until_ready``): it includes tracing and compilation. The table gives
the median and the minimum of that wall time over ``--repeats`` processes,
and the ratio of medians to ``plain``. It also gives the process CPU time
(user + system, all threads) over the same interval, which other load on the
machine disturbs much less than the wall time; the load average is printed
before and after the run. A second fit in the same process gives the "warm"
wall time (what a second fit costs once everything the fit can cache is
cached); it is not part of the headline numbers.

Run ``python benchmarks/mvp_map.py`` (``--help`` for the flags).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

CONTENDERS = ("plain", "plain_fused", "psyphy_numpyro", "svi_run")
LABELS = {
    "plain": "plain JAX + optax loop",
    "plain_fused": "plain JAX, fused (one jit)",
    "psyphy_numpyro": "psyphy_numpyro MAPOptimizer",
    "svi_run": "numpyro SVI.run",
}

# The seed example's settings.
TRUE_LOG_DIAG = (math.log(0.9), math.log(0.01))
MAX_RADIUS = 0.25
SLOPE = 1.5
PRIOR_SCALE = 0.5
DIAG_TERM = 1e-6
LEARNING_RATE = 2e-2
MOMENTUM = 0.9
LOG_EVERY = 10
INIT_SEED = 42


# ---------------------------------------------------------------------------
# data (computed once, in a worker of its own, shared through an .npz file)
# ---------------------------------------------------------------------------
def make_problem(num_trials: int, path: str) -> None:
    """Simulate the seed's data with numpy ``default_rng(0)`` and save it with the init."""
    import numpy as np

    # The seed draws angle, radius and the answer's uniform trial by trial, in
    # that order; doing the same reproduces its data set.
    rng = np.random.default_rng(0)
    var = np.exp(np.asarray(TRUE_LOG_DIAG)) + DIAG_TERM
    ref = np.zeros((num_trials, 2))
    probe = np.empty((num_trials, 2))
    y = np.empty(num_trials, dtype=np.int32)
    for i in range(num_trials):
        angle = rng.uniform(0.0, 2.0 * np.pi)
        radius = rng.uniform(0.0, MAX_RADIUS)
        probe[i] = ref[i] + radius * np.array([np.cos(angle), np.sin(angle)])
        d = np.sqrt(np.sum((probe[i] - ref[i]) ** 2 / var))
        p = 1.0 / 3.0 + (2.0 / 3.0) * 0.5 * (np.tanh(SLOPE * d) + 1.0)
        y[i] = int(rng.uniform() < p)

    import jax

    from psyphy_numpyro import WPPM, OddityTask, Prior

    model = WPPM(input_dim=2, prior=Prior.default(2, scale=PRIOR_SCALE), task=OddityTask(SLOPE))
    init = np.asarray(model.init_params(jax.random.PRNGKey(INIT_SEED))["log_diag"])
    np.savez(path, ref=ref, probe=probe, y=y, init=init)


# ---------------------------------------------------------------------------
# workers: one fit (plus a warm repeat) per fresh process
# ---------------------------------------------------------------------------
def _fit_plain(problem, steps, fused=False):
    """Return a function running the seed's from-scratch loop (no NumPyro).

    With ``fused``, the optimizer's init and all the steps are one ``jax.jit``
    (a ``lax.scan``), the loss kept every ``LOG_EVERY`` steps.
    """
    import jax
    import jax.numpy as jnp
    import optax

    ref = jnp.asarray(problem["ref"], jnp.float32)
    probe = jnp.asarray(problem["probe"], jnp.float32)
    y = jnp.asarray(problem["y"], jnp.float32)
    delta = probe - ref

    def log_posterior(params):
        log_diag = params["log_diag"]
        cov = jnp.diag(jnp.exp(log_diag)) + DIAG_TERM * jnp.eye(2)
        sol = jnp.linalg.solve(cov, delta.T).T
        d = jnp.sqrt(jnp.sum(delta * sol, axis=-1))
        p = 1.0 / 3.0 + (2.0 / 3.0) * 0.5 * (jnp.tanh(SLOPE * d) + 1.0)
        loglik = jnp.sum(y * jnp.log(p + 1e-9) + (1.0 - y) * jnp.log(1.0 - p + 1e-9))
        prior = -0.5 * jnp.sum(log_diag**2) / PRIOR_SCALE**2
        return loglik + prior

    opt = optax.sgd(learning_rate=LEARNING_RATE, momentum=MOMENTUM)

    def loss_fn(params):
        return -log_posterior(params)

    if fused:

        @jax.jit
        def whole(init):  # the optimizer's init and every step in one program
            def body(carry, _):
                params, opt_state = carry
                loss, grads = jax.value_and_grad(loss_fn)(params)
                updates, opt_state = opt.update(grads, opt_state, params)
                return (optax.apply_updates(params, updates), opt_state), loss

            (params, _), losses = jax.lax.scan(body, (init, opt.init(init)), None, length=steps)
            return params, losses[::LOG_EVERY]

        def fit_fused(init):
            params, losses = whole(init)
            losses.block_until_ready()  # read back, as the loop reads its losses
            return params

        return fit_fused

    def fit(init):
        @jax.jit
        def step(params, opt_state):
            loss, grads = jax.value_and_grad(loss_fn)(params)
            updates, opt_state = opt.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state, loss

        params = init
        opt_state = opt.init(params)
        loss_iters, loss_values = [], []
        for i in range(steps):
            params, opt_state, loss = step(params, opt_state)
            if i % LOG_EVERY == 0 or i == steps - 1:
                loss_iters.append(i)
                loss_values.append(float(loss))
        return params

    return fit


def _fit_psyphy_numpyro(problem, steps):
    import numpy as np

    from psyphy_numpyro import WPPM, MAPOptimizer, OddityTask, Prior, TrialData

    model = WPPM(input_dim=2, prior=Prior.default(2, scale=PRIOR_SCALE), task=OddityTask(SLOPE))
    data = TrialData(np.stack([problem["ref"], problem["probe"]], axis=1), problem["y"])

    def fit(init):
        optimizer = MAPOptimizer(
            steps=steps,
            learning_rate=LEARNING_RATE,
            momentum=MOMENTUM,
            track_history=True,
            log_every=LOG_EVERY,
            show_progress=False,
        )
        return optimizer.fit(model, data, init_params=init).params

    return fit


def _fit_svi_run(problem, steps):
    import jax
    import jax.numpy as jnp
    import optax
    from numpyro.infer import SVI, Trace_ELBO
    from numpyro.infer.autoguide import AutoDelta
    from numpyro.infer.initialization import init_to_value

    from psyphy_numpyro import WPPM, OddityTask, Prior

    model = WPPM(input_dim=2, prior=Prior.default(2, scale=PRIOR_SCALE), task=OddityTask(SLOPE))
    ref = jnp.asarray(problem["ref"], jnp.float32)
    probe = jnp.asarray(problem["probe"], jnp.float32)
    y = jnp.asarray(problem["y"], jnp.int32)

    def fit(init):
        guide = AutoDelta(model.numpyro_model, init_loc_fn=init_to_value(values=init))
        svi = SVI(
            model.numpyro_model,
            guide,
            optax.sgd(LEARNING_RATE, momentum=MOMENTUM),
            Trace_ELBO(),
        )
        result = svi.run(jax.random.PRNGKey(0), steps, ref, probe, y, progress_bar=False)
        return guide.median(result.params)

    return fit


FITTERS = {
    "plain": _fit_plain,
    "plain_fused": lambda problem, steps: _fit_plain(problem, steps, fused=True),
    "psyphy_numpyro": _fit_psyphy_numpyro,
    "svi_run": _fit_svi_run,
}


def run_worker(name: str, problem_path: str, steps: int, warm: bool, log_compiles: bool) -> None:
    """Time one cold fit (and optionally a warm one); print one JSON line."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    problem = dict(np.load(problem_path))
    fit = FITTERS[name](problem, steps)
    # The initial values as device arrays: this also starts the JAX backend,
    # so that no contender pays for it inside the clock.
    init = {"log_diag": jnp.asarray(problem["init"], jnp.float32)}
    jax.block_until_ready(init)

    if log_compiles:
        jax.config.update("jax_log_compiles", True)
    c0, t0 = time.process_time(), time.perf_counter()
    params = jax.block_until_ready(fit(init))
    cold = time.perf_counter() - t0
    cpu = time.process_time() - c0

    out = {
        "name": name,
        "cold_s": cold,
        "cpu_s": cpu,
        "log_diag": np.asarray(params["log_diag"], dtype=float).tolist(),
    }
    if warm:
        t0 = time.perf_counter()
        jax.block_until_ready(fit(init))
        out["warm_s"] = time.perf_counter() - t0
    print("RESULT " + json.dumps(out), flush=True)


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------
def _run_subprocess(args: list[str]) -> str:
    cmd = [sys.executable, os.path.abspath(__file__), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"worker failed: {' '.join(args)}")
    return proc.stdout


def _environment() -> str:
    import platform

    versions = {}
    for mod in ("jax", "jaxlib", "numpyro", "optax"):
        try:
            versions[mod] = __import__(mod).__version__
        except Exception:  # pragma: no cover - informational only
            versions[mod] = "?"
    cpus = os.cpu_count()
    return (
        f"python {platform.python_version()}, "
        + ", ".join(f"{k} {v}" for k, v in versions.items())
        + f", {cpus} CPUs ({platform.processor() or platform.machine()})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5, help="fresh processes per contender (5)")
    parser.add_argument("--trials", type=int, default=400, help="number of trials (400)")
    parser.add_argument("--steps", type=int, default=1000, help="optimiser steps (1000)")
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    parser.add_argument(
        "--no-warm", action="store_true", help="skip the second (warm) fit in each process"
    )
    parser.add_argument("--worker", choices=(*CONTENDERS, "prepare"), help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-compiles",
        action="store_true",
        help="with --worker: turn on jax_log_compiles around the timed fit",
    )
    args = parser.parse_args(argv)

    if args.worker == "prepare":
        make_problem(args.trials, args.problem)
        return 0
    if args.worker:
        run_worker(args.worker, args.problem, args.steps, not args.no_warm, args.log_compiles)
        return 0

    contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(contenders) - set(CONTENDERS)
    if unknown or not contenders:
        parser.error(f"unknown contenders: {sorted(unknown)}")
    if args.repeats < 1 or args.trials < 1 or args.steps < 1:
        parser.error("--repeats, --trials and --steps must be positive")

    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory() as tmp:
        problem = os.path.join(tmp, "problem.npz")
        _run_subprocess(["--worker", "prepare", "--trials", str(args.trials), "--problem", problem])
        results: dict[str, list[dict]] = {c: [] for c in contenders}
        # Interleave the contenders so that drift in the machine's load hits
        # them all alike.
        for r in range(args.repeats):
            for name in contenders:
                cmd = ["--worker", name, "--problem", problem, "--steps", str(args.steps)]
                if args.no_warm:
                    cmd.append("--no-warm")
                out = _run_subprocess(cmd)
                line = next(l for l in out.splitlines() if l.startswith("RESULT "))
                results[name].append(json.loads(line[len("RESULT "):]))
                print(f"  repeat {r + 1}/{args.repeats} {name:15s} "
                      f"{results[name][-1]['cold_s']:.3f} s", file=sys.stderr, flush=True)

    print(f"MVP MAP fit: {args.trials} trials, {args.steps} steps, "
          f"{args.repeats} fresh processes per contender")
    print(_environment())
    load_after = os.getloadavg()
    print(
        "load average (1/5/15 min): before "
        + "/".join(f"{x:.2f}" for x in load_before)
        + ", after "
        + "/".join(f"{x:.2f}" for x in load_after)
    )
    print()
    base = statistics.median(x["cold_s"] for x in results["plain"]) if "plain" in results else None
    base_cpu = (
        statistics.median(x["cpu_s"] for x in results["plain"]) if "plain" in results else None
    )
    header = (
        f"{'contender':30s} {'median s':>9s} {'min s':>8s} {'x plain':>8s}"
        f" {'cpu median s':>13s} {'cpu x plain':>12s}"
    )
    if not args.no_warm:
        header += f" {'warm median s':>14s}"
    print(header)
    print("-" * len(header))
    for name in contenders:
        cold = [x["cold_s"] for x in results[name]]
        med = statistics.median(cold)
        ratio = f"{med / base:8.2f}" if base else f"{'n/a':>8s}"
        cpu = statistics.median(x["cpu_s"] for x in results[name])
        cpu_ratio = f"{cpu / base_cpu:12.2f}" if base_cpu else f"{'n/a':>12s}"
        row = f"{LABELS[name]:30s} {med:9.3f} {min(cold):8.3f} {ratio} {cpu:13.3f} {cpu_ratio}"
        if not args.no_warm:
            row += f" {statistics.median(x['warm_s'] for x in results[name]):14.3f}"
        print(row)
    print()
    for name in contenders:
        print(f"{LABELS[name]:30s} log_diag = {results[name][0]['log_diag']}")
    if "plain_fused" in results and "psyphy_numpyro" in results:
        def ratio(key):
            return statistics.median(x[key] for x in results["psyphy_numpyro"]) / statistics.median(
                x[key] for x in results["plain_fused"])

        print(f"psyphy_numpyro against the fused plain loop: {ratio('cold_s'):.2f}x wall, "
              f"{ratio('cpu_s'):.2f}x CPU (cold, medians)")
    if "plain" in results and "psyphy_numpyro" in results:
        diff = max(
            abs(a - b)
            for a, b in zip(results["plain"][0]["log_diag"], results["psyphy_numpyro"][0]["log_diag"])
        )
        print(f"max |plain - psyphy_numpyro| over log_diag: {diff:.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
