"""A simulated closed loop: an :class:`ExperimentSession` against a simulated observer.

:func:`run_simulated_session` answers each asked trial from a known field
(``truth``) and records, every ``eval_every`` answers, how far the latest fit's
thresholds are from the truth (:func:`threshold_error`), with the time of
every proposal and refit. The ``psyphy-numpyro experiment`` command and
``benchmarks/adaptive.py`` run it.
"""

from __future__ import annotations

import math
import os
import time
from typing import Any, NamedTuple

import jax
import numpy as np
from tqdm.auto import tqdm

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.acquisition import CRITERIA
from psyphy_numpyro.core.readouts import reference_grid, threshold_contour
from psyphy_numpyro.core.simulate import simulate_responses
from psyphy_numpyro.experiment.session import ExperimentSession
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement
from psyphy_numpyro.trial_placement.space_filling import PairPlacement

STRATEGIES = (*CRITERIA, "sobol", "random")
"""Placements :func:`run_simulated_session` knows."""


class SimulatedRun(NamedTuple):
    """What a simulated session measured.

    Attributes
    ----------
    strategy
        The placement used.
    num_trials, error
        Answers so far and :func:`threshold_error` of the fit then, at every
        evaluation.
    proposal_seconds
        Wall time of every :meth:`~ExperimentSession.ask` after the warm-up.
    refit_seconds
        Wall time of every refit (from the session file).
    session
        The (closed) session; its file holds every trial, answer and refit.
    """

    strategy: str
    num_trials: np.ndarray
    error: np.ndarray
    proposal_seconds: np.ndarray
    refit_seconds: np.ndarray
    session: ExperimentSession


def threshold_error(model: Any, params: dict, truth: dict, refs: Any,
                    num_angles: int = 24) -> float:
    """Mean absolute log ratio of fitted to true threshold radii, over refs and angles.

    0.1 means thresholds off by about 10% on average. Directions where either
    contour leaves the domain are skipped.
    """
    kwargs = {"ref": refs, "num_angles": num_angles}
    fit = threshold_contour(model, params, **kwargs).radii
    true = threshold_contour(model, truth, **kwargs).radii
    ok = np.isfinite(fit) & np.isfinite(true)
    if not ok.any():
        return float("nan")
    return float(np.mean(np.abs(np.log(fit[ok] / true[ok]))))


def run_simulated_session(
    path: str | os.PathLike,
    model: Any,
    truth: dict,
    *,
    strategy: str = "bald",
    num_trials: int = 2000,
    batch_size: int = 20,
    warmup: int = 200,
    refit_every: int | None = None,
    eval_every: int = 100,
    eval_refs: Any = None,
    seed: int = 0,
    placement_options: dict | None = None,
    progress_bar: bool = True,
) -> SimulatedRun:
    """Run a session of ``num_trials`` answers from ``truth`` with one strategy.

    Parameters
    ----------
    path
        Session file to create.
    model, truth
        The model fitted and the parameters that answer.
    strategy
        One of :data:`STRATEGIES`: the criteria of
        :data:`~psyphy_numpyro.core.acquisition.CRITERIA` place from the
        posterior (:class:`InfoGainPlacement`), ``"sobol"`` continues the
        warm-up's sequence, ``"random"`` places uniformly.
    num_trials, batch_size, warmup
        Answers in all, trials per ``ask``, space-filling trials first.
    refit_every
        Answers between refits; default ``batch_size`` for the posterior
        strategies and, for the others (which need fits only to be measured),
        the largest spacing that puts a refit at every evaluation.
    eval_every
        Answers between error evaluations (a multiple of ``refit_every``).
    eval_refs
        References of :func:`threshold_error`; default ``reference_grid(5)``.
    seed
        Seed of the session and of the observer's answers.
    placement_options
        Extra keywords of :class:`InfoGainPlacement`.
    progress_bar
        Show a tqdm bar over answers.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}.")
    num_trials = check.positive_int("num_trials", num_trials)
    batch_size = check.positive_int("batch_size", batch_size)
    eval_every = check.positive_int("eval_every", eval_every)
    if refit_every is None:  # baselines refit only where an evaluation needs a fit
        refit_every = (batch_size if strategy in CRITERIA
                       else math.gcd(warmup, eval_every) or eval_every)
    refit_every = check.positive_int("refit_every", refit_every)
    if eval_every % refit_every:
        raise ValueError(f"eval_every={eval_every} must be a multiple of "
                         f"refit_every={refit_every}.")
    model = check.wppm(model)
    truth = model.check_params(truth, "truth")
    eval_refs = reference_grid(5) if eval_refs is None else eval_refs
    warmup_radius = 0.25
    if strategy in CRITERIA:
        placement = InfoGainPlacement(model, strategy, seed=seed,
                                      **(placement_options or {}))
    else:
        placement = PairPlacement(np.tile([-1.0, 1.0], (model.input_dim, 1)),
                                  warmup_radius, method=strategy, seed=seed,
                                  start=warmup)
    session = ExperimentSession(path, model, placement=placement,
                                refit_every=refit_every, warmup=warmup,
                                warmup_radius=warmup_radius, seed=seed,
                                max_trials=num_trials)
    counts, errors, proposal_seconds = [], [], []
    key = jax.random.PRNGKey(seed)
    with session, tqdm(total=num_trials, desc=strategy, disable=not progress_bar) as bar:
        while not session.done:
            start = time.perf_counter()
            stimuli = session.ask(batch_size)
            if session.num_answered >= warmup:
                proposal_seconds.append(time.perf_counter() - start)
            key, key_y = jax.random.split(key)
            session.tell(stimuli, simulate_responses(key_y, model, truth, stimuli[:, 0],
                                                     stimuli[:, 1]))
            bar.update(len(stimuli))
            n = session.num_answered
            if session.posterior is not None and n % eval_every == 0:
                counts.append(n)
                errors.append(threshold_error(model, session.posterior.params, truth,
                                              eval_refs))
        refit_seconds = [r.seconds for r in session.store.refits()]
    return SimulatedRun(strategy, np.array(counts), np.array(errors),
                        np.array(proposal_seconds), np.array(refit_seconds), session)
