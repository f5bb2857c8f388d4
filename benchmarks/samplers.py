r"""Exact samplers on the full WPPM, per gradient: NUTS (two bases), ChEES-HMC, adjusted MCLMC.

Issue 17 asks whether another exact sampler reaches R-hat <= 1.01 and bulk
ESS >= 400 with fewer gradients than NUTS. Every contender samples the same
gauge-fixed posterior (``gauge_fixed_model``, the block on the MAP's principal
axes, as ``NUTSSampler(fix_rotations=True)``) of ``nuts_full.py``'s study, from
the same starts (the MAP plus N(0, 0.1^2) noise in the free coordinates):

- ``nuts``: NumPyro's NUTS, diagonal mass matrix adapted in the warm-up,
  target acceptance 0.8 (the package's default sampler);
- ``nuts_laplace``: the same NUTS in the eigenbasis of the Laplace
  approximation: the mode polished by L-BFGS from the MAP, the Hessian ``H``
  of the potential there, and NumPyro's diagonal adaptation over ``z`` with
  ``x = mode + V diag(lambda)^(-1/2) z`` (``H = V diag(lambda) V'``). A linear
  map with a constant Jacobian: the same posterior, with a dense mass matrix
  whose axes are the Hessian's and whose scales the warm-up adapts. The
  mode and Hessian are timed and counted in gradients (an L-BFGS
  evaluation is one, the Hessian ``2 x`` its size);
- ``chees``: BlackJAX's jittered HMC with the step size, trajectory length and
  a diagonal mass matrix adapted by ChEES over the chains (Adam, learning rate
  0.025, target acceptance 0.651);
- ``mams``: BlackJAX's Metropolis-adjusted microcanonical sampler (adjusted
  MCLMC with a random number of isokinetic McLachlan steps per proposal, the
  momentum fully refreshed), each chain tuned on its own by
  ``adjusted_mclmc_find_L_and_step_size`` (step size by dual averaging to
  ``--mams-accept``, a diagonal preconditioner from the warm-up's draws) at a
  mean of ``--mams-steps`` integration steps per proposal; two gradients per
  step.

Chains are vectorised on one device, so every chain pays for every gradient
either way. The table gives gradients per chain-iteration and in total, the
least bulk ESS and largest R-hat over every ``W`` entry and every
:math:`\Sigma(x)` entry at a 5 x 5 grid, the least ESS per 1,000 kept
gradients, and the gradients needed to reach ``--target-ess`` (warm-up plus
the kept gradients at the measured rate). Times are with the results awaited.

BlackJAX is a benchmark-only tool: ``pip install blackjax`` (the ``bench``
extra).

Usage::

    python benchmarks/samplers.py                      # 500 trials, 8 chains, 400 + 600
    python benchmarks/samplers.py --quick              # a few minutes
    python benchmarks/samplers.py --trials 2000 --chains 8 --warmup 400 --samples 400
    python benchmarks/samplers.py --trials 2000 --chains 4 --warmup 150 --samples 300 \
        --contenders nuts_laplace,nuts
    python benchmarks/samplers.py --contenders mams --mams-steps 32
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer import MCMC, NUTS
from numpyro.infer.util import potential_energy

sys.path.insert(0, str(Path(__file__).resolve().parent))
import nuts_full  # noqa: E402  (the study, shared)

import psyphy_numpyro as pn  # noqa: E402
from psyphy_numpyro.core.gauge import from_free, gauge_fixed_model, principal_frame, to_free  # noqa: E402
from psyphy_numpyro.core.idata import convergence  # noqa: E402
from psyphy_numpyro.core.readouts import covariance_entries, reference_grid  # noqa: E402


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="4 chains, 100 + 100")
    p.add_argument("--trials", type=int, default=500)
    p.add_argument("--chains", type=int, default=8)
    p.add_argument("--warmup", type=int, default=400)
    p.add_argument("--samples", type=int, default=600)
    p.add_argument("--target-ess", type=float, default=400.0)
    p.add_argument("--contenders", default="nuts,chees")
    p.add_argument("--mams-steps", type=float, default=2.0,
                   help="mams: mean integration steps per proposal (BlackJAX's default 2)")
    p.add_argument("--mams-step0", type=float, default=None,
                   help="mams: the tuning's first step size (BlackJAX's default: "
                        "0.2 sqrt(coordinates))")
    p.add_argument("--mams-accept", type=float, default=0.9,
                   help="mams: target acceptance of the step-size tuning")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--quadrature", type=int, nargs=3, default=(6, 3, 6),
                   metavar=("ANGLES", "RADII", "CHORDS"), help="the rule's nodes")
    args = p.parse_args(argv)
    if args.quick:
        args.chains, args.warmup, args.samples = 4, 100, 100
    for name in ("trials", "chains", "warmup", "samples"):
        if getattr(args, name) < 1:
            p.error(f"--{name} must be a positive integer.")
    if args.mams_steps < 1.1:  # BlackJAX's tuning cannot reach fewer (its floor)
        p.error("--mams-steps must be at least 1.1.")
    if not 0 < args.mams_accept < 1:
        p.error("--mams-accept must lie strictly between 0 and 1.")
    if args.mams_step0 is not None and not args.mams_step0 > 0:
        p.error("--mams-step0 must be positive.")
    return args


def run_nuts(target, starts, args):
    model, model_args, model_kwargs = target
    mcmc = MCMC(NUTS(model), num_warmup=args.warmup, num_samples=args.samples,
                num_chains=args.chains, chain_method="vectorized", progress_bar=False)
    key_warm, key_run = jax.random.split(jax.random.PRNGKey(args.seed + 3))
    t, c = time.perf_counter(), time.process_time()
    mcmc.warmup(key_warm, *model_args, init_params={"W_free": starts},
                extra_fields=("num_steps",), collect_warmup=True, **model_kwargs)
    warm_steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
    warm = (time.perf_counter() - t, time.process_time() - c)
    t, c = time.perf_counter(), time.process_time()
    mcmc.run(key_run, *model_args, extra_fields=("num_steps", "diverging"), **model_kwargs)
    free = np.asarray(mcmc.get_samples(group_by_chain=True)["W_free"])
    extra = mcmc.get_extra_fields(group_by_chain=True)
    steps = np.asarray(extra["num_steps"])
    kept = (time.perf_counter() - t, time.process_time() - c)
    return free, warm_steps, steps, int(np.sum(extra["diverging"])), warm, kept


def laplace_basis(potential, mode):
    """The mode polished by L-BFGS and the map ``A`` with ``x = mode + A z``, ``z``
    standard normal under the Laplace approximation there; with the gradients
    (an evaluation each; the Hessian as two per coordinate) and seconds spent."""
    from scipy.optimize import minimize

    value_and_grad = jax.jit(jax.value_and_grad(potential))
    t, c = time.perf_counter(), time.process_time()
    polished = minimize(
        lambda x: tuple(np.asarray(a, np.float64)
                        for a in value_and_grad(jnp.asarray(x, jnp.float32))),
        np.asarray(mode, np.float64), jac=True, method="L-BFGS-B",
        options={"maxiter": 500})
    mode = jnp.asarray(polished.x, jnp.float32)
    H = np.asarray(jax.jit(jax.hessian(potential))(mode), np.float64)
    lam, V = np.linalg.eigh((H + H.T) / 2)
    if lam.min() <= 0:
        raise SystemExit(f"nuts_laplace: the Hessian at the mode is not positive "
                         f"definite (least eigenvalue {lam.min():.3g}).")
    cost = (time.perf_counter() - t, time.process_time() - c)
    log(f"nuts_laplace: mode by L-BFGS in {polished.nfev} evaluations, Hessian "
        f"eigenvalues {lam.min():.3g} to {lam.max():.3g}, {cost[0]:.0f} s")
    return mode, jnp.asarray(V / np.sqrt(lam), jnp.float32), polished.nfev + 2 * mode.size, cost


def run_nuts_laplace(potential, mode, starts, args):
    mode, A, setup_grads, setup_s = laplace_basis(potential, mode)
    kernel = NUTS(potential_fn=lambda z: potential(mode + A @ z))
    mcmc = MCMC(kernel, num_warmup=args.warmup, num_samples=args.samples,
                num_chains=args.chains, chain_method="vectorized", progress_bar=False)
    key_warm, key_run = jax.random.split(jax.random.PRNGKey(args.seed + 3))
    z_starts = jnp.linalg.solve(A, (starts - mode).T).T
    t, c = time.perf_counter(), time.process_time()
    mcmc.warmup(key_warm, init_params=z_starts, extra_fields=("num_steps",),
                collect_warmup=True)
    warm_steps = np.asarray(mcmc.get_extra_fields(group_by_chain=True)["num_steps"])
    warm = (time.perf_counter() - t + setup_s[0], time.process_time() - c + setup_s[1])
    warm_steps = np.append(warm_steps, setup_grads)  # the mode and Hessian, counted in
    t, c = time.perf_counter(), time.process_time()
    mcmc.run(key_run, extra_fields=("num_steps", "diverging"))
    free = np.asarray(mode) + np.asarray(mcmc.get_samples(group_by_chain=True)) @ np.asarray(A).T
    extra = mcmc.get_extra_fields(group_by_chain=True)
    kept = (time.perf_counter() - t, time.process_time() - c)
    return (free, warm_steps, np.asarray(extra["num_steps"]),
            int(np.sum(extra["diverging"])), warm, kept)


def run_chees(logdensity, starts, args):
    import blackjax

    key_warm, key_run = jax.random.split(jax.random.PRNGKey(args.seed + 3))
    adaptation = blackjax.chees_adaptation(logdensity, args.chains,
                                           mass_matrix_estimation="diagonal")
    t, c = time.perf_counter(), time.process_time()
    (states, params), info = adaptation.run(key_warm, starts, 0.05, optax.adam(0.025),
                                            args.warmup)
    warm_steps = np.asarray(info.info.num_integration_steps).T
    warm = (time.perf_counter() - t, time.process_time() - c)
    step = blackjax.dhmc(logdensity, **params).step

    @jax.jit
    def sample(states, key):
        def one(states, k):
            states, info = jax.vmap(step)(jax.random.split(k, args.chains), states)
            return states, (states.position, info.num_integration_steps,
                            info.is_divergent)

        return jax.lax.scan(one, states, jax.random.split(key, args.samples))[1]

    t, c = time.perf_counter(), time.process_time()
    free, steps, divergent = (np.asarray(a).swapaxes(0, 1)
                              for a in sample(states, key_run))
    kept = (time.perf_counter() - t, time.process_time() - c)
    return free, warm_steps, steps, int(divergent.sum()), warm, kept


def run_mams(logdensity, starts, args):
    import blackjax
    from blackjax.adaptation.mclmc_adaptation import MCLMCAdaptationState
    from blackjax.mcmc import adjusted_mclmc_dynamic as mams

    kernel = mams.build_kernel(
        integration_steps_fn=mams.make_random_trajectory_length_fn(True))
    # the tuning runs 2 x frac_tune1 + frac_tune2 = 0.3 of num_steps iterations
    num_steps = int(np.ceil(args.warmup / 0.3))
    dim = starts.shape[1]
    step0 = 0.2 * np.sqrt(dim) if args.mams_step0 is None else args.mams_step0
    # L is pinned to mams_steps x step at entry; too large a first step makes
    # the first pass's trajectories long while dual averaging shrinks the step
    first = MCLMCAdaptationState(args.mams_steps * step0, step0, jnp.ones(dim))

    def tune(start, key):
        key_init, key_tune = jax.random.split(key)
        state = mams.init(start, logdensity, key_init)
        state, params, grads = blackjax.adjusted_mclmc_find_L_and_step_size(
            kernel, logdensity, num_steps, state, key_tune, target=args.mams_accept,
            frac_tune1=0.1, frac_tune2=0.1, diagonal_preconditioning=True,
            params=first, target_num_integration_steps=args.mams_steps)
        return state, params, grads

    def sample(state, params, key):
        def one(state, k):
            state, info = kernel(k, state, logdensity, params.step_size,
                                 inverse_mass_matrix=params.inverse_mass_matrix,
                                 integration_steps_params=(params.L / params.step_size,))
            return state, (state.position, info.num_integration_steps,
                           info.is_divergent, info.acceptance_rate)

        return jax.lax.scan(one, state, jax.random.split(key, args.samples))[1]

    key_warm, key_run = jax.random.split(jax.random.PRNGKey(args.seed + 3))
    t, c = time.perf_counter(), time.process_time()
    states, params, tune_steps = jax.block_until_ready(
        jax.jit(jax.vmap(tune))(starts, jax.random.split(key_warm, args.chains)))
    warm = (time.perf_counter() - t, time.process_time() - c)
    log(f"mams: step sizes {np.round(np.asarray(params.step_size), 4)}, mean steps "
        f"{np.round(np.asarray(params.L / params.step_size), 1)}")
    t, c = time.perf_counter(), time.process_time()
    free, steps, divergent, accept = (np.asarray(a) for a in jax.jit(jax.vmap(sample))(
        states, params, jax.random.split(key_run, args.chains)))
    kept = (time.perf_counter() - t, time.process_time() - c)
    log(f"mams: acceptance {accept.mean(axis=1).round(3)}")
    # isokinetic McLachlan: two gradients per integration step
    return free, 2 * np.asarray(tune_steps), 2 * steps, int(divergent.sum()), warm, kept


def summarize(name, model, scale, frame, result, args):
    free, warm_steps, steps, divergences, warm, kept = result
    C, D = free.shape[:2]
    W = np.asarray(jax.vmap(lambda f: from_free(f, scale, frame)[0])(
        jnp.asarray(free.reshape(C * D, -1)))).reshape(C, D, *scale.shape)
    draws = {"W": W, **covariance_entries(model, {"W": W}, reference_grid(5))}
    ess, rhat = convergence(draws)  # over the entries that move (not the gauge's zeros)
    rate = ess / steps.sum()
    return {"name": name, "warm_grads": int(warm_steps.sum()),
            "kept_grads": int(steps.sum()), "steps": float(steps.mean()),
            "ess": ess, "rhat": rhat, "per_1000": 1000 * rate,
            "to_target": int(warm_steps.sum() + args.target_ess / rate),
            "divergences": divergences, "warm_s": warm, "kept_s": kept}


def gauge_fixed_study(trials: int, quadrature, seed: int, extra_dims: int = 1):
    """``nuts_full.py``'s study, its MAP (clipped SGD) and the gauge-fixed model there.

    Returns ``(model, scale, frame, numpyro_model, model_args, model_kwargs,
    x)``: the WPPM, its prior sd, the MAP's principal frame, the gauge-fixed
    NumPyro model, its arguments (the trials) and the MAP's free coordinates.
    """
    study = nuts_full.parse_args(["--trials", str(trials), "--quadrature",
                                  *map(str, quadrature), "--fix-rotations",
                                  "--extra-dims", str(extra_dims), "--seed", str(seed)])
    model = nuts_full.make_model(study)
    _, data = nuts_full.simulate_study(model, study)
    opt = optax.chain(optax.clip_by_global_norm(1.0), optax.sgd(1e-3, momentum=0.9))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fit = pn.MAPOptimizer(steps=800, optimizer=opt, show_progress=False).fit(
            model, data, init_params=model.init_params(jax.random.PRNGKey(seed + 1)))
    scale = np.asarray(model.prior.stddev())
    frame = principal_frame(fit.params["W"], scale)
    model_args = tuple(jnp.asarray(data.stimuli[:, i]) for i in (0, 1))
    model_kwargs = {"responses": jnp.asarray(data.responses).reshape(-1)}
    return (model, scale, frame, gauge_fixed_model(model, frame), model_args,
            model_kwargs, to_free(fit.params["W"], scale, frame))


def main(argv=None) -> int:
    args = parse_args(argv)
    model, scale, frame, numpyro_model, model_args, model_kwargs, x = gauge_fixed_study(
        args.trials, args.quadrature, args.seed)
    starts = x[None] + 0.1 * jax.random.normal(jax.random.PRNGKey(args.seed + 2),
                                               (args.chains, x.size))

    def logdensity(free):
        return -potential_energy(numpyro_model, model_args, model_kwargs,
                                 {"W_free": free})

    rows = []
    for name in args.contenders.split(","):
        log(f"{name}: {args.chains} chains x ({args.warmup} + {args.samples})")
        if name == "nuts":
            result = run_nuts((numpyro_model, model_args, model_kwargs), starts, args)
        elif name == "nuts_laplace":
            result = run_nuts_laplace(lambda free: -logdensity(free), x, starts, args)
        elif name == "chees":
            result = run_chees(logdensity, starts, args)
        elif name == "mams":
            result = run_mams(logdensity, starts, args)
        else:
            raise SystemExit(f"unknown contender {name!r} (nuts, nuts_laplace, chees, mams)")
        rows.append(summarize(name, model, scale, frame, result, args))

    print(f"{args.trials} trials, quadrature {tuple(args.quadrature)}, {x.size} free "
          f"coordinates, {args.chains} vectorised "
          f"chains x ({args.warmup} warm-up + {args.samples} kept); {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"| sampler | warm-up gradients | kept gradients | per iteration | least bulk "
          f"ESS | max R-hat | ESS per 1,000 kept | gradients to ESS {args.target_ess:.0f} | "
          f"x NUTS | divergences | warm-up s (CPU) | kept s (CPU) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    base = next((r["to_target"] for r in rows if r["name"] == "nuts"), None)
    for r in rows:
        ratio = "" if base is None else f"{base / r['to_target']:.2f}"
        print(f"| {r['name']} | {r['warm_grads']:,} | {r['kept_grads']:,} | "
              f"{r['steps']:.1f} | {r['ess']:.0f} | {r['rhat']:.3f} | {r['per_1000']:.2f} | "
              f"{r['to_target']:,} | {ratio} | {r['divergences']} | "
              f"{r['warm_s'][0]:.0f} ({r['warm_s'][1]:.0f}) | "
              f"{r['kept_s'][0]:.0f} ({r['kept_s'][1]:.0f}) |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
