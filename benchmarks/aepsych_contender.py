"""AEPsych's Gaussian-process placement as a contender of ``adaptive.py`` (optional).

Hong et al. placed their trials with AEPsych: a GP classification model of
p(correct) over (reference x, reference y, offset dx, offset dy), the
look-ahead EAVC acquisition targeting 66.7% correct (probit link), after a
Sobol warm-up, refitted every 20 trials. This module reproduces that placement
inside an :class:`~psyphy_numpyro.ExperimentSession`, so the warm-up (the
session's own Sobol pairs), the simulated observer, the WPPM refits and the
error are exactly those of the other strategies of ``adaptive.py``; only the
trials after the warm-up come from AEPsych.

- Space: references in ``[-1, 1]^2`` (the box of the other strategies; Hong et
  al. used +-0.75), offsets in ``[-0.25, 0.25]^2`` (the warm-up radius, as
  Hong et al.). AEPsych normalises the 4-D box to the unit cube itself
  (parameter transforms of its ``Config``). A proposed offset that would take
  the comparison out of ``[-1, 1]^2`` is turned round along that axis, as
  :func:`~psyphy_numpyro.core.design.pairs_in_box` does; the GP is told the
  offset actually shown.
- Model: ``GPClassificationModel`` with AEPsych's defaults (constant mean,
  scaled ARD RBF kernel with its priors, Bernoulli probit likelihood,
  variational ELBO, 100 inducing points).
- Acquisition: ``aepsych.acquisition.lookahead.EAVC`` with ``target=0.667``
  (level-set look-ahead, threshold ``Phi^-1(0.667)`` on the latent), its
  default global query set of 256 Sobol points, optimised by
  ``OptimizeAcqfGenerator`` (botorch ``optimize_acqf``; 1,024 raw samples).
- Batches: EAVC proposes one point at a time (AEPsych warns and returns one
  point when asked for more, and ignores pending points). Two ways to fill a
  batch of ``batch_size``, chosen by ``batch_mode``:
  ``"restarts"`` (default): one EAVC optimisation per batch with
  ``batch_size`` restarts, every restart's local optimum kept
  (``optimize_acqf(..., return_best_only=False)``): the batch is the set of
  local maxima reached from different starting points (duplicates possible);
  ``"sequential"``: ``batch_size`` separate asks on the same fitted GP with no
  tells between them (each optimisation starts from fresh random raw samples,
  so the points differ only by the optimiser's randomness).
  Pass ``batch_size=1`` for Hong et al.'s one-trial-at-a-time loop.
- Refits: the GP is refitted from scratch whenever answers arrived since the
  last proposal, i.e. every ``batch_size`` (20) answers -- Hong et al.'s
  cadence. (Hong et al. told after every trial and warm-started the fit in
  between; here no answer arrives inside a batch.)
- Timing: ``proposal_seconds`` is the wall time of each AEPsych proposal,
  including the GP refit, per batch; ``refit_seconds`` are the WPPM refits
  from the session file, as in :func:`run_simulated_session`.

Needs ``aepsych`` (0.8.0 tested; it pins numpy<2 and scipy 1.14.1, so it lives
in its own environment next to this package, e.g. ``/work/aepsych-venv``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
import warnings
from typing import Any, NamedTuple

import jax
import numpy as np

from psyphy_numpyro import ExperimentSession, TrialBatch, simulate_responses
from psyphy_numpyro.core.readouts import reference_grid
from psyphy_numpyro.experiment.simulate import threshold_error

BOUNDS = np.array([[-1.0, 1.0], [-1.0, 1.0]])
RADIUS = 0.25
TARGET = 0.667
#: AEPsych settings; the defaults are AEPsych's own (restarts follow batch_mode).
SAMPS = int(os.environ.get("AEPSYCH_SAMPS", 1024))
QUERY_SET_SIZE = int(os.environ.get("AEPSYCH_QUERY_SET_SIZE", 256))
BATCH_MODE = os.environ.get("AEPSYCH_BATCH_MODE", "restarts")
RESTARTS = 10  # AEPsych's default, used by the "sequential" mode


@contextlib.contextmanager
def _in_folder(path: str):
    old = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def _import_aepsych():
    """Import AEPsych without letting it create ``./logs`` in the caller's folder."""
    with _in_folder(tempfile.mkdtemp(prefix="aepsych_logs_")):
        import aepsych  # noqa: F401
        from aepsych.config import Config
        from aepsych.strategy import SequentialStrategy
    for name in ("aepsych", ""):  # AEPsych's logger prints every fit and gen at INFO
        logging.getLogger(name).setLevel(logging.WARNING)
    return Config, SequentialStrategy


def _config(restarts: int) -> str:
    lines = ["[common]", "parnames = [ref_x, ref_y, dx, dy]", "stimuli_per_trial = 1",
             "outcome_types = [binary]", "strategy_names = [opt_strat]", ""]
    for name, (lo, hi) in zip(["ref_x", "ref_y", "dx", "dy"],
                              [*BOUNDS.tolist(), [-RADIUS, RADIUS], [-RADIUS, RADIUS]]):
        lines += [f"[{name}]", "par_type = continuous", f"lower_bound = {lo}",
                  f"upper_bound = {hi}", ""]
    lines += ["[opt_strat]", "generator = OptimizeAcqfGenerator",
              "model = GPClassificationModel",
              # refit from scratch whenever data arrived (every batch of answers)
              "refit_every = 1", "min_asks = 100000000", "",
              "[GPClassificationModel]", "inducing_size = 100", "",
              "[OptimizeAcqfGenerator]", "acqf = EAVC", f"restarts = {restarts}",
              f"samps = {SAMPS}", "",
              "[EAVC]", f"target = {TARGET}", "lookahead_type = levelset",
              f"query_set_size = {QUERY_SET_SIZE}", ""]
    return "\n".join(lines)


class AEPsychPlacement:
    """A session placement whose batches come from an AEPsych EAVC strategy.

    :meth:`record` every answered batch (what was given to ``session.tell``);
    each :meth:`propose` tells AEPsych the answers recorded since the last
    one, then asks. (The session may call ``propose`` from a worker thread, so
    the placement keeps its own copy rather than reading the session's file.)
    """

    def __init__(self, batch_mode: str = BATCH_MODE, seed: int = 0) -> None:
        if batch_mode not in ("restarts", "sequential"):
            raise ValueError(f"batch_mode must be 'restarts' or 'sequential', got "
                             f"{batch_mode!r}.")
        import torch

        Config, SequentialStrategy = _import_aepsych()
        self.batch_mode, self.seed = batch_mode, seed
        self._torch = torch
        self._config, self._strategy_cls = Config, SequentialStrategy
        self.strategy = None
        self._new: list[tuple[np.ndarray, np.ndarray]] = []
        self.num_told = 0
        self.proposal_seconds: list[float] = []
        self.distinct: list[int] = []  # distinct points per batch

    def record(self, stimuli: Any, responses: Any) -> None:
        """Keep answered trials ``(m, 2, 2)`` and their answers for the next tell."""
        self._new.append((np.asarray(stimuli, dtype=float),
                          np.asarray(responses, dtype=float).reshape(-1)))

    def _tell_new(self) -> None:
        if not self._new:
            return
        stimuli = np.concatenate([s for s, _ in self._new])
        y = np.concatenate([r for _, r in self._new])
        self._new = []
        ref, probe = stimuli[:, 0], stimuli[:, 1]
        self.strategy.add_data(np.concatenate([ref, probe - ref], axis=1), y)
        self.num_told += len(y)

    def _restart_optima(self, n: int):
        """EAVC's local optima from ``n`` restarts of one optimisation, best first.

        The same steps as ``Strategy.gen`` (fit when answers arrived, the
        generator's EAVC and bounds in AEPsych's normalised space, then
        untransform), but keeping every restart (``return_best_only=False``),
        which ``Strategy.gen`` cannot return.
        """
        from botorch.optim import optimize_acqf

        strat = self.strategy.strat_list[0]
        if not strat._model_is_fresh:
            strat.fit()
            strat._model_is_fresh = True
        strat._count += n
        gen = strat.generator._base_obj
        strat.model.eval()
        acqf = gen._instantiate_acquisition_fn(strat.model)
        x, value = optimize_acqf(acq_function=acqf,
                                 bounds=self._torch.stack([gen.lb, gen.ub]), q=1,
                                 num_restarts=n, raw_samples=gen.samps,
                                 return_best_only=False)
        x = x.reshape(n, -1)[self._torch.argsort(value.reshape(-1), descending=True)]
        return strat.generator.transforms.untransform(x)

    def propose(self, posterior: Any, batch_size: int) -> TrialBatch:
        del posterior  # AEPsych keeps its own GP
        start = time.perf_counter()
        if self.strategy is None:
            self._torch.manual_seed(self.seed)
            restarts = batch_size if self.batch_mode == "restarts" else RESTARTS
            self.strategy = self._strategy_cls.from_config(
                self._config(config_str=_config(restarts)))
        self._tell_new()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.batch_mode == "restarts":
                points = self._restart_optima(batch_size)
            else:
                points = self._torch.cat([self.strategy.gen(1) for _ in range(batch_size)])
        x = np.asarray(points.detach().cpu().numpy(), dtype=float).reshape(-1, 4)
        x = x[:batch_size]
        if len(x) < batch_size:  # optimize_acqf returned fewer: repeat the best
            x = np.concatenate([x, np.repeat(x[:1], batch_size - len(x), axis=0)])
        self.proposal_seconds.append(time.perf_counter() - start)
        self.distinct.append(len(np.unique(np.round(x, 6), axis=0)))
        ref = np.clip(x[:, :2], BOUNDS[:, 0], BOUNDS[:, 1])
        offset = np.clip(x[:, 2:], -RADIUS, RADIUS)
        outside = (ref + offset > BOUNDS[:, 1]) | (ref + offset < BOUNDS[:, 0])
        probe = ref + np.where(outside, -offset, offset)
        return TrialBatch(np.stack([ref, probe], axis=1))


class AEPsychRun(NamedTuple):
    """What an AEPsych-placed simulated session measured (as ``SimulatedRun``)."""

    strategy: str
    num_trials: np.ndarray
    error: np.ndarray
    proposal_seconds: np.ndarray
    refit_seconds: np.ndarray
    distinct_per_batch: np.ndarray
    session: ExperimentSession


def run(path: str | os.PathLike, model: Any, truth: dict, *, num_trials: int = 2000,
        warmup: int = 200, batch_size: int = 20, eval_every: int = 100, seed: int = 0,
        batch_mode: str = BATCH_MODE) -> AEPsychRun:
    """Run one simulated session whose post-warm-up trials AEPsych places.

    Mirrors :func:`psyphy_numpyro.experiment.simulate.run_simulated_session`
    (same warm-up, observer, WPPM refits every ``eval_every`` answers and
    :func:`threshold_error` on ``reference_grid(5)``).
    """
    if eval_every % batch_size:
        raise ValueError(f"eval_every={eval_every} must be a multiple of "
                         f"batch_size={batch_size}.")
    placement = AEPsychPlacement(batch_mode, seed=seed)
    session = ExperimentSession(path, model, placement=placement, refit_every=eval_every,
                                warmup=warmup, warmup_radius=RADIUS, seed=seed,
                                max_trials=num_trials)
    refs = reference_grid(5)
    counts, errors = [], []
    key = jax.random.PRNGKey(seed)
    with session:
        while not session.done:
            stimuli = session.ask(batch_size)
            key, key_y = jax.random.split(key)
            answers = simulate_responses(key_y, model, truth, stimuli[:, 0], stimuli[:, 1])
            session.tell(stimuli, answers)
            placement.record(stimuli, answers)
            n = session.num_answered
            if session.posterior is not None and n % eval_every == 0:
                counts.append(n)
                errors.append(threshold_error(model, session.posterior.params, truth, refs))
        refit_seconds = [r.seconds for r in session.store.refits()]
    return AEPsychRun(f"aepsych-{batch_mode}", np.array(counts), np.array(errors),
                      np.array(placement.proposal_seconds), np.array(refit_seconds),
                      np.array(placement.distinct), session)
