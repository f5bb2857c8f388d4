"""Per-gradient time of the full WPPM at Hong et al.'s scale, against psyphy 0.0.5.

The problem is issue 4's: 6,000 oddity trials with 2,000 Monte Carlo samples
each, in 2-D, ``basis_degree=4``, ``extra_dims=1`` (a simulated study: 25
references on a 5 x 5 grid of [-0.8, 0.8]^2, 240 comparisons around each at
uniform directions and distances up to 0.3, so p(correct) runs from chance to
near 1; answers drawn from a prior draw of ``W``).

Contenders (each in a fresh Python process)
-------------------------------------------
psyphy
    psyphy 0.0.5's MAP step: a ``jax.jit`` step of ``value_and_grad`` of
    ``-scale * model.log_posterior_from_data(params, data, key=key)`` and an
    optax update, the data closed over, a fresh key per call (as its
    ``MAPOptimizer.fit`` builds it; ``scale = 1/N``, its ``reduction="mean"``).
ours_psyphy
    The same step on our ``WPPM`` with ``estimator="psyphy"``: psyphy's draws,
    key for key.
mc_fresh
    The same step with ``estimator="mc"``: the reduced-form kernel, fresh
    independent per-trial draws every step (``model.draw_mc_samples(key, N)``
    inside the step: shared points and per-trial rotations).
mc_fixed
    ``value_and_grad`` only, ``estimator="mc"``, draws fixed (an argument).
quadrature
    The same step with ``estimator="quadrature"`` (144 nodes, no draws).
map_optimizer
    The product path: ``MAPOptimizer(optimizer=clipped SGD).fit`` with
    ``estimator="mc"`` (NumPyro SVI, fresh draws each step); time per step of
    a second, compiled, 30-step fit.

Every step uses the same optimizer, ``optax.chain(clip_by_global_norm(1),
sgd(1e-3, momentum=0.9))``. Compilation is timed apart from the steps:
``jit(step).lower(...)`` (tracing and lowering) and ``.compile()`` (XLA); the
steady-state time is the median of ``--repeats`` calls after one warm-up
call. Peak RSS is the worker's ``ru_maxrss``.

Also measured (workers ``parity``, ``flops``, ``peak``): the fast paths'
log-likelihood against psyphy's own (``log_likelihood_from_data`` and its
per-trial p(correct)) over several keys, in units of the Monte Carlo standard
error; the floating-point work of the ``"mc"`` kernel (hand count below, and
XLA's own cost analysis); and this machine's float32 rates for a large matmul
and for fused elementwise multiply-adds, the ceilings the achieved GFLOP/s are
set against.

Floating-point work of the ``"mc"`` kernel
------------------------------------------
Per (trial, sample), in ``oddity_gaussian._value_and_jacobian`` with ``d = 2``
(``2d = 4``), counting a multiply-add as 2 flops:

========================================================  =====
``v = A z`` (4 x 4 matrix-vector)                           28
``w = v_w + g``                                              2
``w.u``, ``|w|^2``, ``|u|^2``                                9
``delta = |w|^2 - |w.u| - 0.75 |u|^2``                       4
``s = sigmoid(delta / h)`` (+ 1 ``exp``)                      3
running mean of ``s``                                        1
``k = s (1 - s) / (h S)``, ``sign(w.u)``                     4
``grad_v`` (4 components, 4 flops each)                     16
``dA += grad_v z^T`` (4 x 4 outer product, accumulated)     32
``dg += grad_v_w``                                           2
total                                                      101
========================================================  =====

so one gradient at 6,000 x 2,000 is about 1.2 GFLOP plus 12 M ``exp``; the
per-trial work around it (basis, ``U(x)``, Cholesky factors, rotations) is
under 1 %.

Run ``python benchmarks/full_gradient.py`` (``--quick`` for a small trial run,
``--help`` for the flags). Other scripts of this folder import the helpers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# -- the study (Hong et al.'s shapes) -----------------------------------------
INPUT_DIM = 2
BASIS_DEGREE = 4
EXTRA_DIMS = 1
BANDWIDTH = 1e-2
NUM_REFS = 25  # 5 x 5 grid of references in [-0.8, 0.8]^2
MAX_DISTANCE = 0.3  # comparisons up to this far: p from chance to ~1
TRUTH_SEED, DESIGN_SEED, ANSWER_SEED, INIT_SEED = 1, 2, 3, 42
LEARNING_RATE = 1e-3
MOMENTUM = 0.9
MAX_GRAD_NORM = 1.0

FLOPS_PER_TRIAL_SAMPLE = 101  # hand count above (multiply-add = 2)
EXP_PER_TRIAL_SAMPLE = 1

CONTENDERS = (
    "psyphy",
    "ours_psyphy",
    "mc_fresh",
    "mc_fixed",
    "quadrature",
    "map_optimizer",
)
LABELS = {
    "psyphy": "psyphy 0.0.5 MAP step",
    "ours_psyphy": 'ours, estimator="psyphy", step',
    "mc_fresh": 'ours, "mc", fresh draws, step',
    "mc_fixed": 'ours, "mc", fixed draws, grad',
    "quadrature": 'ours, "quadrature" (144), step',
    "map_optimizer": 'ours, MAPOptimizer.fit, "mc"',
}


# -----------------------------------------------------------------------------
# helpers shared by the benchmark scripts
# -----------------------------------------------------------------------------
def make_problem(num_trials: int, path: str) -> None:
    """Simulate the study and save ``ref``, ``cmp``, ``y``, ``truth``, ``init``."""
    import jax
    import numpy as np

    if num_trials % NUM_REFS:
        raise ValueError(
            f"num_trials must be a multiple of {NUM_REFS}, got {num_trials}."
        )
    from psyphy_numpyro.core.design import (
        comparisons_along_directions,
        reference_points,
    )
    from psyphy_numpyro.core.simulate import simulate_responses

    model = our_model("quadrature", 1)  # exact p(correct) for the answers
    truth = model.init_params(jax.random.PRNGKey(TRUTH_SEED))
    refs = reference_points(NUM_REFS, INPUT_DIM, method="grid")
    ref, cmp = comparisons_along_directions(
        jax.random.PRNGKey(DESIGN_SEED),
        refs,
        num_trials // NUM_REFS,
        min_distance=0.0,
        max_distance=MAX_DISTANCE,
    )
    y = simulate_responses(jax.random.PRNGKey(ANSWER_SEED), model, truth, ref, cmp)
    init = model.init_params(jax.random.PRNGKey(INIT_SEED))
    np.savez(
        path,
        ref=ref,
        cmp=cmp,
        y=y,
        truth=np.asarray(truth["W"]),
        init=np.asarray(init["W"]),
    )


def load_problem(path: str) -> dict:
    import numpy as np

    return dict(np.load(path))


def our_model(estimator: str, num_samples: int, quadrature=(6, 4, 6)):
    """Our full WPPM at the study's settings."""
    from psyphy_numpyro.core.noise import GaussianNoise
    from psyphy_numpyro.core.prior import Prior
    from psyphy_numpyro.core.tasks import OddityTask, OddityTaskConfig
    from psyphy_numpyro.model.wppm import WPPM

    cfg = OddityTaskConfig(
        num_samples=num_samples,
        bandwidth=BANDWIDTH,
        estimator=estimator,
        quadrature=tuple(quadrature),
    )
    prior = Prior(
        input_dim=INPUT_DIM, basis_degree=BASIS_DEGREE, extra_embedding_dims=EXTRA_DIMS
    )
    return WPPM(
        prior,
        OddityTask(config=cfg),
        GaussianNoise(),
        input_dim=INPUT_DIM,
        extra_dims=EXTRA_DIMS,
    )


def psyphy_model(num_samples: int):
    """psyphy 0.0.5's full WPPM at the same settings (its defaults for the prior)."""
    from psyphy.model import WPPM, GaussianNoise, OddityTask, OddityTaskConfig, Prior

    prior = Prior(
        input_dim=INPUT_DIM, basis_degree=BASIS_DEGREE, extra_embedding_dims=EXTRA_DIMS
    )
    task = OddityTask(
        config=OddityTaskConfig(num_samples=num_samples, bandwidth=BANDWIDTH)
    )
    return WPPM(
        prior, task, GaussianNoise(), input_dim=INPUT_DIM, extra_dims=EXTRA_DIMS
    )


def psyphy_data(problem: dict):
    import jax.numpy as jnp
    import numpy as np
    from psyphy.data import TrialData

    stimuli = np.stack([problem["ref"], problem["cmp"]], axis=1).astype(np.float32)
    return TrialData(stimuli=jnp.asarray(stimuli), responses=jnp.asarray(problem["y"]))


def our_trials(problem: dict):
    import jax.numpy as jnp

    from psyphy_numpyro.core.trials import Trials

    return Trials(
        jnp.asarray(problem["ref"], jnp.float32),
        jnp.asarray(problem["cmp"], jnp.float32),
        jnp.asarray(problem["y"], jnp.int32),
    )


def clipped_sgd():
    import optax

    return optax.chain(
        optax.clip_by_global_norm(MAX_GRAD_NORM),
        optax.sgd(LEARNING_RATE, momentum=MOMENTUM),
    )


def map_step(model, data, optimizer, scale):
    """psyphy 0.0.5's MAP step for any model with ``log_posterior_from_data``.

    Written from its documented behaviour: ``value_and_grad`` of ``-scale *
    log_posterior_from_data(params, data, key=key)`` and an optax update, in
    one ``jax.jit`` with ``model``, ``data`` and ``scale`` closed over.
    """
    import jax
    import optax

    def step(params, opt_state, key):
        loss, grads = jax.value_and_grad(
            lambda p: -scale * model.log_posterior_from_data(p, data, key=key)
        )(params)
        updates, opt_state = optimizer.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state, loss

    return step


def peak_rss_mib() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def compile_and_time(fn, args, next_args, repeats: int) -> dict:
    """Lower, compile and time ``jax.jit(fn)``.

    ``next_args(outputs, args)`` gives the arguments of the next call (e.g. the
    updated parameters and a new key), so a step can be chained.
    """
    import jax

    t0 = time.perf_counter()
    lowered = jax.jit(fn).lower(*args)
    t1 = time.perf_counter()
    compiled = lowered.compile()
    t2 = time.perf_counter()
    out = jax.block_until_ready(compiled(*args))  # warm-up call
    t3 = time.perf_counter()
    times, cpu = [], []
    for _ in range(repeats):
        args = next_args(out, args)
        jax.block_until_ready(args)
        c, t = time.process_time(), time.perf_counter()
        out = jax.block_until_ready(compiled(*args))
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    return {
        "cpu_s": cpu,
        "cpu_median_s": statistics.median(cpu),
        "trace_lower_s": t1 - t0,
        "xla_compile_s": t2 - t1,
        "first_call_s": t3 - t2,
        "times_s": times,
        "median_s": statistics.median(times),
        "min_s": min(times),
    }


def machine() -> dict:
    """nproc, CPU model, versions and the load average now."""
    import importlib.metadata as md

    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                l.split(":", 1)[1].strip() for l in f if l.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    versions = {}
    for name in ("jax", "jaxlib", "numpyro", "optax", "psyphy"):
        try:
            versions[name] = md.version(name)
        except md.PackageNotFoundError:
            versions[name] = "not installed"
    try:
        commit = subprocess.run(
            ["git", "-C", HERE, "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    except OSError:
        commit = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "versions": versions,
        "loadavg": os.getloadavg(),
        "commit": commit,
    }


def platforms(requested: str) -> list[str]:
    """The JAX platforms to time on: every one present for ``"all"``, else those
    named (comma-separated), each checked to be present."""
    import jax

    present = []
    for name in ("cpu", "gpu", "tpu"):
        try:
            jax.devices(name)
        except RuntimeError:  # no such backend here
            continue
        present.append(name)
    names = present if requested == "all" else requested.split(",")
    missing = [n for n in names if n not in present]
    if missing:
        raise SystemExit(f"--platforms: {', '.join(missing)} not present here "
                         f"(present: {', '.join(present)}).")
    return names


def describe_machine(info: dict) -> str:
    v = ", ".join(f"{k} {x}" for k, x in info["versions"].items())
    return (
        f"{info['nproc']} CPUs ({info['cpu']}), python {info['python']}, {v}, "
        f"psyphy_numpyro at {info['commit']}"
    )


def loadavg_str(load) -> str:
    return "/".join(f"{x:.2f}" for x in load)


def run_worker(
    script: str,
    args: list[str],
    timeout: float | None = None,
    env: dict | None = None,
) -> dict:
    """Run ``script --worker ...`` in a fresh process; return its RESULT json.

    ``env`` adds environment variables; past ``timeout`` seconds the worker is
    killed and ``subprocess.TimeoutExpired`` raised.
    """
    cmd = [sys.executable, script, *args]
    t = time.perf_counter()
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**os.environ, **(env or {})},
    )
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"worker failed (exit {proc.returncode}): {' '.join(args)}")
    line = next((l for l in proc.stdout.splitlines() if l.startswith("RESULT ")), None)
    if line is None:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-4000:])
        raise SystemExit(f"worker printed no RESULT: {' '.join(args)}")
    out = json.loads(line[len("RESULT ") :])
    out["process_wall_s"] = time.perf_counter() - t
    return out


def emit(result: dict) -> None:
    print("RESULT " + json.dumps(result), flush=True)


# -----------------------------------------------------------------------------
# workers
# -----------------------------------------------------------------------------
def _step_worker(name: str, problem: dict, num_samples: int, repeats: int) -> dict:
    import jax
    import jax.numpy as jnp

    n = problem["y"].shape[0]
    scale = 1.0 / n
    optimizer = clipped_sgd()
    params = {"W": jnp.asarray(problem["init"], jnp.float32)}
    if name == "psyphy":
        model, data = psyphy_model(num_samples), psyphy_data(problem)
    else:
        estimator = {
            "ours_psyphy": "psyphy",
            "mc_fresh": "mc",
            "mc_fixed": "mc",
            "quadrature": "quadrature",
        }[name]
        model, data = our_model(estimator, num_samples), our_trials(problem)

    if name == "mc_fixed":

        def grad(params, noise):
            def loss(p):
                ll = jnp.sum(model.log_likelihood(p, data, noise))
                return -scale * (ll + model.prior.log_prob(p))

            return jax.value_and_grad(loss)(params)

        mc_samples = model.draw_mc_samples(jax.random.PRNGKey(0), n)
        return compile_and_time(grad, (params, noise), lambda out, a: a, repeats)

    step = map_step(model, data, optimizer, scale)
    key = jax.random.PRNGKey(0)

    def next_args(out, args):
        new_key, _ = jax.random.split(args[2])
        return out[0], out[1], new_key

    return compile_and_time(
        step, (params, optimizer.init(params), key), next_args, repeats
    )


def _map_optimizer_worker(problem: dict, num_samples: int, steps: int) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from psyphy_numpyro.core.trials import TrialData
    from psyphy_numpyro.inference.map_optimizer import MAPOptimizer

    model = our_model("mc", num_samples)
    data = TrialData(np.stack([problem["ref"], problem["cmp"]], 1), problem["y"])
    init = {"W": jnp.asarray(problem["init"], jnp.float32)}
    opt = MAPOptimizer(
        steps=steps, optimizer=clipped_sgd(), show_progress=False, track_history=False
    )
    walls, cpus = [], []
    for _ in range(3):  # the first includes compilation
        c, t = time.process_time(), time.perf_counter()
        fit = opt.fit(model, data, init_params=init, seed=0)
        jax.block_until_ready(fit.params)
        walls.append(time.perf_counter() - t)
        cpus.append(time.process_time() - c)
    per_step = statistics.median(walls[1:]) / steps
    return {
        "median_s": per_step,
        "cpu_median_s": statistics.median(cpus[1:]) / steps,
        "min_s": min(walls[1:]) / steps,
        "first_fit_s": walls[0],
        "warm_fit_s": walls[1:],
        "steps": steps,
        "compile_s": walls[0] - statistics.median(walls[1:]),
    }


def _parity_worker(problem: dict, num_samples: int, num_keys: int) -> dict:
    """Fast paths' log-likelihood and p(correct) against psyphy's own."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    params = {"W": jnp.asarray(problem["init"], jnp.float32)}
    y = np.asarray(problem["y"], float)
    n = y.shape[0]
    theirs, data = psyphy_model(num_samples), psyphy_data(problem)
    trials = our_trials(problem)
    stimuli = data.stimuli

    @jax.jit
    def psyphy_p(params, key):
        # psyphy's loglik: one subkey per trial, its predict vmapped over trials
        keys = jax.random.split(key, n)
        return jax.vmap(
            lambda s, k: theirs.likelihood.predict(params, s, theirs, key=k)
        )(stimuli, keys)

    def loglik(p):
        p = np.asarray(p, float)
        return float(np.sum(y * np.log(p) + (1 - y) * np.log1p(-p)))

    keys = jax.random.split(jax.random.PRNGKey(2024), 2 * num_keys)
    p_ps = np.stack([np.asarray(psyphy_p(params, k)) for k in keys[:num_keys]])
    psyphy_total = float(theirs.log_likelihood_from_data(params, data, key=keys[0]))

    same = our_model("psyphy", num_samples)
    ours_same_key = float(same.log_likelihood_from_data(params, trials, key=keys[0]))

    mc = our_model("mc", num_samples)
    mc_p = jax.jit(
        lambda params, key: mc.p_correct(
            params, trials.ref, trials.probe, mc.draw_mc_samples(key, n)
        )
    )
    p_mc = np.stack([np.asarray(mc_p(params, k)) for k in keys[num_keys:]])
    quad = our_model("quadrature", num_samples)
    p_quad = np.asarray(jax.jit(quad.p_correct)(params, trials.ref, trials.probe))

    ll_ps = np.array([loglik(p) for p in p_ps])
    ll_mc = np.array([loglik(p) for p in p_mc])
    r = num_keys
    se_diff = float(np.sqrt(ll_ps.var(ddof=1) / r + ll_mc.var(ddof=1) / r))
    # per trial: mean p over the keys; expected rms difference from the
    # per-trial Monte Carlo variances
    var_ps, var_mc = p_ps.var(axis=0, ddof=1), p_mc.var(axis=0, ddof=1)
    rms_mc = float(np.sqrt(np.mean((p_mc.mean(0) - p_ps.mean(0)) ** 2)))
    rms_mc_expected = float(np.sqrt(np.mean((var_ps + var_mc) / r)))
    rms_quad = float(np.sqrt(np.mean((p_quad - p_ps.mean(0)) ** 2)))
    rms_quad_expected = float(np.sqrt(np.mean(var_ps / r)))
    return {
        "num_keys": r,
        "psyphy_loglik_key0": psyphy_total,
        "ours_psyphy_loglik_key0": ours_same_key,
        "psyphy_loglik_mean": float(ll_ps.mean()),
        "psyphy_loglik_sd": float(ll_ps.std(ddof=1)),
        "mc_loglik_mean": float(ll_mc.mean()),
        "mc_loglik_sd": float(ll_mc.std(ddof=1)),
        "loglik_diff": float(ll_mc.mean() - ll_ps.mean()),
        "loglik_diff_se": se_diff,
        "quad_loglik": loglik(p_quad),
        "rms_p_mc_vs_psyphy": rms_mc,
        "rms_p_mc_expected": rms_mc_expected,
        "rms_p_quad_vs_psyphy": rms_quad,
        "rms_p_quad_expected": rms_quad_expected,
        "p_range": [float(p_quad.min()), float(np.median(p_quad)), float(p_quad.max())],
        # Monte Carlo errors of different trials: independent in psyphy; the sd of
        # sum_i p_i over keys against sqrt(sum_i var_i) shows any correlation
        "sum_p_sd_psyphy": float(p_ps.sum(1).std(ddof=1)),
        "sum_p_sd_psyphy_if_independent": float(np.sqrt(var_ps.sum())),
        "sum_p_sd_mc": float(p_mc.sum(1).std(ddof=1)),
        "sum_p_sd_mc_if_independent": float(np.sqrt(var_mc.sum())),
    }


def _flops_worker(num_samples: int) -> dict:
    """XLA's cost analysis of the "mc" kernel and of one gradient, per (trial, sample)."""
    import jax
    import jax.numpy as jnp

    from psyphy_numpyro.core.oddity import gaussian_mc as og
    from psyphy_numpyro.core.trials import Trials

    chunk = og.default_chunk(num_samples)
    m = 2 * INPUT_DIM
    A = jnp.ones((chunk, m, m)) * 0.1
    g = jnp.ones((chunk, INPUT_DIM)) * 0.1
    points = jnp.ones((m, num_samples))
    kernel = jax.jit(lambda A, g, z: og._value_and_jacobian(A, g, z, BANDWIDTH))
    cost_k = kernel.lower(A, g, points).compile().cost_analysis()

    # one whole gradient at `chunk` trials (one chunk, so no loop to undercount)
    model = our_model("mc", num_samples)
    ref = jnp.zeros((chunk, INPUT_DIM)) + 0.1
    trials = Trials(ref, ref + 0.05, jnp.ones(chunk, jnp.int32))
    params = model.init_params(jax.random.PRNGKey(0))
    mc_samples = model.draw_mc_samples(jax.random.PRNGKey(1), chunk)

    def loss(p):
        return -jnp.sum(model.log_likelihood(p, trials, noise)) - model.prior.log_prob(
            p
        )

    cost_g = jax.jit(jax.grad(loss)).lower(params).compile().cost_analysis()
    if isinstance(cost_k, list):  # older jax returned one dict per device
        cost_k, cost_g = cost_k[0], cost_g[0]
    per = chunk * num_samples
    return {
        "kernel_flops_per_ts": cost_k.get("flops", float("nan")) / per,
        "kernel_transcendentals_per_ts": cost_k.get("transcendentals", float("nan"))
        / per,
        "grad_flops_per_ts": cost_g.get("flops", float("nan")) / per,
        "grad_transcendentals_per_ts": cost_g.get("transcendentals", float("nan"))
        / per,
    }


def _peak_worker(size: int, repeats: int, elements: int = 2**22) -> dict:
    """float32 matmul and fused elementwise rates (GFLOP/s) of JAX's default device.

    The elementwise rate is that of 16 independent chains of 8 multiply-adds per
    element of ``elements`` float32 values, which XLA fuses into one vectorised
    loop: the throughput ceiling for elementwise work like the ``"mc"`` kernel's.
    The matmul runs at full float32 precision (no TF32 on GPUs).
    """
    import jax
    import jax.numpy as jnp

    a = jax.random.normal(jax.random.PRNGKey(0), (size, size), jnp.float32)
    b = jax.random.normal(jax.random.PRNGKey(1), (size, size), jnp.float32)
    with jax.default_matmul_precision("float32"):
        res = compile_and_time(jnp.dot, (a, b), lambda out, args: args, repeats)
    flops = 2.0 * size**3
    chains, length = 16, 8

    def fma_chains(x):
        ys = [x + 0.1 * j for j in range(chains)]
        for i in range(length):
            ys = [y * (1.0 - 1e-4 * i) + 1e-3 * (j + 1) for j, y in enumerate(ys)]
        return sum(ys[1:], ys[0])

    x = jax.random.normal(jax.random.PRNGKey(2), (elements,), jnp.float32)
    ew = compile_and_time(fma_chains, (x,), lambda out, args: args, repeats)
    ew_flops = 2.0 * chains * length * x.size
    return {
        "size": size,
        "gflops_median": flops / res["median_s"] / 1e9,
        "gflops_best": flops / res["min_s"] / 1e9,
        "elementwise_gflops_median": ew_flops / ew["median_s"] / 1e9,
        "elementwise_gflops_best": ew_flops / ew["min_s"] / 1e9,
    }


def worker_main(args) -> None:
    if args.worker == "prepare":
        make_problem(args.trials, args.problem)
        emit({})
        return
    if args.worker == "peak":
        emit(_peak_worker(args.matmul_size, max(args.repeats, 5)))
        return
    if args.worker == "flops":
        emit(_flops_worker(args.samples))
        return
    problem = load_problem(args.problem)
    if args.worker == "parity":
        out = _parity_worker(problem, args.samples, args.parity_keys)
    elif args.worker == "map_optimizer":
        out = _map_optimizer_worker(problem, args.samples, args.fit_steps)
    else:
        out = _step_worker(args.worker, problem, args.samples, args.repeats)
    out["peak_rss_mib"] = peak_rss_mib()
    emit(out)


# -----------------------------------------------------------------------------
# driver
# -----------------------------------------------------------------------------
def print_report(args, info, load_after, results, parity, flops, peak) -> None:
    n, s = args.trials, args.samples
    print(
        f"Full WPPM, per gradient: {n} trials x {s} samples, 2-D, basis_degree "
        f"{BASIS_DEGREE}, extra_dims {EXTRA_DIMS}; median of {args.repeats} calls"
    )
    print(describe_machine(info))
    print(
        f"load average (1/5/15 min): before {loadavg_str(info['loadavg'])}, "
        f"after {loadavg_str(load_after)}"
    )
    print()
    base = results.get("psyphy", {}).get("median_s")
    base_cpu = results.get("psyphy", {}).get("cpu_median_s")
    head = (
        f"{'contender':34s} {'median s':>9s} {'min s':>8s} {'x faster':>9s} "
        f"{'CPU s':>8s} {'x (CPU)':>8s} "
        f"{'trace+lower s':>13s} {'XLA s':>7s} {'peak RSS MiB':>12s}"
    )
    print(head)
    print("-" * len(head))
    for name in args.contenders:
        r = results[name]
        ratio = f"{base / r['median_s']:9.1f}" if base else f"{'n/a':>9s}"
        cpu_ratio = (
            f"{base_cpu / r['cpu_median_s']:8.1f}" if base_cpu else f"{'n/a':>8s}"
        )
        ratio += f" {r['cpu_median_s']:8.4f} {cpu_ratio}"
        if name == "map_optimizer":
            comp = f"{'':>13s} {r['compile_s']:7.2f}"  # whole first-fit excess
        else:
            comp = f"{r['trace_lower_s']:13.2f} {r['xla_compile_s']:7.2f}"
        print(
            f"{LABELS[name]:34s} {r['median_s']:9.4f} {r['min_s']:8.4f} {ratio} {comp} "
            f"{r['peak_rss_mib']:12.0f}"
        )
    if "map_optimizer" in results:
        print(
            "  (MAPOptimizer: per step of a compiled 30-step fit, init included; its "
            "compile column is the first fit's extra wall time)"
        )

    if flops:
        print()
        work = FLOPS_PER_TRIAL_SAMPLE * n * s
        print(
            f'floating-point work of the "mc" kernel per (trial, sample): '
            f"{FLOPS_PER_TRIAL_SAMPLE} flops + {EXP_PER_TRIAL_SAMPLE} exp by hand; XLA cost "
            f"analysis: kernel {flops['kernel_flops_per_ts']:.1f} flops + "
            f"{flops['kernel_transcendentals_per_ts']:.2f} transcendentals, whole gradient "
            f"{flops['grad_flops_per_ts']:.1f} flops + "
            f"{flops['grad_transcendentals_per_ts']:.2f} transcendentals"
        )
        print(f"per gradient at {n} x {s}: {work / 1e9:.2f} GFLOP (hand count)")
        if peak:
            print(
                f"this machine, float32: matmul {peak['size']}^2 "
                f"{peak['gflops_median']:.1f} GFLOP/s (median; best "
                f"{peak['gflops_best']:.1f}); fused elementwise multiply-adds "
                f"{peak['elementwise_gflops_median']:.1f} GFLOP/s (best "
                f"{peak['elementwise_gflops_best']:.1f})"
            )
        for name in ("mc_fixed", "mc_fresh"):
            if name in results:
                rate = work / results[name]["median_s"] / 1e9
                frac = ""
                if peak:
                    frac = (
                        f", {100 * rate / peak['gflops_median']:.1f} % of the matmul "
                        f"rate, {100 * rate / peak['elementwise_gflops_median']:.0f} % "
                        "of the elementwise rate"
                    )
                print(f"  {LABELS[name]}: {rate:.1f} GFLOP/s{frac}")
    if parity:
        p = parity
        print()
        print(
            f"log-likelihood at a prior draw of W ({p['num_keys']} keys each; p(correct) "
            f"from {p['p_range'][0]:.3f} to {p['p_range'][2]:.3f}, median "
            f"{p['p_range'][1]:.3f}):"
        )
        rel = abs(p["ours_psyphy_loglik_key0"] - p["psyphy_loglik_key0"]) / abs(
            p["psyphy_loglik_key0"]
        )
        print(
            f"  same key, psyphy's log_likelihood_from_data {p['psyphy_loglik_key0']:.3f}, "
            f'ours estimator="psyphy" {p["ours_psyphy_loglik_key0"]:.3f} '
            f"(relative difference {rel:.1e})"
        )
        print(
            f"  psyphy   mean {p['psyphy_loglik_mean']:.3f} (sd over keys "
            f"{p['psyphy_loglik_sd']:.3f})"
        )
        print(
            f'  "mc"     mean {p["mc_loglik_mean"]:.3f} (sd over keys {p["mc_loglik_sd"]:.3f});'
            f" difference {p['loglik_diff']:+.3f} = "
            f"{p['loglik_diff'] / p['loglik_diff_se']:+.2f} standard errors"
        )
        print(
            f'  "quadrature" {p["quad_loglik"]:.3f} (deterministic; the Monte Carlo '
            f"log-likelihoods sit below it by the bias of log p-hat)"
        )
        print(
            f'  per-trial p(correct), mean over keys: rms("mc" - psyphy) '
            f"{p['rms_p_mc_vs_psyphy']:.2e} (Monte Carlo alone: "
            f"{p['rms_p_mc_expected']:.2e}); rms(quadrature - psyphy) "
            f"{p['rms_p_quad_vs_psyphy']:.2e} (Monte Carlo alone: "
            f"{p['rms_p_quad_expected']:.2e})"
        )
        print(
            f"  sd over keys of sum_i p_i: psyphy {p['sum_p_sd_psyphy']:.2f} (independent "
            f'trials: {p["sum_p_sd_psyphy_if_independent"]:.2f}), "mc" {p["sum_p_sd_mc"]:.2f} '
            f"(independent trials: {p['sum_p_sd_mc_if_independent']:.2f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6000, help="trials (6000)")
    parser.add_argument(
        "--samples", type=int, default=2000, help="Monte Carlo samples (2000)"
    )
    parser.add_argument(
        "--repeats", type=int, default=5, help="timed calls per contender (5)"
    )
    parser.add_argument(
        "--contenders",
        default=",".join(CONTENDERS),
        help=f"comma-separated subset of {','.join(CONTENDERS)}",
    )
    parser.add_argument(
        "--parity-keys",
        type=int,
        default=6,
        help="keys per estimator for the log-likelihood row (6; 0 skips it)",
    )
    parser.add_argument(
        "--fit-steps",
        type=int,
        default=30,
        help="steps of the timed MAPOptimizer fits (30)",
    )
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument(
        "--no-flops", action="store_true", help="skip the flop count and peak"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small trial run: 600 trials x 200 samples, 2 repeats",
    )
    parser.add_argument("--json", help="also write all results to this file")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--problem", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.samples, args.repeats = 600, 200, 2
        args.parity_keys = min(args.parity_keys, 3)
        args.fit_steps, args.matmul_size = 10, 1024
    if args.worker:
        worker_main(args)
        return 0
    args.contenders = [c.strip() for c in args.contenders.split(",") if c.strip()]
    unknown = set(args.contenders) - set(CONTENDERS)
    if unknown or not args.contenders:
        parser.error(f"unknown contenders: {sorted(unknown)}")
    if args.trials < NUM_REFS or args.trials % NUM_REFS:
        parser.error(f"--trials must be a positive multiple of {NUM_REFS}")
    if (
        args.samples < 1
        or args.repeats < 1
        or args.parity_keys == 1
        or args.parity_keys < 0
    ):
        parser.error(
            "--samples and --repeats must be positive, --parity-keys 0 or >= 2"
        )

    info = machine()
    script = os.path.abspath(__file__)
    common = [
        "--trials",
        str(args.trials),
        "--samples",
        str(args.samples),
        "--repeats",
        str(args.repeats),
        "--fit-steps",
        str(args.fit_steps),
        "--parity-keys",
        str(args.parity_keys),
        "--matmul-size",
        str(args.matmul_size),
    ]
    results, parity, flops, peak = {}, None, None, None
    with tempfile.TemporaryDirectory() as tmp:
        problem = os.path.join(tmp, "problem.npz")
        run_worker(script, ["--worker", "prepare", "--problem", problem, *common])
        for name in args.contenders:
            print(f"  {name} ...", file=sys.stderr, flush=True)
            results[name] = run_worker(
                script, ["--worker", name, "--problem", problem, *common]
            )
            print(
                f"  {name}: {results[name]['median_s']:.4f} s",
                file=sys.stderr,
                flush=True,
            )
        if args.parity_keys:
            print("  parity ...", file=sys.stderr, flush=True)
            parity = run_worker(
                script, ["--worker", "parity", "--problem", problem, *common]
            )
        if not args.no_flops:
            flops = run_worker(script, ["--worker", "flops", *common])
            peak = run_worker(script, ["--worker", "peak", *common])
    load_after = os.getloadavg()
    print_report(args, info, load_after, results, parity, flops, peak)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "args": {k: v for k, v in vars(args).items()},
                    "machine": info,
                    "load_after": load_after,
                    "results": results,
                    "parity": parity,
                    "flops": flops,
                    "peak": peak,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
