r"""Simulation-based calibration (SBC) of psyphy_numpyro's NUTS posteriors.

If the prior draws, the simulator and the sampler agree, the rank of the true
value of any scalar quantity among ``L`` posterior draws is uniform on
``{0, ..., L}`` (Talts et al., 2018), and a central ``prob`` credible band
holds the truth in a fraction ``prob`` of the replications. One replication:

1. draw parameters from the prior (``model.init_params``);
2. simulate a study from them (``simulate_trials`` / ``simulate_responses``,
   the same NumPyro model that is fitted);
3. sample the posterior with NumPyro's NUTS on ``model.numpyro_model``
   (one chain from a prior draw, thinned to ``L`` near-independent draws);
4. record the rank of the truth among the draws for every quantity, and
   whether the truth lies inside the 90% band of each threshold.

Replications run in batches: ``jax.vmap`` over a whole NumPyro ``MCMC`` run,
so a batch is one compiled call and compilation is paid once per model. With
several JAX devices (on the CPU, ``XLA_FLAGS=--xla_force_host_platform_device_count=2``)
each device runs an equal share of every batch, so both cores work. With
``--store``, every finished batch is written to a file, and a run that was
stopped carries on from there when started again.

Two models:

- ``mvp``: the seed's MVP (2-D, ``Prior.default(2, scale=0.5)``,
  ``OddityTask(slope=1.5)``), probes around (0, 0). Quantities: both
  ``log_diag`` entries and the threshold along 45 degrees.
- ``full``: a small full WPPM (2-D, basis_degree 2, one extra embedding
  dimension, ``estimator="quadrature"``), references on a 3 x 3 grid.
  Quantities are identified ones: the entries of :math:`\Sigma(x)` at three
  references and thresholds along three (reference, direction) pairs. The
  likelihood and the prior depend on ``W`` only through :math:`U U^T`, so
  ``W -> W R`` (``R`` orthogonal) leaves the posterior unchanged. A single
  ``W`` entry is still a valid SBC quantity (its marginal is the same on both
  components of the orthogonal group), but a uniform rank needs the chain to
  move along the rotation orbit: the ``W`` rows are reported apart, as a
  check of that mixing, not of the model.

Reports: a rank histogram per quantity (PNG in ``validation/figures/``), a
chi-square test on binned ranks and a Kolmogorov-Smirnov test on the ranks
(jittered to a continuous uniform) per quantity, the posterior-to-prior sd
ratio (how much the data taught), the effective sample size of the kept
draws, and the coverage of the 90% threshold bands with its binomial
standard error. The p-values are per quantity: with ``Q`` quantities, judge
the smallest against ``0.05 / Q`` (Bonferroni).

Usage::

    python validation/sbc.py                 # ~10-20 min on 2 cores
    python validation/sbc.py --quick         # ~1 min smoke run
    python validation/sbc.py --models mvp --mvp-reps 1000
    XLA_FLAGS=--xla_force_host_platform_device_count=2 \
        python validation/sbc.py --models full --full-reps 200 --store sbc_runs

References
----------
Talts, S., Betancourt, M., Simpson, D., Vehtari, A. and Gelman, A. (2018).
Validating Bayesian inference algorithms with simulation-based calibration.
arXiv:1804.06788.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.diagnostics import effective_sample_size
from numpyro.infer import MCMC, NUTS, init_to_sample
from scipy import stats

import psyphy_numpyro as pn
from psyphy_numpyro.core.design import comparisons_along_directions, reference_points
from psyphy_numpyro.core.readouts import Contour, contour_band, covariance_field
from psyphy_numpyro.core.tasks import OddityTaskConfig

FIGURES = Path(__file__).resolve().parent / "figures"


# -- ranks, uniformity, coverage (model-free) -------------------------------------
def sbc_ranks(truth: Any, draws: Any, rng: np.random.Generator) -> np.ndarray:
    """Rank of each true value among its posterior draws.

    The rank is the number of draws below the truth, plus a uniform random
    share of the draws equal to it (so ties, e.g. thresholds that are ``inf``
    for the truth and some draws, keep the ranks uniform).

    Parameters
    ----------
    truth
        True values, shape ``(..., Q)``.
    draws
        Posterior draws, shape ``(..., L, Q)``.
    rng
        numpy Generator for the tie-breaking.

    Returns
    -------
    numpy.ndarray
        int ranks in ``[0, L]``, shape ``(..., Q)``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> sbc_ranks([[0.5, 9.0]], [[[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]]], rng).tolist()
    [[1, 3]]
    """
    truth = np.asarray(truth)
    draws = np.asarray(draws)
    if draws.ndim < 2 or draws.shape[:-2] + draws.shape[-1:] != truth.shape:
        raise ValueError(
            f"draws must have shape (..., L, Q) matching truth (..., Q); got truth "
            f"{truth.shape} and draws {draws.shape}."
        )
    if np.isnan(truth).any() or np.isnan(draws).any():
        raise ValueError("truth and draws must not hold NaN (inf is allowed).")
    below = np.sum(draws < truth[..., None, :], axis=-2)
    ties = np.sum(draws == truth[..., None, :], axis=-2)
    return below + rng.integers(0, ties + 1)


class Uniformity(NamedTuple):
    """Tests of uniform ranks for one quantity."""

    counts: np.ndarray  # ranks per bin
    chi2: float
    chi2_p: float
    ks: float
    ks_p: float


def rank_uniformity(
    ranks: Any, num_draws: int, num_bins: int, rng: np.random.Generator
) -> Uniformity:
    """Chi-square and Kolmogorov-Smirnov tests that ranks are uniform on ``{0..L}``.

    The chi-square test bins the ``L + 1`` possible ranks into ``num_bins``
    equal bins (``num_bins`` must divide ``L + 1``). The KS test compares
    ``(rank + U) / (L + 1)``, ``U ~ Uniform(0, 1)``, which is exactly uniform
    on (0, 1) when the ranks are, with the uniform distribution.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> u = rank_uniformity(rng.integers(0, 100, 1000), 99, 10, rng)
    >>> u.counts.sum(), u.chi2_p > 1e-3
    (np.int64(1000), True)
    """
    ranks = np.asarray(ranks).ravel()
    if num_draws < 1 or num_bins < 2 or (num_draws + 1) % num_bins:
        raise ValueError(
            f"num_bins ({num_bins}) must be at least 2 and divide num_draws + 1 "
            f"({num_draws + 1})."
        )
    if ranks.size == 0 or ranks.min() < 0 or ranks.max() > num_draws:
        raise ValueError(f"ranks must lie in [0, {num_draws}] and not be empty.")
    counts = np.bincount(ranks // ((num_draws + 1) // num_bins), minlength=num_bins)
    chi2, chi2_p = stats.chisquare(counts)
    u = (ranks + rng.uniform(size=ranks.size)) / (num_draws + 1)
    ks = stats.kstest(u, "uniform")
    return Uniformity(counts, float(chi2), float(chi2_p), float(ks.statistic),
                      float(ks.pvalue))


def expected_coverage(prob: float, num_draws: int) -> float:
    """Coverage of a central ``prob`` band read from ``num_draws`` exchangeable draws.

    The band's ends are numpy's linearly interpolated percentiles of the
    draws, at positions ``(1 -+ prob) / 2 * (L - 1)`` among the order
    statistics; a new exchangeable value falls between them with probability
    about ``prob * (L - 1) / (L + 1)`` (exactly, when the value is uniform
    between its neighbours): 0.882 for ``prob = 0.9`` and ``L = 99``, not
    ``prob``.

    Examples
    --------
    >>> round(expected_coverage(0.9, 99), 4)
    0.882
    """
    return prob * (num_draws - 1) / (num_draws + 1)


def coverage(inside: Any) -> tuple[float, float]:
    """Fraction of replications whose band holds the truth, and its binomial SE."""
    inside = np.asarray(inside, dtype=float).ravel()
    if inside.size == 0:
        raise ValueError("inside must hold at least one replication.")
    c = float(inside.mean())
    return c, float(np.sqrt(c * (1.0 - c) / inside.size))


# -- one batch of replications: a vmapped NumPyro MCMC run ----------------------------
def batched_nuts(model: Any, *, num_warmup: int, num_draws: int, thinning: int,
                 target_accept_prob: float = 0.8):
    """Compiled ``fn(keys, ref, probe, y) -> (draws, diverging, num_steps)``.

    Each leading index is an independent replication: one NUTS chain
    (NumPyro's ``MCMC``, initialised at a prior draw) on its own data, kept
    every ``thinning``-th iteration for ``num_draws`` draws. ``draws`` has
    shape ``(B, num_draws, *model.prior.shape)``.
    """
    site = model.prior.site

    def one(key, ref, probe, y):
        kernel = NUTS(model.numpyro_model, init_strategy=init_to_sample,
                      target_accept_prob=target_accept_prob)
        mcmc = MCMC(kernel, num_warmup=num_warmup, num_samples=num_draws * thinning,
                    thinning=thinning, progress_bar=False)
        mcmc.run(key, ref, probe, y, extra_fields=("diverging", "num_steps"))
        extra = mcmc.get_extra_fields()
        return mcmc.get_samples()[site], extra["diverging"], extra["num_steps"]

    devices = jax.local_device_count()
    if devices == 1:
        return jax.jit(jax.vmap(one))
    # several (host) devices: each runs its share of the batch, vectorised
    spread = jax.pmap(jax.vmap(one))

    def sampler(*args):
        if args[0].shape[0] % devices:
            raise ValueError(f"the batch ({args[0].shape[0]}) must be a multiple of "
                             f"the {devices} devices.")
        out = spread(*(x.reshape(devices, -1, *x.shape[1:]) for x in args))
        return jax.tree.map(lambda x: x.reshape(-1, *x.shape[2:]), out)

    return sampler


# -- the two studies ------------------------------------------------------------------
@dataclass(frozen=True)
class Study:
    """What one SBC run simulates and samples."""

    name: str
    num_reps: int
    num_trials: int
    num_warmup: int
    num_draws: int  # L: kept draws per replication; L + 1 must be divisible by num_bins
    thinning: int
    batch: int
    num_bins: int = 10
    target_accept_prob: float = 0.8
    settings: dict = field(default_factory=dict)


class Quantities(NamedTuple):
    """Scalar quantities of a stack of parameter sets."""

    names: list[str]
    values: np.ndarray  # (n, Q)
    band_names: list[str]  # thresholds whose 90% band is checked
    contour: Contour | None  # thresholds of every parameter set, for contour_band
    band_index: list[tuple]  # index into contour.radii[n] of each band quantity
    kind: list[str]  # "identified" or "W (rotation)"


def mvp_model() -> Any:
    """The seed's MVP: 2-D, scale 0.5, oddity task with slope 1.5."""
    return pn.WPPM(input_dim=2, prior=pn.Prior.default(2, scale=0.5),
                   task=pn.OddityTask(slope=1.5), noise=pn.GaussianNoise())


def full_model(quadrature: tuple[int, int, int] = (4, 2, 4)) -> Any:
    """A small full WPPM: 2-D, degree 2, one extra dimension, quadrature rule."""
    config = OddityTaskConfig(estimator="quadrature", quadrature=quadrature)
    return pn.WPPM(pn.Prior(input_dim=2, basis_degree=2, extra_embedding_dims=1),
                   pn.OddityTask(config=config), pn.GaussianNoise())


_MVP_ANGLES = 8  # 0, 45, ... degrees
_FULL_REFS = np.array([[0.0, 0.0], [0.5, 0.5], [-0.5, 0.5]])
_FULL_ANGLES = 4  # 0, 90, 180, 270 degrees
_FULL_BANDS = [(0, 0), (0, 1), (1, 1)]  # (reference, direction) pairs
_FULL_W = [(0, 0, 0, 0), (1, 0, 1, 2), (0, 1, 0, 1)]


def mvp_quantities(model: Any, log_diag: np.ndarray) -> Quantities:
    """``log_diag`` entries and the threshold along 45 degrees (closed form)."""
    contour = pn.threshold_contour(model, {"log_diag": log_diag},
                                   num_angles=_MVP_ANGLES)
    values = np.concatenate([log_diag, contour.radii[:, 1:2]], axis=1)
    names = ["log_diag[0]", "log_diag[1]", "threshold 45deg"]
    return Quantities(names, values, names[2:], contour, [(1,)], ["identified"] * 3)


def full_quantities(model: Any, W: np.ndarray) -> Quantities:
    """Sigma(x) entries at three references, thresholds, and three W entries."""
    sigma = covariance_field(model, {"W": W}, _FULL_REFS)  # (n, P, 2, 2)
    contour = pn.threshold_contour(model, {"W": W}, ref=_FULL_REFS,
                                   num_angles=_FULL_ANGLES)
    names, cols = [], []
    for p, ref in enumerate(_FULL_REFS):
        for (a, b), lab in (((0, 0), "11"), ((0, 1), "12"), ((1, 1), "22")):
            names.append(f"Sigma{lab}({ref[0]:g},{ref[1]:g})")
            cols.append(sigma[:, p, a, b])
    band_names = []
    for p, k in _FULL_BANDS:
        ref = _FULL_REFS[p]
        band_names.append(f"threshold ({ref[0]:g},{ref[1]:g}) {90 * k}deg")
        cols.append(contour.radii[:, p, k])
    names += band_names
    kind = ["identified"] * len(names)
    for idx in _FULL_W:
        names.append("W[" + ",".join(map(str, idx)) + "]")
        cols.append(W[(slice(None),) + idx])
        kind.append("W (rotation)")
    return Quantities(names, np.stack(cols, axis=1), band_names, contour,
                      list(_FULL_BANDS), kind)


def simulate_mvp(key, model, params, num_trials, settings):
    data = pn.simulate_trials(key, model, params, num_trials,
                              max_radius=settings.get("max_radius", 1.0))
    trials = model.trials(data)
    return trials.ref, trials.probe, trials.responses


def simulate_full(key, model, params, num_trials, settings):
    refs = reference_points(9, 2, method="grid")  # -2/3, 0, 2/3 per axis
    per_ref = -(-num_trials // refs.shape[0])
    key_design, key_resp = jax.random.split(key)
    ref, probe = comparisons_along_directions(
        key_design, refs, per_ref, min_distance=settings.get("min_distance", 0.02),
        max_distance=settings.get("max_distance", 0.3))
    ref, probe = ref[:num_trials], probe[:num_trials]
    y = pn.simulate_responses(key_resp, model, params, ref, probe)
    return (jnp.asarray(ref, jnp.float32), jnp.asarray(probe, jnp.float32),
            jnp.asarray(y))


STUDIES = {
    "mvp": (mvp_model, simulate_mvp, mvp_quantities),
    "full": (full_model, simulate_full, full_quantities),
}


class SBCResult(NamedTuple):
    """Everything one SBC run recorded."""

    study: Study
    names: list[str]
    kind: list[str]
    truth: np.ndarray  # (R, Q)
    ranks: np.ndarray  # (R, Q)
    post_sd: np.ndarray  # (R, Q)
    ess: np.ndarray  # (R, Q): effective sample size of the kept draws
    band_names: list[str]
    inside: np.ndarray  # (R, len(band_names)) truth inside the 90% band
    divergences: np.ndarray  # (R,)
    mean_steps: np.ndarray  # (R,) leapfrog steps per iteration
    seconds: float
    draws: np.ndarray | None = None  # (R, L, *param shape) with keep_draws
    band_prob: float = 0.9


def simulate_replication(study: Study, model: Any, seed: int, rep: int):
    """Replication ``rep``'s true parameters (a prior draw) and simulated trials.

    Returns ``(params, (ref, probe, responses))``; the same ``seed`` and
    ``rep`` always give the same replication.
    """
    _, simulate, _ = STUDIES[study.name]
    rep_key = jax.random.fold_in(jax.random.PRNGKey(seed), rep)
    key_prior, key_data = jax.random.split(rep_key)
    params = model.init_params(key_prior)
    return params, simulate(key_data, model, params, study.num_trials, study.settings)


_STORED = ("truth", "ranks", "post_sd", "ess", "inside", "div", "steps")


def _store_meta(study: Study, seed: int, band_prob: float) -> str:
    """What a store must match; not ``num_reps``, so a run can be extended."""
    settings = {k: v for k, v in study.__dict__.items() if k != "num_reps"}
    return json.dumps({"study": settings, "seed": seed, "band_prob": band_prob},
                      sort_keys=True)


def _load_store(store: Path, meta: str, batch: int) -> tuple[dict, dict]:
    """The batches a previous run wrote to ``store`` (empty when there is none)."""
    if not store.exists():
        return {k: [] for k in _STORED}, {}
    with np.load(store, allow_pickle=False) as f:
        saved = json.loads(str(f["meta"]))
        if saved.pop("run") != json.loads(meta):
            raise ValueError(f"{store} holds another study, seed or band_prob; "
                             "remove it or pass another --store.")
        out = {k: [f[k]] for k in _STORED}
    if len(out["truth"][0]) % batch:  # only the last batch of a run is short
        raise ValueError(f"{store} ends with a short batch: it cannot be extended.")
    return out, saved


def _save_store(store: Path, meta: str, out: dict, labels: dict) -> None:
    """Write the finished batches atomically (a temporary file, then a rename)."""
    tmp = store.with_name(store.name + ".tmp.npz")
    np.savez(tmp, meta=json.dumps({"run": json.loads(meta), **labels}),
             **{k: np.concatenate(out[k]) for k in _STORED})
    os.replace(tmp, store)


def run_sbc(study: Study, seed: int = 0, *, band_prob: float = 0.9,
            keep_draws: bool = False, log=print, store: Path | None = None) -> SBCResult:
    """Run ``study.num_reps`` replications of one study (see the module docstring).

    ``keep_draws`` keeps every replication's posterior draws in the result.
    ``store``: a ``.npz`` file that every finished batch is written to; the
    batches it already holds (from the same study and seed) are not run again.
    """
    if study.name not in STUDIES:
        raise ValueError(
            f"study.name must be one of {sorted(STUDIES)}, got {study.name!r}.")
    if store is not None and keep_draws:
        raise ValueError("keep_draws is not stored: pass store=None to keep draws.")
    make_model, _, quantities = STUDIES[study.name]
    model = make_model()
    site = model.prior.site
    sampler = batched_nuts(model, num_warmup=study.num_warmup,
                           num_draws=study.num_draws, thinning=study.thinning,
                           target_accept_prob=study.target_accept_prob)
    root = jax.random.PRNGKey(seed)
    start = time.perf_counter()
    meta = _store_meta(study, seed, band_prob)
    out, labels = ({k: [] for k in _STORED}, {}) if store is None else _load_store(
        Path(store), meta, study.batch)
    out["draws"] = []
    done = sum(len(x) for x in out["truth"])
    if done > study.num_reps:
        raise ValueError(f"{store} holds {done} replications, more than the "
                         f"{study.num_reps} asked for.")
    earlier = labels.get("seconds", 0.0)
    if done:
        log(f"[{study.name}] {done} replications read from {store}")
    for first in range(done, study.num_reps, study.batch):
        reps = range(first, min(first + study.batch, study.num_reps))
        # the chains' keys: fold_in(rep key, 1); the data use split(rep key)
        keys = [jax.random.fold_in(jax.random.fold_in(root, r), 1) for r in reps]
        truths, data = [], []
        for r in reps:
            params, trials = simulate_replication(study, model, seed, r)
            truths.append(np.asarray(params[site]))
            data.append(trials)
        # pad a short last batch to the compiled batch size, drop it after
        pad = study.batch - len(reps)
        data += data[-1:] * pad
        args = [jnp.stack([d[i] for d in data]) for i in range(3)]
        chain_keys = jnp.stack(keys + keys[-1:] * pad)
        draws, diverging, steps = (np.asarray(x)[: len(reps)]
                                   for x in sampler(chain_keys, *args))
        B, L = draws.shape[:2]
        flat = draws.reshape(B * L, *draws.shape[2:])
        stack = np.concatenate([np.stack(truths), flat])
        q = quantities(model, stack)
        labels = {"names": q.names, "kind": q.kind, "band_names": q.band_names}
        truth_q, draw_q = q.values[:B], q.values[B:].reshape(B, L, -1)
        out["truth"].append(truth_q)
        # ties are split by a generator of this batch's own, so a run that
        # carries on from a store gives the ranks of an uninterrupted one
        rng = np.random.default_rng([seed, first])
        out["ranks"].append(sbc_ranks(truth_q, draw_q, rng))
        with np.errstate(invalid="ignore"):
            out["post_sd"].append(np.std(draw_q, axis=1))
        finite = np.where(np.isfinite(draw_q), draw_q, np.nan)
        out["ess"].append(np.stack([
            [effective_sample_size(finite[b, None, :, j])
             if np.all(np.isfinite(finite[b, :, j])) and np.ptp(finite[b, :, j]) > 0
             else np.nan for j in range(draw_q.shape[-1])] for b in range(B)]))
        radii = q.contour.radii
        inside = np.zeros((B, len(q.band_names)), dtype=bool)
        for b in range(B):
            drawn = radii[B + b * L: B + (b + 1) * L]
            reached = q.contour.reached[B + b * L: B + (b + 1) * L]
            band = contour_band(q.contour._replace(radii=drawn, reached=reached),
                                band_prob)
            for j, idx in enumerate(q.band_index):
                t = radii[(b,) + idx]
                inside[b, j] = band.lower[idx] <= t <= band.upper[idx]
        out["inside"].append(inside)
        out["div"].append(diverging.sum(axis=1))
        out["steps"].append(steps.mean(axis=1))
        if keep_draws:
            out["draws"].append(draws)
        done = reps[-1] + 1
        seconds = earlier + time.perf_counter() - start
        if store is not None:
            _save_store(Path(store), meta, out, {**labels, "seconds": seconds})
        log(f"[{study.name}] {done}/{study.num_reps} replications, {seconds:.0f} s")
    cat = {k: np.concatenate(v) if v else None for k, v in out.items()}
    return SBCResult(study, labels["names"], labels["kind"], cat["truth"], cat["ranks"],
                     cat["post_sd"], cat["ess"], labels["band_names"], cat["inside"],
                     cat["div"], cat["steps"], earlier + time.perf_counter() - start,
                     cat["draws"], band_prob)


# -- report ---------------------------------------------------------------------------
def summarize(result: SBCResult, seed: int = 0) -> dict:
    """Per-quantity tests and per-band coverage, as plain Python numbers."""
    rng = np.random.default_rng(seed + 1)
    study = result.study
    finite = np.where(np.isfinite(result.truth), result.truth, np.nan)
    prior_sd = np.nanstd(finite, axis=0)
    rows = []
    for j, name in enumerate(result.names):
        u = rank_uniformity(result.ranks[:, j], study.num_draws, study.num_bins, rng)
        sd = result.post_sd[:, j]
        rows.append({
            "quantity": name, "kind": result.kind[j],
            "chi2_p": u.chi2_p, "ks_p": u.ks_p, "counts": u.counts.tolist(),
            "sd_ratio": float(np.nanmedian(sd) / prior_sd[j])
            if np.isfinite(prior_sd[j]) and prior_sd[j] > 0 else float("nan"),
            "ess_median": float(np.nanmedian(result.ess[:, j])),
            "ess_p10": float(np.nanpercentile(result.ess[:, j], 10)),
        })
    bands = []
    for j, name in enumerate(result.band_names):
        c, se = coverage(result.inside[:, j])
        bands.append({"quantity": name, "coverage": c, "se": se})
    pooled = coverage(result.inside)
    L = study.num_draws
    return {
        "study": study.name, "reps": study.num_reps, "trials": study.num_trials,
        "warmup": study.num_warmup, "draws": study.num_draws,
        "thinning": study.thinning, "bins": study.num_bins,
        "seconds": result.seconds, "rows": rows, "bands": bands,
        "pooled_coverage": {"coverage": pooled[0], "se": pooled[1],
                            "n": int(result.inside.size)},
        "band_prob": result.band_prob,
        "expected_coverage": expected_coverage(result.band_prob, L),
        "divergent_reps": int(np.sum(result.divergences > 0)),
        "divergences": int(result.divergences.sum()),
        "mean_leapfrog_steps": float(result.mean_steps.mean()),
    }


def format_summary(s: dict) -> str:
    """The summary table of one study, as text."""
    lines = [
        (f"== {s['study']}: {s['reps']} replications x {s['trials']} trials, NUTS "
         f"{s['warmup']} warm-up + {s['draws']} draws (thinning {s['thinning']}), "
         f"{s['seconds']:.0f} s"),
        (f"   divergences: {s['divergences']} in {s['divergent_reps']} replications; "
         f"mean leapfrog steps per iteration {s['mean_leapfrog_steps']:.1f}"),
        (f"   {'quantity':28s} {'chi2 p':>7s} {'KS p':>7s} {'sd post/prior':>13s} "
         f"{'ESS med':>8s} {'ESS p10':>8s}"),
    ]
    for r in s["rows"]:
        tag = "  (W: rotation mixing)" if r["kind"] != "identified" else ""
        lines.append(
            f"   {r['quantity']:28s} {r['chi2_p']:7.3f} {r['ks_p']:7.3f} "
            f"{r['sd_ratio']:13.2f} {r['ess_median']:8.0f} {r['ess_p10']:8.0f}{tag}")
    ident = [r for r in s["rows"] if r["kind"] == "identified"]
    lo = min(min(r["chi2_p"], r["ks_p"]) for r in ident)
    lines.append(f"   smallest p (identified, {len(ident)} quantities x 2 tests): "
                 f"{lo:.3f}; Bonferroni 5% level {0.05 / (2 * len(ident)):.4f}")
    lines.append(f"   coverage of the {100 * s['band_prob']:g}% threshold bands "
                 f"(expected with {s['draws']} draws: {s['expected_coverage']:.3f}):")
    for b in s["bands"]:
        lines.append(f"   {b['quantity']:28s} {b['coverage']:.3f} +- {b['se']:.3f}")
    p = s["pooled_coverage"]
    lines.append(f"   {'pooled (' + str(p['n']) + ' bands)':28s} "
                 f"{p['coverage']:.3f} +- {p['se']:.3f} (bands of one replication "
                 "are correlated)")
    return "\n".join(lines)


def plot_ranks(result: SBCResult, path: Path) -> None:
    """Rank histograms, one panel per quantity, with the 99% band of a uniform count."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    study = result.study
    Q = len(result.names)
    cols = min(Q, 4)
    rows = -(-Q // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.5 * rows),
                             squeeze=False)
    width = (study.num_draws + 1) // study.num_bins
    R = result.ranks.shape[0]
    lo, hi = stats.binom.ppf([0.005, 0.995], R, 1.0 / study.num_bins)
    for j, ax in enumerate(axes.ravel()):
        if j >= Q:
            ax.axis("off")
            continue
        counts = np.bincount(result.ranks[:, j] // width, minlength=study.num_bins)
        ax.axhspan(lo, hi, color="0.85", zorder=0)
        ax.axhline(R / study.num_bins, color="0.5", lw=0.8)
        ax.bar(np.arange(study.num_bins), counts, width=0.9,
               color="C0" if result.kind[j] == "identified" else "C1")
        ax.set_title(result.names[j], fontsize=9)
        ax.set_xticks([])
    fig.suptitle(f"SBC ranks, {study.name} ({R} replications, {study.num_draws} "
                 "draws; grey: 99% band of a uniform count)", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def default_studies(quick: bool, mvp_reps: int | None = None,
                    full_reps: int | None = None) -> dict[str, Study]:
    """The two studies at full size (~10-20 min on 2 cores) or smoke size (~1 min)."""
    if quick:
        studies = {
            "mvp": Study("mvp", 20, 200, 100, 19, 2, batch=20, num_bins=5,
                         settings={"max_radius": 1.0}),
            "full": Study("full", 2, 90, 60, 19, 1, batch=2, num_bins=5,
                          settings={"max_distance": 0.3}),
        }
    else:
        studies = {
            "mvp": Study("mvp", 500, 300, 300, 99, 2, batch=100,
                         settings={"max_radius": 1.0}),
            "full": Study("full", 40, 200, 150, 99, 2, batch=2,
                          settings={"max_distance": 0.3}),
        }
    if mvp_reps is not None:
        studies["mvp"] = studies["mvp"].__class__(
            **{**studies["mvp"].__dict__, "num_reps": mvp_reps})
    if full_reps is not None:
        studies["full"] = studies["full"].__class__(
            **{**studies["full"].__dict__, "num_reps": full_reps})
    return studies


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="~1 minute smoke run")
    parser.add_argument("--models", default="mvp,full",
                        help="comma-separated: mvp, full (default both)")
    parser.add_argument("--mvp-reps", type=int, default=None)
    parser.add_argument("--full-reps", type=int, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figures", type=Path, default=FIGURES,
                        help="folder for the rank histograms and summary JSON")
    parser.add_argument("--no-figures", action="store_true")
    parser.add_argument("--store", type=Path, default=None,
                        help="folder for each study's finished batches (<study>.npz); "
                             "a stopped run carries on from them")
    args = parser.parse_args(argv)
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = sorted(set(models) - set(STUDIES))
    if unknown or not models:
        parser.error(f"--models must name mvp and/or full, got {args.models!r}.")
    for name, value in (("--mvp-reps", args.mvp_reps), ("--full-reps", args.full_reps)):
        if value is not None and value < 1:
            parser.error(f"{name} must be a positive integer, got {value}.")
    studies = default_studies(args.quick, args.mvp_reps, args.full_reps)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    summaries = []
    for name in models:
        store = None
        if args.store is not None:
            args.store.mkdir(parents=True, exist_ok=True)
            store = args.store / f"{name}{'_quick' if args.quick else ''}.npz"
        result = run_sbc(studies[name], args.seed, log=log, store=store)
        summary = summarize(result, args.seed)
        summaries.append(summary)
        print(format_summary(summary), flush=True)
        if not args.no_figures:
            suffix = "_quick" if args.quick else ""
            plot_ranks(result, args.figures / f"sbc_{name}_ranks{suffix}.png")
    if not args.no_figures:
        suffix = "_quick" if args.quick else ""
        (args.figures / f"sbc_summary{suffix}.json").write_text(
            json.dumps(summaries, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
