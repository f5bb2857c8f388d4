"""Accuracy per cost of the full WPPM's p(correct) estimators (issue 4, goal 2).

Per-trial RMS error of p(correct), against a very-large-sample reference, for

- plain Monte Carlo in psyphy 0.0.5's layout (``estimator="psyphy"``: its
  draws, key for key) and in the reduced form (``estimator="mc"``), at
  ``S`` samples per trial, averaged over ``--repeats`` independent keys;
- the deterministic quadrature rule (``estimator="quadrature"``) at several
  node counts ``quadrature_rule(a, r, c)`` (``a * r * c`` integrand
  evaluations per trial).

The trials are a realistic study's: every ``k``-th trial of the simulated
6,000-trial study of ``full_gradient.py`` (25 references, comparisons up to
0.3 away), at the field that simulated it, so p(correct) runs from chance to
near 1. The reference is reduced-form Monte Carlo with ``2**22`` samples per
trial (in batches of ``2**16``; its per-trial standard error is estimated
from the batches and printed). The finest quadrature rule is checked against
it, and every error is also given against that fine rule, which has no
Monte Carlo noise. Errors against the Monte Carlo reference are corrected for
its own noise: ``sqrt(rms^2 - mean(se_ref^2))``.

Prints the table, names the smallest rule whose error beats plain Monte Carlo
with 2,000 samples, and saves ``benchmarks/figures/estimator_accuracy.png``.

Run ``python benchmarks/estimator_accuracy.py`` (``--quick`` for a small run).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg

SAMPLE_COUNTS = (32, 64, 125, 250, 500, 1000, 2000, 4000, 8000)
RULES = (
    (2, 1, 2),
    (2, 2, 2),
    (3, 2, 3),
    (4, 2, 4),
    (4, 3, 4),
    (4, 4, 4),
    (3, 3, 6),
    (3, 4, 6),
    (6, 3, 6),
    (6, 4, 6),
    (6, 5, 6),
    (6, 6, 6),
    (8, 4, 8),
    (8, 6, 8),
    (12, 8, 12),
    (16, 10, 16),
)
FINE_RULE = (32, 16, 32)
MC_TARGET_SAMPLES = 2000
MAX_NODES = 250  # the issue's budget: 1/8 of 2,000 samples
FIGURE = os.path.join(fg.HERE, "figures", "estimator_accuracy.png")


def reference(U_ref, U_cmp, ref, cmp, total: int, batch: int, seed: int = 11):
    """Reduced-form Monte Carlo with ``total`` samples per trial; p and its se."""
    import jax
    import numpy as np

    from psyphy_numpyro.core.oddity.gaussian_mc import (
        GaussianDraws,
        gaussian_mc_p_correct,
    )
    from psyphy_numpyro.core.oddity.psyphy_draws import PROB_CLIP

    @jax.jit
    def one_batch(key):
        z = jax.random.normal(key, (2 * fg.INPUT_DIM, batch))
        return gaussian_mc_p_correct(
            U_ref,
            U_cmp,
            ref,
            cmp,
            GaussianDraws(z),
            diag_term=1e-6,
            bandwidth=fg.BANDWIDTH,
            clip=PROB_CLIP,
            chunk=16,
        )

    keys = jax.random.split(jax.random.PRNGKey(seed), total // batch)
    ps = np.stack([np.asarray(one_batch(k), float) for k in keys])
    return ps.mean(0), ps.std(0, ddof=1) / np.sqrt(ps.shape[0])


def measure(args) -> dict:
    import jax
    import jax.numpy as jnp
    import numpy as np

    from psyphy_numpyro.core.covariance import wishart_sqrt
    from psyphy_numpyro.core.oddity.quadrature import quadrature_rule

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "problem.npz")
        fg.make_problem(args.study_trials, path)
        problem = fg.load_problem(path)
    step = args.study_trials // args.trials
    ref = jnp.asarray(problem["ref"][::step][: args.trials], jnp.float32)
    cmp = jnp.asarray(problem["cmp"][::step][: args.trials], jnp.float32)
    params = {"W": jnp.asarray(problem["truth"], jnp.float32)}
    n = ref.shape[0]

    t = time.perf_counter()
    U_ref = wishart_sqrt(params["W"], ref, fg.BASIS_DEGREE)
    U_cmp = wishart_sqrt(params["W"], cmp, fg.BASIS_DEGREE)
    p_ref, se_ref = reference(U_ref, U_cmp, ref, cmp, args.reference, args.batch)
    t_ref = time.perf_counter() - t
    print(
        f"  reference: {args.reference} samples x {n} trials in {t_ref:.0f} s; "
        f"se median {np.median(se_ref):.1e}, max {se_ref.max():.1e}",
        file=sys.stderr,
        flush=True,
    )
    noise2 = float(np.mean(se_ref**2))

    def quad_p(nodes):
        model = fg.our_model("quadrature", 1, quadrature=nodes)
        return np.asarray(jax.jit(model.p_correct)(params, ref, cmp), float)

    p_fine = quad_p(FINE_RULE)

    def errors(p):  # p: (repeats, n) or (n,)
        p = np.atleast_2d(p)
        rms = float(np.sqrt(np.mean((p - p_ref) ** 2)))
        return {
            "rms_vs_mc_ref": rms,
            "rms_vs_mc_ref_corrected": float(np.sqrt(max(rms**2 - noise2, 0.0))),
            "rms_vs_fine_quadrature": float(np.sqrt(np.mean((p - p_fine) ** 2))),
            "max_abs_vs_fine_quadrature": float(np.max(np.abs(p - p_fine))),
        }

    mc = {}
    for estimator in ("psyphy", "mc"):
        mc[estimator] = {}
        for s in args.samples:
            model = fg.our_model(estimator, s)
            f = jax.jit(
                lambda p, k, m=model: m.p_correct(p, ref, cmp, m.draw_mc_samples(k, n))
            )
            keys = jax.random.split(jax.random.PRNGKey(100 + s), args.repeats)
            ps = np.stack([np.asarray(f(params, k), float) for k in keys])
            mc[estimator][s] = errors(ps)
        print(f"  {estimator}: done", file=sys.stderr, flush=True)

    quad = {}
    for nodes in args.rules:
        quad[nodes] = {
            "num_nodes": quadrature_rule(*nodes).num_nodes,
            **errors(quad_p(nodes)),
        }
    fine = {
        "nodes": FINE_RULE,
        "num_nodes": quadrature_rule(*FINE_RULE).num_nodes,
        "rms_vs_mc_ref": float(np.sqrt(np.mean((p_fine - p_ref) ** 2))),
        "max_z_vs_mc_ref": float(np.max(np.abs(p_fine - p_ref) / se_ref)),
    }
    return {
        "trials": n,
        "p_quantiles": np.quantile(p_ref, [0, 0.25, 0.5, 0.75, 1]).tolist(),
        "reference_samples": args.reference,
        "reference_se_rms": float(np.sqrt(noise2)),
        "reference_seconds": t_ref,
        "mc": mc,
        "binomial_sd": float(np.sqrt(np.mean(p_ref * (1 - p_ref)))),
        "quadrature": quad,
        "fine": fine,
    }


def plot(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(7, 5))
    for estimator, label, marker in (
        ("psyphy", "plain MC, psyphy's layout", "o"),
        ("mc", 'plain MC, reduced form ("mc")', "s"),
    ):
        s = sorted(res["mc"][estimator])
        ax.plot(
            s,
            [res["mc"][estimator][k]["rms_vs_mc_ref_corrected"] for k in s],
            marker=marker,
            label=label,
        )
    s = np.geomspace(min(sorted(res["mc"]["mc"])), max(sorted(res["mc"]["mc"])), 20)
    ax.plot(
        s,
        res["binomial_sd"] / np.sqrt(s),
        color="k",
        lw=0.8,
        ls=":",
        label="sqrt(mean p(1-p) / S): unsmoothed independent draws",
    )
    quad = sorted(res["quadrature"].values(), key=lambda q: q["num_nodes"])
    ax.plot(
        [q["num_nodes"] for q in quad],
        [q["rms_vs_mc_ref_corrected"] for q in quad],
        marker="^",
        label="quadrature rule, vs MC reference",
    )
    ax.plot(
        [q["num_nodes"] for q in quad],
        [q["rms_vs_fine_quadrature"] for q in quad],
        marker="v",
        ls="--",
        label=f"quadrature rule, vs rule {res['fine']['nodes']}",
    )
    target = res["mc"]["mc"].get(MC_TARGET_SAMPLES, {}).get("rms_vs_mc_ref_corrected")
    if target:
        ax.axhline(target, color="gray", lw=0.8, ls=":")
        ax.text(
            0.02,
            target * 0.8,
            "plain MC, 2,000 samples",
            color="gray",
            fontsize=8,
            ha="left",
            va="top",
            transform=ax.get_yaxis_transform(),
        )
    ax.axvline(MAX_NODES, color="gray", lw=0.8, ls=":")
    ax.axhline(res["reference_se_rms"], color="k", lw=0.6, ls="-.")
    ax.text(
        0.98,
        res["reference_se_rms"] * 1.08,
        "the reference's own rms error",
        fontsize=8,
        ha="right",
        transform=ax.get_yaxis_transform(),
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("samples or nodes per trial")
    ax.set_ylabel("rms error of p(correct) per trial")
    ax.set_title(
        f"Full WPPM p(correct): {res['trials']} trials, reference "
        f"2^{int(np.log2(res['reference_samples']))} MC samples",
        fontsize=10,
    )
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(True, which="both", lw=0.3)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def report(res: dict, info: dict, load_after) -> None:
    print(
        f"p(correct) estimators: {res['trials']} trials of the simulated study "
        f"(p from {res['p_quantiles'][0]:.3f} to {res['p_quantiles'][-1]:.3f}, quartiles "
        + ", ".join(f"{x:.3f}" for x in res["p_quantiles"][1:4])
        + ")"
    )
    print(fg.describe_machine(info))
    print(
        f"load average (1/5/15 min): before {fg.loadavg_str(info['loadavg'])}, after "
        f"{fg.loadavg_str(load_after)}"
    )
    f = res["fine"]
    print(
        f"reference: {res['reference_samples']} reduced-form MC samples per trial, rms se "
        f"{res['reference_se_rms']:.1e} ({res['reference_seconds']:.0f} s); fine rule "
        f"{f['nodes']} ({f['num_nodes']} nodes) against it: rms {f['rms_vs_mc_ref']:.1e}, "
        f"max |diff|/se {f['max_z_vs_mc_ref']:.1f}"
    )
    print()
    head = (
        f"{'estimator':30s} {'cost':>6s} {'rms vs MC ref':>14s} {'(noise-corr.)':>14s}"
        f" {'rms vs fine rule':>16s} {'max vs fine':>12s}"
    )
    print(head)
    print("-" * len(head))
    for estimator, label in (
        ("psyphy", "MC, psyphy layout"),
        ("mc", 'MC, reduced form "mc"'),
    ):
        for s, e in sorted(res["mc"][estimator].items()):
            print(
                f"{label:30s} {s:6d} {e['rms_vs_mc_ref']:14.2e} "
                f"{e['rms_vs_mc_ref_corrected']:14.2e} {e['rms_vs_fine_quadrature']:16.2e} "
                f"{e['max_abs_vs_fine_quadrature']:12.2e}"
            )
    for nodes, e in sorted(
        res["quadrature"].items(), key=lambda kv: kv[1]["num_nodes"]
    ):
        label = f"quadrature {nodes}"
        print(
            f"{label:30s} {e['num_nodes']:6d} {e['rms_vs_mc_ref']:14.2e} "
            f"{e['rms_vs_mc_ref_corrected']:14.2e} {e['rms_vs_fine_quadrature']:16.2e} "
            f"{e['max_abs_vs_fine_quadrature']:12.2e}"
        )
    target = res["mc"]["mc"].get(MC_TARGET_SAMPLES)
    if target:
        t = min(
            target["rms_vs_mc_ref_corrected"],
            res["mc"]["psyphy"][MC_TARGET_SAMPLES]["rms_vs_mc_ref_corrected"],
        )
        beating = [
            (e["num_nodes"], nodes)
            for nodes, e in res["quadrature"].items()
            if e["rms_vs_mc_ref_corrected"] < t and e["rms_vs_fine_quadrature"] < t
        ]
        print()
        if beating:
            k, nodes = min(beating)
            print(
                f"smallest rule beating plain MC with {MC_TARGET_SAMPLES} samples "
                f"(rms {t:.2e}): {nodes}, {k} nodes = 1/{MC_TARGET_SAMPLES / k:.1f} of the "
                f"samples ({'within' if k <= MAX_NODES else 'OVER'} the {MAX_NODES}-node budget)"
            )
            twice = [
                (k, n)
                for k, n in beating
                if res["quadrature"][n]["rms_vs_mc_ref_corrected"] < t / 2
            ]
            if twice:
                k, nodes = min(twice)
                ratio = t / res["quadrature"][nodes]["rms_vs_mc_ref_corrected"]
                print(
                    f"smallest rule with under half that error: {nodes}, {k} nodes "
                    f"({ratio:.1f}x smaller error)"
                )
        else:
            print(
                f"no rule tried beats plain MC with {MC_TARGET_SAMPLES} samples (rms {t:.2e})"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--trials", type=int, default=400, help="trials evaluated (400)"
    )
    parser.add_argument("--study-trials", type=int, default=6000)
    parser.add_argument(
        "--reference",
        type=int,
        default=2**22,
        help="reference samples per trial (2**22)",
    )
    parser.add_argument(
        "--batch", type=int, default=2**16, help="reference batch (2**16)"
    )
    parser.add_argument("--repeats", type=int, default=4, help="keys per MC size (4)")
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 trials, 2**18 reference samples, fewer sizes and rules",
    )
    parser.add_argument(
        "--figure",
        help=f"PNG path (default {os.path.relpath(FIGURE)}; "
        "with --quick, one in the temporary directory)",
    )
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    args.samples, args.rules = SAMPLE_COUNTS, RULES
    if args.quick:
        args.trials, args.reference, args.batch, args.repeats = 100, 2**18, 2**15, 2
        args.samples = (125, 500, 2000)
        args.rules = ((2, 2, 2), (4, 2, 4), (6, 4, 6), (8, 4, 8))
    if args.figure is None:
        args.figure = (
            os.path.join(tempfile.gettempdir(), "estimator_accuracy_quick.png")
            if args.quick
            else FIGURE
        )
    if (
        args.trials < 1
        or args.trials > args.study_trials
        or args.reference % args.batch
        or args.reference // args.batch < 2
        or args.repeats < 1
    ):
        parser.error(
            "need 1 <= trials <= study-trials, reference = k * batch with k >= 2, "
            "repeats >= 1"
        )
    info = fg.machine()
    res = measure(args)
    load_after = os.getloadavg()
    report(res, info, load_after)
    plot(res, args.figure)
    print(f"\nfigure: {os.path.relpath(args.figure)}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "machine": info,
                    "load_after": load_after,
                    "results": {
                        **res,
                        "quadrature": {str(k): v for k, v in res["quadrature"].items()},
                    },
                },
                f,
                indent=1,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
