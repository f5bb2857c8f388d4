r"""NUTS on the full WPPM at a realistic size: wall time, divergences, R-hat, ESS.

The study: 2-D, basis_degree 4, one extra embedding dimension, Hong et al.'s
prior scale (``variance_scale=3e-4``, ``decay_rate=0.4``), the deterministic
``estimator="quadrature"`` likelihood, and 3,000 oddity trials (120 at each
of 25 grid references, comparisons at uniform directions and distances)
simulated from one known field drawn from the prior. Steps:

1. MAP by clipped SGD (``optax.chain(clip_by_global_norm(1), sgd(lr,
   momentum=0.9))`` through ``MAPOptimizer``), from a prior draw.
2. With ``--mass auto``: two short pilot runs from the MAP, 4 chains each,
   with a diagonal and a dense mass matrix; the one with more bulk ESS of
   the identified quantities per CPU second is used for the main run. The
   default is the diagonal mass matrix, which was measured better here (see
   ``benchmarks/README.md``).
3. The main run: ``NUTSSampler`` with 4 chains from the MAP, run in
   parallel threads (4 host devices; vectorised on one with
   ``--vectorised``). The chains start at the MAP turned by
   random rotations of the embedding (the same density, far apart), or, with
   ``--fix-rotations``, on the gauge-fixed ``W``
   (``NUTSSampler(fix_rotations=True)``, the block on the MAP's principal
   axes) at the MAP and jittered copies; with ``--precondition laplace``
   as well, in the Laplace eigenbasis at the mode, from draws of that
   approximation (``NUTSSampler(precondition="laplace")``), and with
   ``--beside-plain`` the same run again without it, printed with the
   ratios of wall time, CPU time and least bulk ESS per gradient and per
   second (the new configuration beside today's default, issue 17 part 1).
4. Diagnostics with ArviZ (``az.rhat``, ``az.ess``): for every entry of
   ``W`` as sampled, for every entry of ``W`` after an orthogonal Procrustes
   alignment of each draw to the MAP, and for the identified quantities
   :math:`\Sigma_{11}, \Sigma_{12}, \Sigma_{22}` at a 5 x 5 grid of
   references; how far each chain turned along the rotation orbit.

5. With more than one platform (``--platforms``; by default every one JAX
   finds, so a GPU when one is present), the main run again on each, its
   chains vectorised there, printed with its wall-time ratio to the CPU's.
   Pilots and the stopped run use the first platform.

6. With ``--min-ess``, before the main run, the same run with
   ``NUTSSampler(min_ess=...)`` (so that it pays for any compilation the two
   share): the same warm-up and draws, stopped at the first check (every
   ``--check-every`` draws per chain) where every sampled entry (with
   ``--watch field``, every Sigma(x) entry at the 5 x 5 grid) has bulk ESS
   >= the bar and R-hat <= 1.01, printed beside the main run with the ratios
   of wall time, CPU time and least ESS per second.

Why the alignment: likelihood and prior depend on ``W`` only through
:math:`U(x) U(x)^T`, so ``W R`` (``R`` orthogonal, acting on the embedding
axis) has the same posterior density as ``W``. A single ``W`` entry is not
identified: its posterior spreads over the whole orbit, which the chains
must cross by slow diffusion, and chains started from one MAP see different
parts of it. Aligning each draw to the MAP, :math:`R^* = \arg\min_R
\lVert W R - W_{MAP} \rVert`, removes the rotation; what is left is a function
of the identified field.

Usage::

    python benchmarks/nuts_full.py                 # the default run
    python benchmarks/nuts_full.py --quick         # a few minutes, small sizes
    python benchmarks/nuts_full.py --mass auto --json out.json   # with pilots
    python benchmarks/nuts_full.py --warmup 500 --samples 1000   # for ESS >= 400
    python benchmarks/nuts_full.py --trials 2000 --quadrature 6 3 6 --fix-rotations
    python benchmarks/nuts_full.py --fix-rotations --samples 600 --min-ess 400
    python benchmarks/nuts_full.py --trials 6000 --quadrature 3 3 6 --fix-rotations \
        --precondition laplace --samples 600 --min-ess 400
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
import warnings

import numpyro

# Four CPU "devices", so that NUTSSampler runs its 4 chains in parallel threads
# (measured here: 1.4x the throughput of 4 vectorised chains on 2 cores). Must
# come before JAX starts its backend. --vectorised keeps one device: memory
# grows while chains run on several host devices (parallel_memory.py), which
# limits long runs.
if "--vectorised" not in sys.argv[1:]:
    numpyro.set_host_device_count(4)

import jax
import numpy as np
import optax

with warnings.catch_warnings():  # arviz 0.23 announces its refactor on import
    warnings.simplefilter("ignore", FutureWarning)
    import arviz as az

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import full_gradient as fg  # noqa: E402  (the benchmarks' shared helpers)

import psyphy_numpyro as pn
from psyphy_numpyro.core.design import comparisons_along_directions, reference_points
from psyphy_numpyro.core.readouts import (
    covariance_entries,
    covariance_field,
    reference_grid,
)
from psyphy_numpyro.core.tasks import OddityTaskConfig
from psyphy_numpyro.core.trials import TrialData

SIGMA_ENTRIES = (("Sigma11", 0, 0), ("Sigma12", 0, 1), ("Sigma22", 1, 1))


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# -- the study -------------------------------------------------------------------------
def make_model(args) -> pn.WPPM:
    prior = pn.Prior(input_dim=2, basis_degree=args.degree,
                     variance_scale=args.variance_scale, decay_rate=0.4,
                     extra_embedding_dims=args.extra_dims)
    config = OddityTaskConfig(estimator="quadrature", quadrature=tuple(args.quadrature))
    return pn.WPPM(prior, pn.OddityTask(config=config), pn.GaussianNoise())


def simulate_study(model: pn.WPPM, args) -> tuple[dict, TrialData]:
    key_truth, key_design, key_resp = jax.random.split(jax.random.PRNGKey(args.seed), 3)
    truth = model.init_params(key_truth)
    refs = reference_points(25, 2, method="grid")  # -0.8, -0.4, 0, 0.4, 0.8 per axis
    per_ref = -(-args.trials // refs.shape[0])
    ref, probe = comparisons_along_directions(
        key_design, refs, per_ref, min_distance=0.01, max_distance=args.max_distance)
    ref, probe = ref[: args.trials], probe[: args.trials]
    y = pn.simulate_responses(key_resp, model, truth, ref, probe)
    return truth, TrialData(np.stack([ref, probe], axis=1), y)


# -- rotation-aware summaries -------------------------------------------------------
def procrustes_align(W: np.ndarray, W_ref: np.ndarray):
    r"""Rotate each draw onto ``W_ref``: :math:`\min_{R \in O(E)} \lVert W R - W_{ref}
    \rVert_F`.

    Parameters
    ----------
    W
        Draws, shape ``(..., *basis, input_dim, E)``.
    W_ref
        Target, shape ``(*basis, input_dim, E)``.

    Returns
    -------
    aligned
        ``W R``, shape of ``W``.
    angle
        Rotation angle of ``R`` in degrees (of ``-R`` when ``R`` reflects and
        ``E`` is odd), shape ``W.shape[:-len(W_ref.shape)]``.
    reflect
        True where ``det R < 0``.
    """
    E = W_ref.shape[-1]
    lead = W.shape[: W.ndim - W_ref.ndim]
    M = W.reshape(lead + (-1, E)).astype(np.float64)
    M0 = W_ref.reshape(-1, E).astype(np.float64)
    U, _, Vt = np.linalg.svd(np.swapaxes(M, -1, -2) @ M0)
    R = U @ Vt
    det = np.linalg.det(R)
    proper = np.where((det < 0)[..., None, None] & (E % 2 == 1), -R, R)
    cos = np.clip((np.trace(proper, axis1=-2, axis2=-1) - 1.0) / 2.0, -1.0, 1.0)
    angle = np.degrees(np.arccos(cos)) if E == 3 else np.full(lead, np.nan)
    return (M @ R).reshape(W.shape), angle, det < 0


def diagnostics(draws: dict) -> dict:
    """R-hat and ESS ranges per variable (``(chain, draw, ...)`` arrays)."""
    ds = az.convert_to_dataset({k: np.asarray(v) for k, v in draws.items()})
    rhat, bulk, tail = az.rhat(ds), az.ess(ds, method="bulk"), az.ess(ds, method="tail")
    out = {}
    for name in draws:
        r, b, t = (np.asarray(x[name]).ravel() for x in (rhat, bulk, tail))
        # entries fixed at zero by the gauge (the block's upper triangle) have
        # no R-hat: leave them out
        moving = np.ptp(np.asarray(draws[name]).reshape(-1, r.size), axis=0) > 0
        index = np.flatnonzero(moving)
        r, b, t = r[moving], b[moving], t[moving]
        shape = np.shape(draws[name])[2:]
        worst = np.argsort(b)[:5]
        out[name] = {
            "worst_ess_bulk": [
                {"index": [int(i) for i in np.unravel_index(index[j], shape)],
                 "ess_bulk": float(b[j]), "rhat": float(r[j])} for j in worst],
            "n": int(r.size),
            "rhat_max": float(np.max(r)), "rhat_median": float(np.median(r)),
            "ess_bulk_min": float(np.min(b)), "ess_bulk_median": float(np.median(b)),
            "ess_tail_min": float(np.min(t)),
            "n_rhat_ok": int(np.sum(r <= 1.01)), "n_ess_ok": int(np.sum(b >= 400)),
        }
    return out


def run_nuts(model, data, init, args, *, dense: bool, warmup: int, samples: int,
             seed: int, min_ess: float | None = None, plain: bool = False):
    sampler = pn.NUTSSampler(num_warmup=warmup, num_samples=samples,
                             num_chains=args.chains, seed=seed, dense_mass=dense,
                             target_accept_prob=args.target_accept,
                             progress_bar=args.progress,
                             fix_rotations=args.fix_rotations, min_ess=min_ess,
                             check_every=args.check_every,
                             watch="parameters" if min_ess is None else args.watch,
                             precondition=None if plain else args.precondition)
    start, cpu = time.perf_counter(), time.process_time()
    with warnings.catch_warnings():
        # divergences are reported below
        warnings.simplefilter("ignore", RuntimeWarning)
        post = sampler.fit(model, data, init_params=init)
    jax.block_until_ready(post.samples)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    extra, W = post.extra_fields, np.asarray(post.draws["W"])
    # a run stopped at an ESS bar ran in blocks and keeps no MCMC object
    step = (np.nan if post.mcmc is None
            else float(np.mean(post.mcmc.last_state.adapt_state.step_size)))
    return post, W, {
        "mass": "dense" if dense else "diag", "warmup": warmup,
        "samples": int(post.num_draws), "min_ess": min_ess,
        "fix_rotations": args.fix_rotations,
        "precondition": None if plain else args.precondition,
        "chains": args.chains, "seconds": seconds, "cpu_seconds": cpu,
        "divergences": post.num_divergences,
        "mean_steps": float(np.mean(extra["num_steps"])),
        "max_steps": int(np.max(extra["num_steps"])),
        "step_size": step,
        "accept_prob": float(np.mean(extra["accept_prob"])),
    }


def summarize_run(model, W, W_map, refs, info) -> dict:
    aligned, angle, reflect = procrustes_align(W, W_map)
    sigma = covariance_entries(model, {"W": W}, refs)
    diag = diagnostics({"W": W, "W_aligned": aligned, **sigma})
    info = dict(info)
    info["diagnostics"] = diag
    info["orbit"] = {
        "angle_median_per_chain": np.median(angle, axis=1).round(1).tolist(),
        "angle_max_per_chain": np.max(angle, axis=1).round(1).tolist(),
        "reflected_draws": int(np.sum(reflect)),
    }
    sig = [diag[name] for name, _, _ in SIGMA_ENTRIES]
    info["sigma_ess_bulk_median"] = float(np.median([d["ess_bulk_median"]
                                                     for d in sig]))
    info["sigma_ess_bulk_min"] = float(min(d["ess_bulk_min"] for d in sig))
    # the bar: the least bulk ESS over every Sigma(x) and every W entry,
    # per gradient of the kept draws and per second of the whole run
    info["ess_bulk_min"] = min(info["sigma_ess_bulk_min"], diag["W"]["ess_bulk_min"])
    gradients = info["chains"] * info["samples"] * info["mean_steps"]
    info["ess_min_per_1000_gradients"] = 1000.0 * info["ess_bulk_min"] / gradients
    info["ess_min_per_s"] = info["ess_bulk_min"] / info["seconds"]
    return info


def format_run(title: str, info: dict) -> str:
    lines = [
        (f"== {title}: {info['chains']} chains x ({info['warmup']} warm-up + "
         f"{info['samples']} draws), {info['mass']} mass"
         + (f" in the {info['precondition']} basis" if info["precondition"] else "")
         + f", {info['seconds']:.0f} s "
         f"(process CPU {info['cpu_seconds']:.0f} s)"),
        (f"   divergences {info['divergences']}, leapfrog steps per iteration mean "
         f"{info['mean_steps']:.1f} (max {info['max_steps']}), step size "
         f"{info['step_size']:.3g}, accept {info['accept_prob']:.2f}"),
        (f"   {'quantity':12s} {'n':>4s} {'R-hat max':>9s} {'R-hat med':>9s} "
         f"{'ESS bulk min':>12s} {'ESS bulk med':>12s} {'ESS tail min':>12s} "
         f"{'R-hat<=1.01':>11s} {'ESS>=400':>8s}"),
    ]
    for name, d in info["diagnostics"].items():
        lines.append(
            f"   {name:12s} {d['n']:4d} {d['rhat_max']:9.3f} {d['rhat_median']:9.3f} "
            f"{d['ess_bulk_min']:12.0f} {d['ess_bulk_median']:12.0f} "
            f"{d['ess_tail_min']:12.0f} {d['n_rhat_ok']:11d} {d['n_ess_ok']:8d}")
    lines.append(
        f"   least bulk ESS over W and Sigma(x): {info['ess_bulk_min']:.0f}; per 1,000 "
        f"gradients of the kept draws {info['ess_min_per_1000_gradients']:.2f}, per "
        f"second of the run {info['ess_min_per_s']:.3f}")
    worst = info["diagnostics"]["W"]["worst_ess_bulk"]
    lines.append("   W entries with the least bulk ESS (index: ESS, R-hat): " + ", ".join(
        f"{tuple(w['index'])}: {w['ess_bulk']:.0f}, {w['rhat']:.3f}" for w in worst))
    o = info["orbit"]
    lines.append(f"   rotation of the draws away from the MAP (Procrustes angle, deg): "
                 f"median per chain {o['angle_median_per_chain']}, max per chain "
                 f"{o['angle_max_per_chain']}; reflected draws {o['reflected_draws']}")
    return "\n".join(lines)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true",
                   help="small sizes (300 trials, degree 2, short runs): a smoke test")
    p.add_argument("--trials", type=int, default=3000)
    p.add_argument("--degree", type=int, default=4)
    p.add_argument("--extra-dims", type=int, default=1)
    p.add_argument("--variance-scale", type=float, default=3e-4)
    p.add_argument("--quadrature", type=int, nargs=3, default=(6, 4, 6),
                   metavar=("ANGLES", "RADII", "CHORDS"))
    p.add_argument("--max-distance", type=float, default=0.25,
                   help="largest reference-comparison distance")
    p.add_argument("--map-steps", type=int, default=800)
    p.add_argument("--map-lr", type=float, default=1e-3)
    p.add_argument("--chains", type=int, default=4)
    p.add_argument("--pilot-warmup", type=int, default=100)
    p.add_argument("--pilot-samples", type=int, default=50)
    p.add_argument("--warmup", type=int, default=150)
    p.add_argument("--samples", type=int, default=100)
    p.add_argument("--mass", choices=("auto", "diag", "dense"), default="diag",
                   help="diag (default; measured better, see benchmarks/README.md), "
                   "dense, or auto: run a short pilot with each and keep the better")
    p.add_argument("--target-accept", type=float, default=0.8)
    p.add_argument("--precondition", choices=("laplace",), default=None,
                   help="NUTSSampler(precondition=...): the Laplace eigenbasis")
    p.add_argument("--beside-plain", action="store_true",
                   help="with --precondition: the main run again without it, and ratios")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write all numbers to this file")
    p.add_argument("--fix-rotations", action="store_true",
                   help="sample W with its embedding rotation fixed "
                   "(NUTSSampler(fix_rotations=True))")
    p.add_argument("--vectorised", action="store_true",
                   help="run the chains vectorised on one device rather than in "
                        "parallel on 4 host devices (flat memory; see "
                        "parallel_memory.py)")
    p.add_argument("--min-ess", type=float, default=None,
                   help="after the main run, the same run stopped once every sampled "
                   "entry has bulk ESS >= this and R-hat <= 1.01 "
                   "(NUTSSampler(min_ess=...), --samples draws at most), side by side")
    p.add_argument("--check-every", type=int, default=50,
                   help="draws per chain between the checks of --min-ess")
    p.add_argument("--watch", choices=("parameters", "field"), default="parameters",
                   help="what --min-ess applies to (NUTSSampler(watch=...)): every "
                   "sampled entry, or Sigma(x) at the 5 x 5 grid")
    p.add_argument("--platforms", default="all",
                   help="cpu, gpu, ... comma-separated: the main run on each "
                   "(default: every platform present)")
    p.add_argument("--progress", action="store_true",
                   help="NumPyro's progress bars (to stderr)")
    args = p.parse_args(argv)
    if args.quick:  # a smoke test of every step: no pilots unless --mass auto
        args.trials, args.degree = 300, 2
        args.map_steps, args.pilot_warmup, args.pilot_samples = 300, 30, 20
        args.warmup, args.samples = 50, 50
    for name in ("trials", "degree", "map_steps", "chains", "pilot_warmup",
                 "pilot_samples", "warmup", "samples"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be a positive integer.")
    if args.min_ess is not None and (args.check_every < 4
                                     or args.samples % args.check_every):
        p.error("--check-every must be at least 4 and divide --samples.")
    if args.trials < 25:
        p.error("--trials must be at least 25 (one per reference).")
    return args


def main(argv=None) -> int:
    args = parse_args(argv)
    platforms = fg.platforms(args.platforms)
    model = make_model(args)
    report = {"args": vars(args), "machine": {
        "cpus": os.cpu_count(), "platform": platform.platform(),
        "python": platform.python_version(), "jax": jax.__version__,
        "devices": [str(d) for d in jax.devices()],
        "load_average_start": os.getloadavg(),
    }}
    t0, cpu0 = time.perf_counter(), time.process_time()
    truth, data = simulate_study(model, args)
    log(f"simulated {args.trials} trials, {np.mean(data.responses):.2f} correct")

    start, cpu = time.perf_counter(), time.process_time()
    opt = optax.chain(optax.clip_by_global_norm(1.0),
                      optax.sgd(args.map_lr, momentum=0.9))
    optimizer = pn.MAPOptimizer(steps=args.map_steps, optimizer=opt,
                                show_progress=False)
    map_fit = optimizer.fit(
        model, data, init_params=model.init_params(jax.random.PRNGKey(args.seed + 1)))
    W_map = np.asarray(map_fit.params["W"])
    refs = reference_grid(5)
    s_map = covariance_field(model, map_fit.params, refs)
    s_true = covariance_field(model, truth, refs)
    rel = (np.linalg.norm(s_map - s_true, axis=(1, 2))
           / np.linalg.norm(s_true, axis=(1, 2)))
    report["map"] = {
        "seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - cpu,
        "loss_first": float(map_fit.losses[0]), "loss_last": float(map_fit.losses[-1]),
        "sigma_rel_error_median": float(np.median(rel)),
        "sigma_rel_error_max": float(np.max(rel)),
    }
    log(f"MAP: {report['map']['seconds']:.0f} s, loss {map_fit.losses[0]:.4f} -> "
        f"{map_fit.losses[-1]:.4f}, Sigma relative error median {np.median(rel):.3f}")

    masses = {"auto": (False, True), "diag": (False,), "dense": (True,)}[args.mass]
    pilots = []
    if len(masses) > 1:
        for dense in masses:
            _, W, info = run_nuts(model, data, map_fit, args, dense=dense,
                                  warmup=args.pilot_warmup, samples=args.pilot_samples,
                                  seed=args.seed + 10)
            info = summarize_run(model, W, W_map, refs, info)
            # per CPU second: steadier than wall time on a shared machine
            info["sigma_ess_per_s"] = (info["sigma_ess_bulk_median"]
                                       / info["cpu_seconds"])
            pilots.append(info)
            print(format_run("pilot", info), flush=True)
            print(f"   median bulk ESS of Sigma(x) per CPU second: "
                  f"{info['sigma_ess_per_s']:.3f}", flush=True)
        best = max(pilots, key=lambda i: i["sigma_ess_per_s"])
        dense = best["mass"] == "dense"
    else:
        dense = masses[0]
    report["pilots"] = pilots

    stopped = None
    if args.min_ess is not None:
        # the same run, stopped at the bar; first, so that it, not the main
        # run, pays for compiling what the two share
        _, W_stop, info = run_nuts(model, data, map_fit, args, dense=dense,
                                   warmup=args.warmup, samples=args.samples,
                                   seed=args.seed + 20, min_ess=args.min_ess)
        stopped = report["stopped"] = summarize_run(model, W_stop, W_map, refs, info)
    by_platform = {}
    for name in platforms:  # the first is the main run; others print beside it
        with jax.default_device(jax.devices(name)[0]):
            _, W_run, info = run_nuts(model, data, map_fit, args, dense=dense,
                                      warmup=args.warmup, samples=args.samples,
                                      seed=args.seed + 20)
        kind = jax.devices(name)[0].device_kind
        info["platform"] = name if kind == name else f"{name} ({kind})"
        by_platform[name] = summarize_run(model, W_run, W_map, refs, info)
        if name == platforms[0]:
            W = W_run
    main_run = by_platform[platforms[0]]
    plain = None
    if args.beside_plain and args.precondition:
        _, W_plain, info = run_nuts(model, data, map_fit, args, dense=dense,
                                    warmup=args.warmup, samples=args.samples,
                                    seed=args.seed + 20, plain=True)
        plain = report["plain"] = summarize_run(model, W_plain, W_map, refs, info)
    # the truth inside the 90% band of each Sigma entry (identified quantities)
    sig = covariance_entries(model, {"W": W}, refs)
    inside = []
    for name, a, b in SIGMA_ENTRIES:
        lo, hi = np.percentile(sig[name].reshape(-1, refs.shape[0]), [5, 95], axis=0)
        inside.append((lo <= s_true[:, a, b]) & (s_true[:, a, b] <= hi))
    main_run["sigma_truth_in_90_band"] = float(np.mean(inside))
    report["main"] = main_run
    report["main_by_platform"] = by_platform
    report["total_seconds"] = time.perf_counter() - t0
    report["total_cpu_seconds"] = time.process_time() - cpu0
    report["machine"]["load_average_end"] = os.getloadavg()
    print(format_run(f"main run on {main_run['platform']}", main_run), flush=True)
    print(f"   true Sigma(x) entries inside their 90% bands: "
          f"{100 * main_run['sigma_truth_in_90_band']:.0f}% of {3 * refs.shape[0]}",
          flush=True)
    for name in platforms[1:]:
        other = by_platform[name]
        print(format_run(f"the same run on {other['platform']}", other), flush=True)
        print(f"   against {platforms[0]}: wall time x"
              f"{other['seconds'] / main_run['seconds']:.2f}, least bulk ESS per second "
              f"x{other['ess_min_per_s'] / main_run['ess_min_per_s']:.2f}", flush=True)
    if plain is not None:
        print(format_run("the same run in NumPyro's coordinates (no precondition)", plain),
              flush=True)
        ratio = {key: main_run[key] / plain[key] for key in (
            "seconds", "cpu_seconds", "ess_min_per_1000_gradients", "ess_min_per_s")}
        print(f"   the {args.precondition} basis against it: wall time x"
              f"{ratio['seconds']:.2f}, CPU time x{ratio['cpu_seconds']:.2f}, least bulk "
              f"ESS per 1,000 kept gradients x{ratio['ess_min_per_1000_gradients']:.2f}, "
              f"per second x{ratio['ess_min_per_s']:.2f}", flush=True)
    if stopped is not None:
        print(format_run(f"stopped at bulk ESS >= {args.min_ess:g}, R-hat <= 1.01 on "
                         f"the {args.watch}", stopped), flush=True)
        print(f"   against the main run: {stopped['samples']} of {args.samples} draws "
              f"per chain, wall time x{stopped['seconds'] / main_run['seconds']:.2f}, "
              f"CPU time x{stopped['cpu_seconds'] / main_run['cpu_seconds']:.2f}, "
              f"least bulk ESS per second x"
              f"{stopped['ess_min_per_s'] / main_run['ess_min_per_s']:.2f}", flush=True)
    print(f"total wall time {report['total_seconds']:.0f} s, process CPU "
          f"{report['total_cpu_seconds']:.0f} s (MAP "
          f"{report['map']['seconds']:.0f} s, pilots "
          f"{sum(p['seconds'] for p in pilots):.0f} s, main "
          f"{main_run['seconds']:.0f} s"
          + (f", plain {plain['seconds']:.0f} s" if plain else "")
          + (f", stopped {stopped['seconds']:.0f} s" if stopped else "") + "); "
          f"load average {report['machine']['load_average_start'][0]:.1f} at start, "
          f"{report['machine']['load_average_end'][0]:.1f} at end on "
          f"{report['machine']['cpus']} CPUs", flush=True)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=1, default=float)
    return 0


if __name__ == "__main__":
    sys.exit(main())
