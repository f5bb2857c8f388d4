"""Host memory of a long compiled gradient loop: chains on host devices or vectorised.

``benchmarks/nuts_full.py`` asks XLA for 4 CPU "devices" so that NUTS runs
its chains in parallel threads (``chain_method="parallel"``, a ``pmap``).
A run's memory then grows while it samples; with the chains vectorised on one
device it stays flat. This script isolates that: one full-WPPM quadrature
log-likelihood (2-D, ``basis_degree=2``, ``--trials`` trials), and a
compiled loop of ``--steps`` gradient steps on ``W``, run for 4 chains

parallel-N
    as a ``pmap`` over N host devices (4 / N chains each, vectorised), and
vectorised
    as a ``vmap`` on one device,

each in a fresh process (the device count is fixed when JAX starts). The
resident memory (Linux's ``/proc/self/statm``) is sampled every half second
during the loop; the table gives its growth during the loop and per 1,000
steps, wall and CPU time.

Run ``python benchmarks/parallel_memory.py`` (``--help`` for the flags).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys

WORKER = """
import json, os, sys, threading, time
import jax, jax.numpy as jnp, numpy as np
import psyphy_numpyro as pn

config, trials, steps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, extra_embedding_dims=1,
                         variance_scale=3e-4),
                pn.OddityTask(config=pn.OddityTaskConfig(estimator="quadrature")))
rng = np.random.default_rng(0)
ref = rng.uniform(-0.8, 0.8, (trials, 2))
probe = np.clip(ref + rng.normal(0.0, 0.05, (trials, 2)), -1, 1)
truth = model.init_params(jax.random.PRNGKey(1))
y = pn.simulate_responses(jax.random.PRNGKey(2), model, truth, ref, probe)
data = model.trials(pn.TrialData(np.stack([ref, probe], 1), y))
grad = jax.grad(lambda W: jnp.sum(model.log_likelihood({"W": W}, data)))

def loop(W):  # gradient ascent with a tiny step: the value stays finite
    return jax.lax.fori_loop(0, steps, lambda i, w: w + 1e-7 * grad(w), W)

devices = jax.local_device_count()
if config == "vectorised":
    run, starts = jax.jit(jax.vmap(loop)), jnp.stack([truth["W"]] * 4)
else:
    run = jax.pmap(jax.vmap(loop))
    starts = jnp.stack([truth["W"]] * 4)
    starts = starts.reshape((devices, 4 // devices) + truth["W"].shape)
run = run.lower(starts).compile()
rss, done = [], threading.Event()

def resident():  # bytes (Linux)
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

def sample():
    while not done.is_set():
        rss.append(resident())
        time.sleep(0.5)

watcher = threading.Thread(target=sample)
start, cpu = time.perf_counter(), time.process_time()
watcher.start()
jax.block_until_ready(run(starts))
wall, cpu = time.perf_counter() - start, time.process_time() - cpu
done.set()
watcher.join()
rss.append(resident())
print(json.dumps({"devices": devices, "wall": wall, "cpu": cpu,
                  "growth_mb": (max(rss) - rss[0]) / 2**20}))
"""

CONFIGS = {"vectorised": 1, "parallel-2": 2, "parallel-4": 4}


def run(config: str, trials: int, steps: int) -> dict:
    """One loop in a fresh process with the configuration's host devices."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu",
           "XLA_FLAGS": f"--xla_force_host_platform_device_count={CONFIGS[config]}"}
    command = [sys.executable, "-c", WORKER, config, str(trials), str(steps)]
    out = subprocess.run(command, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=300)
    p.add_argument("--steps", type=int, default=20000)
    args = p.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, load "
          f"average {os.getloadavg()[0]:.1f} at start; 4 chains, {args.trials} trials, "
          f"{args.steps} gradient steps per chain")
    print(f"{'configuration':14s} {'devices':>7s} {'wall s':>7s} {'CPU s':>7s} "
          f"{'growth MiB':>10s} {'MiB per 1,000 steps':>19s}")
    for config in CONFIGS:
        r = run(config, args.trials, args.steps)
        print(f"{config:14s} {r['devices']:7d} {r['wall']:7.1f} {r['cpu']:7.1f} "
              f"{r['growth_mb']:10.0f} {1000 * r['growth_mb'] / args.steps:19.1f}",
              flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
