"""Start-up of a short full-WPPM NUTS run: the model's heavy parts compiled, or eager.

NumPyro's kernels start op by op here (``core.infer.mcmc._init_op_by_op``),
and every primitive evaluated eagerly compiles on its own. Two
configurations, each run in a fresh Python process (eager compilations are
kept for a process's life), ``--repeats`` times:

compiled
    The default: the trial logits and the gauge's ``from_free`` / ``to_free``
    run as compiled programs (``core.compiled.always_compiled``).
eager
    The previous configuration: the same functions unwrapped, so the start
    evaluates them primitive by primitive.

The run: 2-D, ``basis_degree=1``, the default task (quadrature rule, rotation
fixed), ``--trials`` trials simulated from a prior draw, 2 vectorised chains
of 30 + 20 iterations; the time is ``NUTSSampler.fit``'s, wall and CPU, of
which sampling itself is a few seconds.

Run ``python benchmarks/nuts_start.py`` (``--help`` for the flags).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys

WORKER = """
import json, sys, time
import jax, numpy as np
import psyphy_numpyro as pn
from psyphy_numpyro.core import gauge, numpyro_model
from psyphy_numpyro.core.infer import mcmc as core_mcmc
from psyphy_numpyro.posterior import mcmc as posterior_mcmc

config, trials = sys.argv[1], int(sys.argv[2])
if config == "eager":
    numpyro_model._trial_logits = numpyro_model._trial_logits.__wrapped__
    gauge.from_free = posterior_mcmc.from_free = gauge.from_free.__wrapped__
    gauge.to_free = core_mcmc.to_free = gauge.to_free.__wrapped__
model = pn.WPPM(pn.Prior(input_dim=2, basis_degree=1))
rng = np.random.default_rng(0)
ref = rng.uniform(-0.8, 0.8, (trials, 2))
probe = np.clip(ref + rng.normal(0.0, 0.1, (trials, 2)), -1, 1)
y = pn.simulate_responses(jax.random.PRNGKey(2), model,
                          model.init_params(jax.random.PRNGKey(1)), ref, probe)
data = pn.TrialData(np.stack([ref, probe], 1), y)
start, cpu = time.perf_counter(), time.process_time()
pn.NUTSSampler(num_warmup=30, num_samples=20, num_chains=2,
               progress_bar=False).fit(model, data)
print(json.dumps({"wall": time.perf_counter() - start,
                  "cpu": time.process_time() - cpu}))
"""


def run(config: str, trials: int) -> dict:
    """One fit in a fresh process."""
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "JAX_COMPILATION_CACHE_DIR": ""}
    out = subprocess.run([sys.executable, "-c", WORKER, config, str(trials)],
                         capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--trials", type=int, default=60)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args(argv)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f} at start; {args.trials} trials, "
          f"medians of {args.repeats} fresh processes")
    results = {}
    for i in range(args.repeats):  # interleaved, so drifting load hits both alike
        for config in ("compiled", "eager"):
            results.setdefault(config, []).append(run(config, args.trials))
    medians = {c: {k: statistics.median(r[k] for r in rs) for k in ("wall", "cpu")}
               for c, rs in results.items()}
    print(f"{'configuration':14s} {'wall s':>8s} {'CPU s':>8s} {'wall ratio':>11s}")
    for config, m in medians.items():
        ratio = m["wall"] / medians["eager"]["wall"]
        print(f"{config:14s} {m['wall']:8.1f} {m['cpu']:8.1f} {ratio:11.2f}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
