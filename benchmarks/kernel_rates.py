"""Achieved float32 rate of the likelihood kernels' gradients, beside this machine's peak.

For each kernel, the gradient of the summed log p(correct) in the square
roots ``U(ref)``, ``U(probe)`` of one study (6,000 trials, 2-D, embedding
dimension 3, references in [-0.8, 0.8]^2, comparisons about 0.1 away):

- ``quadrature``: the product path, the (6, 3, 6) rule (108 nodes) in chunks
  with its custom VJP;
- ``quadrature_336``: the same with the (3, 3, 6) rule (54 nodes), which has
  the (6, 3, 6) rule's error (``estimator_accuracy.py``), so it is the same
  likelihood for the price of half the nodes;
- ``quadrature_plain``: the previous configuration, plain reverse-mode
  autodiff of the same formula over all trials at once;
- ``mc``: the reduced-form Monte Carlo kernel, 2,000 fixed draws per trial,
  chunks of :func:`~psyphy_numpyro.core.oddity.gaussian_mc.default_chunk`
  trials;
- ``mc_256``: the previous configuration, chunks of 256 trials.

Work is XLA's cost analysis (flops) of the compiled gradient at one chunk
with no loop, scaled to the study; achieved GFLOP/s is that work over the
median wall time of ``--repeats`` calls. The peak rows are measured in the
same process: a float32 matmul (2,048 x 2,048 on the CPU, 8,192 x 8,192 on
an accelerator), and fused elementwise multiply-adds (``full_gradient.py``'s
``peak`` worker).

Every row runs on each platform JAX finds (the CPU, and a GPU when one is
present), or on those named by ``--platforms``; rows on an accelerator give
its time beside the CPU's (``x cpu``) and its own peaks. Run ``python
benchmarks/kernel_rates.py`` (about a minute on 2 cores; ``--quick`` for a
smoke run).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg

DIAG, BANDWIDTH, CLIP = 1e-4, 0.01, 1e-4


def study(num_trials: int):
    import jax

    k = jax.random.split(jax.random.PRNGKey(0), 4)
    U_ref = 0.3 * jax.random.normal(k[0], (num_trials, 2, 3))
    U_probe = U_ref + 0.05 * jax.random.normal(k[1], (num_trials, 2, 3))
    ref = jax.random.uniform(k[2], (num_trials, 2), minval=-0.8, maxval=0.8)
    probe = ref + 0.1 * jax.random.normal(k[3], (num_trials, 2))
    return U_ref, U_probe, ref, probe


def gradient(name: str, num_samples: int, num_trials: int):
    """``(grad_fn(U_ref, U_probe), trials per loop-free chunk)`` of one contender."""
    import jax
    import jax.numpy as jnp

    from psyphy_numpyro.core.oddity import gaussian_mc as og
    from psyphy_numpyro.core.oddity import quadrature as oq

    _, _, ref, probe = study(num_trials)
    settings = {"diag_term": DIAG, "bandwidth": BANDWIDTH, "clip": CLIP}
    if name.startswith("quadrature"):
        rule = oq.quadrature_rule(*((3, 3, 6) if name == "quadrature_336" else (6, 3, 6)))
        if name != "quadrature_plain":
            chunk = oq.DEFAULT_CHUNK

            def p(U_ref, U_probe):
                return oq.quadrature_p_correct(U_ref, U_probe, ref, probe, rule,
                                               **settings)
        else:
            chunk = num_trials

            def p(U_ref, U_probe):
                P, Q, g = og.whitened_factors(U_ref, U_probe, ref, probe, DIAG)
                wrong = oq._wrong(P, Q, g, *map(jnp.asarray, rule))
                return jnp.clip(1.0 - wrong, CLIP, 1.0 - CLIP)
    else:
        draws = og.gaussian_draws(jax.random.PRNGKey(9), num_trials, num_samples, 2)
        chunk = og.default_chunk(num_samples) if name == "mc" else 256

        def p(U_ref, U_probe):
            return og.gaussian_mc_p_correct(U_ref, U_probe, ref, probe, draws,
                                            chunk=chunk, **settings)

    return jax.grad(lambda a, b: jnp.sum(jnp.log(p(a, b))), argnums=(0, 1)), chunk


def flops_per_trial(name: str, num_samples: int, chunk: int) -> float:
    """XLA's flop count of the gradient at one chunk of trials, per trial."""
    import jax

    n = min(chunk, 1024)
    fn, _ = gradient(name, num_samples, n)
    U_ref, U_probe, _, _ = study(n)
    cost = jax.jit(fn).lower(U_ref, U_probe).compile().cost_analysis()
    cost = cost[0] if isinstance(cost, list) else cost
    return cost["flops"] / n


def measure(name: str, num_trials: int, num_samples: int, repeats: int) -> dict:
    fn, chunk = gradient(name, num_samples, num_trials)
    U_ref, U_probe, _, _ = study(num_trials)
    timed = fg.compile_and_time(fn, (U_ref, U_probe), lambda out, args: args, repeats)
    work = flops_per_trial(name, num_samples, chunk) * num_trials
    return {"name": name, "chunk": chunk, "gflop": work / 1e9,
            "median_s": timed["median_s"], "cpu_s": timed["cpu_median_s"],
            "gflops": work / timed["median_s"] / 1e9}


def on_platform(platform: str, args) -> tuple[dict, list[dict]]:
    """The peaks and the rows, measured on ``platform``'s first device."""
    import jax

    cpu = platform == "cpu"
    size = (1024 if args.quick else 2048) if cpu else 8192
    with jax.default_device(jax.devices(platform)[0]):
        peak = fg._peak_worker(size, max(args.repeats, 5), 2**22 if cpu else 2**26)
        rows = [measure(name, args.trials, args.samples, args.repeats)
                for name in ("quadrature", "quadrature_336", "quadrature_plain", "mc",
                             "mc_256")]
    peak["device"] = jax.devices(platform)[0].device_kind
    return peak, [dict(r, platform=platform) for r in rows]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=6000)
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="600 trials x 200 samples")
    parser.add_argument("--platforms", default="all",
                        help="cpu, gpu, ... comma-separated (default: all present)")
    args = parser.parse_args(argv)
    if args.quick:
        args.trials, args.samples, args.repeats = 600, 200, 3
    if min(args.trials, args.samples, args.repeats) < 1:
        parser.error("--trials, --samples and --repeats must be positive.")
    info = fg.machine()
    print(f"# {fg.describe_machine(info)}; load {fg.loadavg_str(info['loadavg'])}")
    start = time.perf_counter()
    measured = {p: on_platform(p, args) for p in fg.platforms(args.platforms)}
    for platform, (peak, _) in measured.items():
        print(f"# {platform}: {peak['device']}")
    print(f"# {args.trials} trials; mc with {args.samples} fixed draws per trial; "
          f"median of {args.repeats} calls")
    print(f"{'platform':8s} {'gradient':18s} {'chunk':>6s} {'GFLOP':>7s} {'wall ms':>8s} "
          f"{'CPU ms':>8s} {'GFLOP/s':>8s} {'% of matmul':>11s} {'x previous':>10s} "
          f"{'x cpu':>6s}")
    previous = {"quadrature": "quadrature_plain", "quadrature_336": "quadrature",
                "mc": "mc_256"}
    on_cpu = {r["name"]: r for r in measured.get("cpu", (None, []))[1]}
    for platform, (peak, rows) in measured.items():
        matmul = peak["gflops_median"]
        by_name = {r["name"]: r for r in rows}
        for r in rows:
            before = by_name.get(previous.get(r["name"], ""))
            ratio = f"{before['median_s'] / r['median_s']:10.2f}" if before else f"{'':>10s}"
            cpu = on_cpu.get(r["name"]) if platform != "cpu" else None
            vs_cpu = f"{cpu['median_s'] / r['median_s']:6.1f}" if cpu else f"{'':>6s}"
            print(f"{platform:8s} {r['name']:18s} {r['chunk']:6d} {r['gflop']:7.2f} "
                  f"{1e3 * r['median_s']:8.1f} {1e3 * r['cpu_s']:8.1f} {r['gflops']:8.1f} "
                  f"{100 * r['gflops'] / matmul:10.1f}% {ratio} {vs_cpu}")
        print(f"{platform:8s} {'peak: matmul':18s} {peak['size']:6d} {'':7s} {'':8s} {'':8s} "
              f"{matmul:8.1f} {100.0:10.1f}%")
        elementwise = peak["elementwise_gflops_median"]
        print(f"{platform:8s} {'peak: elementwise':18s} {'':6s} {'':7s} {'':8s} {'':8s} "
              f"{elementwise:8.1f} {100 * elementwise / matmul:10.1f}%")
    print(f"# load after {fg.loadavg_str(os.getloadavg())}; "
          f"{statistics.fsum([time.perf_counter() - start]):.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
