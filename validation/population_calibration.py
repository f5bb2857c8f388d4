r"""Calibration of the population WPPM's bands, and their width beside separate fits'.

One replication draws a population from the population model's own prior
(:mod:`psyphy_numpyro.core.population`: the field from the single-observer
prior, :math:`\log\tau` from its Normal prior, unit deviations), simulates
five observers of unequal sizes (400, 200, 100, 30, 10 trials, probes in
every direction at distances 0.1 to 1.5 from the origin) and fits them:

- pooled: :func:`psyphy_numpyro.fit_population` with NUTS;
- separately: each observer alone, Laplace at the MAP (the single-observer
  model, whose prior is the population field's).

It records whether each observer's true ``log_diag`` lies in the central
90% band of each fit, and each band's width. If the sampler and the model
agree, the pooled bands hold the truth in 90% of cases (within the binomial
error); the separate fits assume a prior that is not the one that drew the
observers, so theirs need not.

Model: the seed's MVP (2-D, ``Prior.default(2, scale=0.5)``,
``OddityTask(slope=1.5)``).

Usage::

    python validation/population_calibration.py            # 30 replications
    python validation/population_calibration.py --reps 4   # a smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import psyphy_numpyro as pn
from psyphy_numpyro.core.population import SCALE_SITE, PopulationSpec, observer_params

SIZES = (400, 200, 100, 30, 10)
PROB = 0.9
HERE = os.path.dirname(os.path.abspath(__file__))


def draw_population(pop: PopulationSpec, key: jax.Array) -> dict:
    """Population parameters from the population model's prior."""
    k_field, k_scale, k_dev = jax.random.split(key, 3)
    return {"log_diag_pop": pop.spec.init_params(k_field)["log_diag"],
            SCALE_SITE: pop.scale_loc + pop.scale_sd * jax.random.normal(k_scale),
            "log_diag_dev": jax.random.normal(k_dev, (pop.num_observers, 2))}


def observer_trials(model, theta, n: int, seed: int) -> pn.TrialData:
    rng = np.random.default_rng(seed)
    angle, r = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.1, 1.5, n)
    ref = np.zeros((n, 2))
    probe = np.stack([r * np.cos(angle), r * np.sin(angle)], 1)
    y = pn.simulate_responses(jax.random.PRNGKey(seed), model, {"log_diag": theta}, ref, probe)
    return pn.TrialData(np.stack([ref, probe], 1), y)


def band(draws: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tail = 50 * (1 - PROB)
    return tuple(np.percentile(draws, [tail, 100 - tail], axis=0))


def replicate(model, pop, rep: int, args) -> dict:
    truth = draw_population(pop, jax.random.PRNGKey(10_000 + rep))
    theta = np.asarray(observer_params(pop, truth)["log_diag"])
    datasets = {f"obs{s}": observer_trials(model, theta[s], n, 100 * rep + s)
                for s, n in enumerate(SIZES)}
    pooled = pn.fit_population(model, datasets, method="nuts", num_warmup=args.warmup,
                               num_samples=args.samples, seed=rep, progress_bar=False)
    opt = pn.MAPOptimizer(steps=1000, learning_rate=2e-2, show_progress=False)
    out = {"covered": {"pooled": [], "separate": []}, "width": {"pooled": [], "separate": []}}
    for s, (name, data) in enumerate(datasets.items()):
        separate = pn.LaplaceApproximation().from_map(opt.fit(model, data), data)
        fits = {"pooled": np.asarray(pooled.observer(name).samples["log_diag"]),
                "separate": np.asarray(separate.sample(args.samples,
                                                       key=jax.random.PRNGKey(rep))["log_diag"])}
        for kind, draws in fits.items():
            lo, hi = band(draws)
            out["covered"][kind].append(((lo < theta[s]) & (theta[s] < hi)).tolist())
            out["width"][kind].append((hi - lo).tolist())
    out["tau"] = float(jnp.exp(truth[SCALE_SITE]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--samples", type=int, default=400)
    args = parser.parse_args()
    model = pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5),
                    task=pn.OddityTask(slope=1.5))
    pop = PopulationSpec(model.spec, len(SIZES))
    start, cpu = time.time(), time.process_time()
    runs = []
    for rep in range(args.reps):
        runs.append(replicate(model, pop, rep, args))
        print(f"replication {rep + 1}/{args.reps} done ({time.time() - start:.0f} s)",
              flush=True)
    summary = {"reps": args.reps, "prob": PROB, "sizes": SIZES,
               "wall_s": time.time() - start, "cpu_s": time.process_time() - cpu}
    print(f"\n{args.reps} populations x {len(SIZES)} observers x 2 entries; central "
          f"{PROB:.0%} bands")
    print(f"{'observer trials':>16} {'pooled cover':>13} {'separate cover':>15} "
          f"{'pooled width':>13} {'separate width':>15}")
    for s, n in enumerate(SIZES):
        row = {}
        for kind in ("pooled", "separate"):
            cov = np.array([r["covered"][kind][s] for r in runs], float)
            wid = np.array([r["width"][kind][s] for r in runs], float)
            row[kind] = (float(cov.mean()), float(np.median(wid)))
        summary[f"trials_{n}"] = row
        print(f"{n:>16} {row['pooled'][0]:>13.2f} {row['separate'][0]:>15.2f} "
              f"{row['pooled'][1]:>13.2f} {row['separate'][1]:>15.2f}")
    for kind in ("pooled", "separate"):
        cov = np.array([r["covered"][kind] for r in runs], float)
        se = np.sqrt(PROB * (1 - PROB) / cov.size)
        summary[f"{kind}_coverage"] = float(cov.mean())
        print(f"{kind}: {cov.mean():.3f} of {cov.size} truths covered (binomial se {se:.3f})")
    print(f"wall {summary['wall_s']:.0f} s, CPU {summary['cpu_s']:.0f} s")
    path = os.path.join(HERE, "figures", "population_calibration.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
