"""Time and memory per gradient from 1,000 to 100,000 trials (issue 4, goal 3).

At 500 Monte Carlo samples per trial (psyphy's full example's setting), each
trial count and contender runs in a fresh Python process (the workers of
``full_gradient.py``) that reports the median time of a MAP step (``value_and_grad``
of the negative log posterior plus the optax update, as psyphy 0.0.5's
``MAPOptimizer`` builds it) and its peak resident memory
(``resource.getrusage(RUSAGE_SELF).ru_maxrss``):

- ``mc_fresh``: ``estimator="mc"``, fresh per-trial draws each step;
- ``quadrature``: ``estimator="quadrature"`` (144 nodes);
- ``psyphy``: psyphy 0.0.5's step, at the sizes it does in reasonable time
  (``--psyphy-sizes``); its time and memory at 100,000 trials are projected
  from a straight-line fit through its measured sizes.

The study is ``full_gradient.py``'s (25 references, comparisons up to 0.3
away) at each trial count. Linearity shows as a constant time per 1,000
trials; the memory column shows how far 100,000 x 500 stays below the 24 GiB
of the issue's target machine.

A worker that gives no result within ``--timeout`` seconds stops the run.

Run ``python benchmarks/scaling.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg

SIZES = (1000, 3000, 10000, 30000, 100000)
PSYPHY_SIZES = (1000, 3000, 10000)
CONTENDERS = ("mc_fresh", "quadrature", "psyphy")
TARGET_GIB = 24


def fit_line(xs, ys):
    """Least-squares ``y = a + b x``; returns (a, b)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxx = sum((x - mx) ** 2 for x in xs)
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0
    return my - b * mx, b


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument(
        "--psyphy-sizes",
        default=",".join(map(str, PSYPHY_SIZES)),
        help="trial counts at which psyphy runs ('' for none)",
    )
    parser.add_argument("--samples", type=int, default=500)
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed steps per run (3)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="seconds a worker may take (600)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="sizes 1000,3000,10000 (psyphy at 1000), 200 samples, 2 repeats",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.psyphy_sizes, args.samples, args.repeats = (
            "1000,3000,10000",
            "1000",
            200,
            2,
        )
    sizes = [int(x) for x in args.sizes.split(",") if x]
    psyphy_sizes = [int(x) for x in args.psyphy_sizes.split(",") if x]
    if any(n < fg.NUM_REFS or n % fg.NUM_REFS for n in sizes + psyphy_sizes):
        parser.error(f"trial counts must be positive multiples of {fg.NUM_REFS}")

    info = fg.machine()
    script = os.path.join(fg.HERE, "full_gradient.py")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(set(sizes) | set(psyphy_sizes)):
            problem = os.path.join(tmp, f"problem_{n}.npz")
            common = [
                "--problem",
                problem,
                "--trials",
                str(n),
                "--samples",
                str(args.samples),
                "--repeats",
                str(args.repeats),
            ]
            fg.run_worker(script, ["--worker", "prepare", *common])
            for name in CONTENDERS:
                if name == "psyphy" and n not in psyphy_sizes:
                    continue
                if name != "psyphy" and n not in sizes:
                    continue
                print(f"  {n} trials, {name} ...", file=sys.stderr, flush=True)
                r = fg.run_worker(
                    script, ["--worker", name, *common], timeout=args.timeout
                )
                rows.append({"trials": n, "name": name, **r})
                print(
                    f"  {n} trials, {name}: {r['median_s']:.4f} s, "
                    f"{r['peak_rss_mib']:.0f} MiB",
                    file=sys.stderr,
                    flush=True,
                )
            os.remove(problem)
    load_after = os.getloadavg()

    print(
        f"Scaling: time and peak memory per MAP step, {args.samples} samples per trial, "
        f"median of {args.repeats} steps, one fresh process per row"
    )
    print(fg.describe_machine(info))
    print(
        f"load average (1/5/15 min): before {fg.loadavg_str(info['loadavg'])}, after "
        f"{fg.loadavg_str(load_after)}"
    )
    print()
    head = (
        f"{'contender':34s} {'trials':>7s} {'median s':>9s} {'ms / 1k trials':>14s} "
        f"{'CPU s':>8s} {'compile s':>9s} {'peak RSS MiB':>12s}"
    )
    print(head)
    print("-" * len(head))
    for name in CONTENDERS:
        mine = sorted((r for r in rows if r["name"] == name), key=lambda r: r["trials"])
        for r in mine:
            comp = r["trace_lower_s"] + r["xla_compile_s"]
            print(
                f"{fg.LABELS[name]:34s} {r['trials']:7d} {r['median_s']:9.4f} "
                f"{1000 * r['median_s'] / (r['trials'] / 1000):14.2f} "
                f"{r['cpu_median_s']:8.4f} {comp:9.2f} "
                f"{r['peak_rss_mib']:12.0f}"
            )
        if len(mine) >= 2:
            xs = [r["trials"] for r in mine]
            a_t, b_t = fit_line(xs, [r["median_s"] for r in mine])
            a_m, b_m = fit_line(xs, [r["peak_rss_mib"] for r in mine])
            big = 100000
            tag = "projected" if max(xs) < big else "line fit"
            step = (
                f"{a_t + b_t * big:.2f} s per step"
                if b_t > 0
                else "time not linear in these rows (machine load?)"
            )
            print(
                f"  {tag} at {big} trials: {step}, "
                f"{(a_m + b_m * big) / 1024:.1f} GiB (fit: {1000 * b_t * 1000:.2f} ms and "
                f"{b_m * 1000:.0f} MiB per 1k trials, {a_m:.0f} MiB fixed)"
            )
    big_rows = [r for r in rows if r["trials"] == max(sizes) and r["name"] != "psyphy"]
    for r in big_rows:
        print(
            f"{fg.LABELS[r['name']]} at {r['trials']} x {args.samples}: peak RSS "
            f"{r['peak_rss_mib'] / 1024:.2f} GiB = {100 * r['peak_rss_mib'] / 1024 / TARGET_GIB:.0f}"
            f" % of {TARGET_GIB} GiB"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "load_after": load_after,
                    "samples": args.samples,
                    "rows": rows,
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
