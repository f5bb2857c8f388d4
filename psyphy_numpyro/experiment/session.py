"""``ExperimentSession``: an ask/tell adaptive experiment, stored as it happens.

A lab's presentation loop calls :meth:`ExperimentSession.ask` for the next
stimuli and :meth:`ExperimentSession.tell` with the answers. The session
serves a space-filling warm-up first (:func:`~psyphy_numpyro.core.design.sobol_pairs`),
then trials from its placement (by default
:class:`~psyphy_numpyro.trial_placement.info_gain.InfoGainPlacement` on the
latest posterior), refits every ``refit_every`` answers (by default
:class:`~psyphy_numpyro.inference.refit.MAPLaplaceRefit`, warm-started), and
writes every trial, answer and refit to its SQLite file
(:mod:`psyphy_numpyro.experiment.store`) before returning.
"""

from __future__ import annotations

import concurrent.futures
import inspect
import os
import time
import warnings
from typing import Any, NamedTuple

import jax
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.acquisition import threshold_summary
from psyphy_numpyro.core.candidates import check_bounds
from psyphy_numpyro.core.design import sobol_pairs
from psyphy_numpyro.core.draws import posterior_draws
from psyphy_numpyro.core.infer.refit import bucket_size
from psyphy_numpyro.core.intervals import central_interval
from psyphy_numpyro.core.trials import TrialData
from psyphy_numpyro.data.fits import model_config
from psyphy_numpyro.data.io import save_responses_csv
from psyphy_numpyro.experiment.store import Refit, SessionStore
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer
from psyphy_numpyro.inference.refit import MAPLaplaceRefit
from psyphy_numpyro.trial_placement.info_gain import InfoGainPlacement

#: Draws used to judge the ``target_width`` stopping rule.
WIDTH_DRAWS = 200


class ExperimentSession:
    """(Experimental) An adaptive experiment: ask for stimuli, tell the answers.

    Parameters
    ----------
    path
        The session's SQLite file. A new path starts a session; an existing
        one resumes it (the same model, seed and warm-up are required).
    model
        The WPPM to fit.
    placement
        Anything with ``propose(posterior, batch_size, *, index) ->
        TrialBatch``; default ``InfoGainPlacement(model, "threshold_linear",
        bounds=bounds, seed=seed)``, the criterion that needed the fewest
        trials in ``benchmarks/adaptive.py``.
    refit
        Any fitter with ``fit(model, data, init_params)`` (e.g.
        ``NUTSSampler(...)``); default :class:`MAPLaplaceRefit` with ``seed``.
    refit_every
        Answers between refits (after the warm-up).
    warmup
        Space-filling trials before the first refit (more are served while
        the warm-up's answers are still to come).
    warmup_radius
        Largest offset of a warm-up comparison from its reference, per axis.
    bounds
        ``(d, 2)`` box of every stimulus; default ``[-1, 1]^d``.
    seed
        Seed of the warm-up, the placement and the refits: a session replays
        from it to the same trials given the same answers.
    max_trials
        Stop after this many answers.
    target_width
        Stop when every 90% band of a log threshold radius at the
        placement's query references (``query_refs``) is narrower than this
        (0.2 is about +-10% of the threshold).
    latency_budget
        Seconds a proposal may take; past it, :meth:`ask` serves the next
        space-filling trials instead (source ``"fallback"`` in the file).
        None waits for every proposal.
    precompile
        With the default refit, compile the first refit and proposal during
        the warm-up, and each larger refit size before it is needed, in a
        background thread, so no answer waits for a compilation.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from psyphy_numpyro import WPPM, Prior
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "s.sqlite"
    >>> with ExperimentSession(path, WPPM(input_dim=2, prior=Prior.default(2)),
    ...                        warmup=4) as session:
    ...     stimuli = session.ask(4)
    ...     session.tell(stimuli, [1, 0, 1, 1])
    ...     session.num_answered
    4
    """

    def __init__(
        self,
        path: str | os.PathLike,
        model: Any,
        *,
        placement: Any = None,
        refit: Any = None,
        refit_every: int = 20,
        warmup: int = 200,
        warmup_radius: float = 0.25,
        bounds: Any = None,
        seed: int = 0,
        max_trials: int | None = None,
        target_width: float | None = None,
        latency_budget: float | None = None,
        precompile: bool = True,
    ) -> None:
        self.model = check.wppm(model)
        self.bounds = check_bounds(bounds, self.model.spec)
        self.seed = check.seed("seed", seed)
        self.refit_every = check.positive_int("refit_every", refit_every)
        self.warmup = check.positive_int("warmup", warmup, minimum=0)
        self.warmup_radius = check.positive("warmup_radius", warmup_radius)
        sobol_pairs(0, 1, self.bounds, self.warmup_radius, seed=self.seed)  # checks
        self.max_trials = None if max_trials is None else check.positive_int(
            "max_trials", max_trials)
        self.target_width = None if target_width is None else check.positive(
            "target_width", target_width)
        self.latency_budget = None if latency_budget is None else check.positive(
            "latency_budget", latency_budget)
        if placement is None:
            placement = InfoGainPlacement(self.model, "threshold_linear",
                                          bounds=self.bounds, seed=self.seed)
        if not callable(getattr(placement, "propose", None)):
            raise TypeError("placement must have propose(posterior, batch_size), got "
                            f"{type(placement).__name__}.")
        self.placement = placement
        refit = MAPLaplaceRefit(seed=self.seed) if refit is None else refit
        if not callable(getattr(refit, "fit", None)):
            raise TypeError("refit must have fit(model, data, init_params), got "
                            f"{type(refit).__name__}.")
        if isinstance(refit, MAPOptimizer) and isinstance(placement, InfoGainPlacement):
            raise TypeError(
                "InfoGainPlacement needs posterior draws, and a MAPOptimizer refit gives "
                "one point: use the default MAPLaplaceRefit, LaplaceApproximation() "
                "or another fitter whose posterior can be sampled.")
        self.refit = refit
        identity = {
            "model": model_config(self.model),
            "input_dim": self.model.input_dim,
            "seed": self.seed,
            "warmup": self.warmup,
            "warmup_radius": self.warmup_radius,
            "bounds": self.bounds.tolist(),
        }
        settings = {
            "placement": _describe(placement),
            "refit": _describe(refit),
            "refit_every": self.refit_every,
            "max_trials": self.max_trials,
            "target_width": self.target_width,
            "latency_budget": self.latency_budget,
        }
        self.store = SessionStore(path, identity, settings)
        self.posterior: Any = None
        self._width = float("inf")
        # proposals (and the first compilation) run on one worker, larger refit
        # sizes compile on another; _ahead maps a refit size to its compilation
        self._executor = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._compiler = concurrent.futures.ThreadPoolExecutor(max_workers=1)
        self._ahead: dict[int, concurrent.futures.Future] = {}
        self._precompile = bool(precompile) and isinstance(refit, MAPLaplaceRefit)
        if not self.store.created:
            try:
                self._restore()
            except BaseException:  # release the file's lock for the next try
                self.close()
                raise
        if self.posterior is None:
            self._compile_ahead(max(self.warmup, self.num_answered, 1), first=True)

    # -- state ------------------------------------------------------------------------
    @property
    def num_answered(self) -> int:
        """Answers told so far."""
        return self.store.num_answered()

    @property
    def data(self) -> TrialData:
        """The answered trials, in the order they were told."""
        return _answered(self.store)

    @property
    def pending(self) -> np.ndarray:
        """Asked trials still waiting for an answer, shape ``(m, 2, d)``."""
        return _pending(self.store, self.model.input_dim)

    @property
    def stop_reason(self) -> str | None:
        """Why the session is over (``max_trials`` or ``target_width``), else None."""
        if self.max_trials is not None and self.num_answered >= self.max_trials:
            return f"max_trials: {self.num_answered} answers"
        if self.target_width is not None and self.posterior is not None:
            width = self._width
            if width <= self.target_width:
                return f"target_width: widest band {width:.3g} <= {self.target_width}"
        return None

    @property
    def done(self) -> bool:
        """True once a stopping rule holds."""
        return self.stop_reason is not None

    def threshold_width(self) -> float:
        """Widest 90% band of a log threshold radius at the query references."""
        if self.posterior is None:
            return float("inf")
        query = getattr(self.placement, "query_refs", None)
        if query is None:
            query = self.bounds.mean(axis=1, keepdims=True).T
        _, draws = posterior_draws(self.posterior, num_draws=WIDTH_DRAWS,
                                   key=jax.random.PRNGKey(self.seed))
        summary = np.asarray(threshold_summary(self.model.spec, draws, query))
        band = central_interval(summary, 0.9)
        return float(np.max(band.upper - band.lower))

    # -- ask / tell -------------------------------------------------------------------
    def ask(self, n: int = 1) -> np.ndarray:
        """The next ``n`` trials to present, shape ``(n, 2, d)`` (reference, comparison).

        Fewer come back when ``max_trials`` leaves room for fewer (counting
        asked trials still pending). Each trial is written to the file, with
        where it came from and its placement score, before it is returned.
        """
        n = check.positive_int("n", n)
        reason = self.stop_reason
        if reason is not None:
            raise RuntimeError(f"the session is over ({reason}); open a new one to go on.")
        asked = self.num_answered + len(self.store.pending())
        if self.max_trials is not None:
            n = min(n, self.max_trials - asked)
            if n <= 0:
                raise RuntimeError(
                    f"max_trials={self.max_trials} trials are asked already; tell the "
                    "pending answers first.")
        proposal = self.store.num_proposals()
        counts = self.store.source_counts()
        warm = min(n, max(self.warmup - counts["warmup"], 0))
        if self.posterior is None and self.num_answered < max(self.warmup, 1):
            warm = n  # the warm-up is not answered yet: keep filling space
        refs, probes, sources, scores = [], [], [], []
        if warm:
            ref, probe = self._space_filling(warm, counts)
            refs.append(ref), probes.append(probe)
            sources += ["warmup"] * warm
            scores += [None] * warm
            counts["warmup"] += warm  # a fallback below continues after them
        rest = n - warm
        if rest:
            if self.posterior is None or self._refit_due():  # e.g. killed mid-refit
                self._refit()
            ref, probe, source, score = self._propose(rest, proposal, counts)
            refs.append(ref), probes.append(probe)
            sources += source
            scores += score
        ref, probe = np.concatenate(refs), np.concatenate(probes)
        self.store.add_asked(ref, probe, proposal=proposal, sources=sources,
                             criteria=scores)
        return np.stack([ref, probe], axis=1)

    def tell(self, stimuli: Any, responses: Any) -> None:
        """Record answers (1 correct, 0 wrong) to asked trials; refit when due.

        Parameters
        ----------
        stimuli
            The trials answered, shape ``(m, 2, d)``, as :meth:`ask` returned
            them (any order, any subset of the pending ones).
        responses
            One answer per trial, shape ``(m,)``.
        """
        d = self.model.input_dim
        arr = check.finite_array("stimuli", stimuli)
        if arr.ndim != 3 or arr.shape[1:] != (2, d) or arr.shape[0] == 0:
            raise ValueError(f"stimuli must have shape (m, 2, {d}), got {arr.shape}.")
        pending = self.store.pending()
        ids, used = [], set()
        for i, trial in enumerate(arr):
            match = next((p.id for p in pending if p.id not in used
                          and np.allclose(p.ref, trial[0], rtol=1e-6, atol=1e-9)
                          and np.allclose(p.probe, trial[1], rtol=1e-6, atol=1e-9)), None)
            if match is None:
                raise ValueError(
                    f"stimuli[{i}] = {trial.tolist()} is not a pending asked trial "
                    "(never asked, or answered already).")
            used.add(match)
            ids.append(match)
        self.store.record_answers(ids, responses)
        if self._refit_due():
            self._refit()

    # -- refits -----------------------------------------------------------------------
    def _refit_due(self) -> bool:
        n = self.num_answered
        if n < max(self.warmup, 1):
            return False
        last = self.store.last_refit()
        return last is None or n - last.num_trials >= self.refit_every

    def _refit(self) -> None:
        data = self.data
        if len(data) == 0:
            raise RuntimeError("no answers yet: tell some before the first proposal.")
        compiling = self._ahead.get(bucket_size(len(data)))
        if compiling is not None:  # the same program: let it finish, not compile twice
            concurrent.futures.wait([compiling])
        start, started = time.perf_counter(), time.time()
        self.posterior = self.refit.fit(self.model, data, init_params=self.posterior)
        self._width = self.threshold_width() if self.target_width is not None else self._width
        self.store.add_refit(
            num_trials=len(data), config=_describe(self.refit),
            seed=int(getattr(self.refit, "seed", self.seed)),
            params={k: np.asarray(v) for k, v in self.posterior.params.items()},
            started_at=started, seconds=time.perf_counter() - start)
        ahead = len(data) + 4 * self.refit_every
        if bucket_size(ahead) != bucket_size(len(data)):
            self._compile_ahead(ahead, first=False)

    def _compile_ahead(self, num_trials: int, *, first: bool) -> None:
        """Compile the refit for ``num_trials`` answers (and, ``first``, the cold
        refit and a proposal) in the background, on stand-in answers."""
        size = bucket_size(num_trials)
        if not self._precompile or size in self._ahead:
            return
        ref, probe = sobol_pairs(0, num_trials, self.bounds, self.warmup_radius,
                                 seed=self.seed)
        stand_in = TrialData(np.stack([ref, probe], axis=1),
                             np.arange(num_trials) % 2)

        batch = min(self.refit_every, getattr(self.placement, "num_candidates",
                                              self.refit_every))

        def work():
            posterior = self.refit.fit(self.model, stand_in, init_params=None if first
                                       else self.model.init_params(jax.random.PRNGKey(0)))
            if first:
                self.refit.fit(self.model, stand_in, init_params=posterior)
                if "index" in inspect.signature(self.placement.propose).parameters:
                    self.placement.propose(posterior, batch, index=0)

        future = (self._executor if first else self._compiler).submit(work)
        future.add_done_callback(_warn_if_failed)
        self._ahead[size] = future

    def _restore(self) -> None:
        """Rebuild the latest posterior by rerunning the last refit from its start."""
        refits = self.store.refits()
        if not refits:
            return
        last = refits[-1]
        init = refits[-2].params if len(refits) > 1 else None
        data = self.data
        subset = TrialData(data.stimuli[: last.num_trials],
                           data.responses[: last.num_trials])
        self.posterior = self.refit.fit(self.model, subset, init_params=init)
        if self.target_width is not None:
            self._width = self.threshold_width()

    # -- proposals --------------------------------------------------------------------
    def _space_filling(self, n: int, counts: dict) -> tuple[np.ndarray, np.ndarray]:
        """The next ``n`` trials of the one space-filling sequence (warm-up, fallbacks)."""
        start = counts["warmup"] + counts["fallback"]
        return sobol_pairs(start, n, self.bounds, self.warmup_radius, seed=self.seed)

    def _propose(self, n: int, proposal: int, counts: dict) -> tuple[Any, Any, list, list]:
        replayable = "index" in inspect.signature(self.placement.propose).parameters

        def run():
            extra = {"index": proposal} if replayable else {}
            batch = self.placement.propose(self.posterior, n, **extra)
            scores = getattr(self.placement, "last_scores", None)
            stimuli = batch.to_numpy()
            scores = [None] * n if scores is None else [float(s) for s in scores]
            return stimuli[:, 0], stimuli[:, 1], ["placement"] * n, scores

        start = time.perf_counter()
        future = self._executor.submit(run)
        try:
            proposed = future.result(timeout=self.latency_budget)
        except concurrent.futures.TimeoutError:
            proposed = None
        # a proposal that holds the GIL can finish while this thread waits to
        # wake: it was still not ready in time
        budget = self.latency_budget
        if proposed is not None and (budget is None or time.perf_counter() - start <= budget):
            return proposed
        ref, probe = self._space_filling(n, counts)
        return ref, probe, ["fallback"] * n, [None] * n

    # -- export, close ----------------------------------------------------------------
    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the answered trials to the package's CSV format."""
        save_responses_csv(self.data, path)

    def close(self) -> None:
        """Release the file, after any proposal or compilation still running."""
        for worker in (self._executor, self._compiler):
            worker.shutdown(wait=True, cancel_futures=True)
        self.store.close()

    def __enter__(self) -> ExperimentSession:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SessionRecord(NamedTuple):
    """What a session file holds, as :func:`read_session` returns it.

    Attributes
    ----------
    data
        The answered trials as a :class:`TrialData`, in the order they were told.
    pending
        Asked trials still waiting for an answer, shape ``(m, 2, d)``.
    refits
        Every stored refit (:class:`~psyphy_numpyro.experiment.store.Refit`), in
        order; ``refits[-1].params`` is the latest point estimate.
    identity, settings
        The stored dicts (model configuration, seed, warm-up, bounds; placement,
        refit and stopping settings).
    """

    data: TrialData
    pending: np.ndarray
    refits: list[Refit]
    identity: dict
    settings: dict


def read_session(path: str | os.PathLike) -> SessionRecord:
    """Read a session file without its model or settings, and release it at once.

    For analysis scripts: nothing is refitted or compiled and nothing is
    written. A session that is open (in any process) holds the file, and
    reading it then raises :class:`~psyphy_numpyro.experiment.store.SessionInUseError`.

    Parameters
    ----------
    path
        An existing session file.

    Returns
    -------
    SessionRecord
    """
    with SessionStore.open_read_only(path) as store:
        data = _answered(store)
        return SessionRecord(data, _pending(store, data.stimuli.shape[-1]),
                             store.refits(), store.identity, store.settings)


def _answered(store: SessionStore) -> TrialData:
    _, ref, probe, responses = store.answered()
    return TrialData(np.stack([ref, probe], axis=1), responses)


def _pending(store: SessionStore, d: int) -> np.ndarray:
    rows = store.pending()
    if not rows:
        return np.zeros((0, 2, d))
    return np.stack([np.stack([r.ref, r.probe]) for r in rows])


def _describe(obj: Any) -> dict:
    """A JSON-able description of a placement or fitter: its class and the plain
    values of its constructor's arguments (not its running state)."""
    plain = (bool, int, float, str, type(None))
    names = inspect.signature(type(obj).__init__).parameters
    settings = {k: v for k, v in vars(obj).items() if k in names and isinstance(v, plain)}
    return {"class": type(obj).__name__, **settings}


def _warn_if_failed(future: concurrent.futures.Future) -> None:
    """Say when a compilation ahead failed (the refit or proposal then compiles itself)."""
    if not future.cancelled() and future.exception() is not None:
        warnings.warn(f"compiling ahead failed: {future.exception()!r}", RuntimeWarning,
                      stacklevel=1)
