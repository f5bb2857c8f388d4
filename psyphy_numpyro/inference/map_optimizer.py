"""psyphy's ``MAPOptimizer``: MAP fits through :func:`~psyphy_numpyro.core.infer.map.fit_map`."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from numbers import Integral
from typing import Any

import numpy as np
import numpyro
import optax

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.map import (
    MAPResult,
    clip_then,
    fit_map,
    sgd_with_momentum,
)
from psyphy_numpyro.core.infer.map_many import fit_map_many
from psyphy_numpyro.core.keys import fit_keys
from psyphy_numpyro.inference.base import InferenceEngine, start_params
from psyphy_numpyro.posterior.posterior import MAPPosterior

# "auto": "sum" for the MVP, "mean" for the full WPPM (each era's psyphy)
REDUCTIONS = ("mean", "sum", "auto")


class MAPOptimizer(InferenceEngine):
    """psyphy's MAP optimiser, run as NumPyro SVI with ``AutoDelta``.

    Parameters
    ----------
    steps
        Number of SGD steps.
    learning_rate, momentum
        For the default ``optax.sgd(learning_rate, momentum=momentum)``.
    optimizer
        Any optax transformation, used instead of the default.
    track_history
        Record the loss (negative log posterior, psyphy's unnormalised value)
        every ``log_every`` steps and at the last step.
    log_every
        Recording interval.
    progress_every
        Steps per compiled call, i.e. between progress-bar updates.
    show_progress
        Show a progress bar.
    max_grad_norm
        Clip each gradient to this global norm before the optimizer (as psyphy
        0.0.5 does); after :meth:`fit`, ``n_clipped_steps`` and ``clip_rate``
        say how often it bound. None: no clipping.
    reduction
        ``"sum"`` minimises the negative log posterior (the seed era's
        psyphy); ``"mean"`` divides it by the number of trials (psyphy 0.0.5's
        default; the recorded loss is then per trial). ``"auto"`` (the
        default) picks by model: ``"sum"`` for the MVP, ``"mean"`` for the full
        WPPM, so scripts of either era reproduce their own psyphy's numbers.

    Examples
    --------
    >>> opt = MAPOptimizer(steps=1000, learning_rate=2e-2, momentum=0.9)
    """

    def __init__(
        self,
        steps: int = 500,
        learning_rate: float = 5e-5,
        momentum: float = 0.9,
        optimizer: optax.GradientTransformation | None = None,
        *,
        track_history: bool = True,
        log_every: int = 1,
        progress_every: int = 10,
        show_progress: bool = True,
        max_grad_norm: float | None = None,
        reduction: str = "auto",
    ) -> None:
        if not isinstance(reduction, str) or reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}.")
        self.reduction = reduction
        self.steps = check.iterations("steps", steps)
        self.learning_rate = check.positive("learning_rate", learning_rate)
        self.momentum = check.unit_interval("momentum", momentum)
        self.optimizer = check.optimizer("optimizer", optimizer)
        self.max_grad_norm = max_grad_norm
        base = optimizer if optimizer is not None else sgd_with_momentum(self.learning_rate, self.momentum)
        # cached by settings, so fits by equal optimizers reuse the compiled loop
        self._transform = (
            base if max_grad_norm is None
            else clip_then(check.positive("max_grad_norm", max_grad_norm), base)
        )
        self.track_history = bool(track_history)
        self.log_every = check.positive_int("log_every", log_every)
        self.progress_every = check.positive_int("progress_every", progress_every)
        self.show_progress = bool(show_progress)
        self.loss_steps: list[int] = []
        self.loss_history: list[float] = []
        self.n_clipped_steps = 0
        self.clip_rate: float | None = None

    def fit(
        self,
        model: Any,
        data: Any,
        init_params: dict | None = None,
        seed: int | None = None,
    ) -> MAPPosterior:
        """Fit ``model`` to ``data``; start at ``init_params`` or a prior draw.

        ``init_params`` may be a parameter dict or any posterior with
        ``.params`` (e.g. the previous fit, as an adaptive session passes it).

        The prior draw uses the first half of ``PRNGKey(seed)`` split in two,
        as psyphy does (``seed`` defaults to 0).
        """
        trials = model.trials(data)
        keys = fit_keys(0 if seed is None else seed)
        init_params = self._start(model, init_params, keys.init)
        scale = self.objective_scale(model, trials.ref.shape[0])
        result = fit_map(
            keys.run,
            _ScaledModel(model, scale),
            *trials,  # ref, probe, responses
            num_steps=self.steps,
            optimizer=self._transform,
            init_params=init_params,
            progress_bar=self.show_progress,
            progress_every=self.progress_every,
        )
        # SVI's loss keeps the prior's normalising constant; psyphy's does not.
        losses = result.losses - scale * model.prior.log_normalizer
        self.loss_steps, self.loss_history = [], []
        if self.track_history:
            last = result.num_steps_run - 1
            self.loss_steps = [i for i in range(last + 1) if i % self.log_every == 0 or i == last]
            self.loss_history = [float(losses[i]) for i in self.loss_steps]
        self._record_clipping(result)
        return MAPPosterior(result.params, model, losses, trials)

    def fit_many(
        self,
        model: Any,
        datasets: Sequence[Any],
        init_params: Any = None,
        seed: int | Sequence[int] | None = None,
        *,
        devices: Any = None,
    ) -> list[MAPPosterior]:
        """Fit ``model`` to several datasets at once, in one compiled program.

        Entry ``s`` equals ``fit(model, datasets[s], init_params[s], seed[s])``
        to float32 rounding for a deterministic density (the MVP, the
        ``"quadrature"`` estimator); with fresh Monte Carlo draws (``"mc"``)
        the draws differ, and the fits agree in distribution only. See
        :func:`~psyphy_numpyro.core.infer.map_many.fit_map_many`.

        Parameters
        ----------
        datasets
            Datasets of any sizes, each as :meth:`fit` takes it.
        init_params
            None (prior draws), one start for all (a dict or a posterior), or
            one per dataset.
        seed
            One seed for all (each fit as :meth:`fit` with that seed) or one per
            dataset; default 0.
        devices
            Devices to lay the datasets over; None for all of ``jax.devices()``.

        Returns
        -------
        list of MAPPosterior
            One per dataset, with its own ``losses``. The optimizer's
            ``get_history`` and clipping counts stay those of the last :meth:`fit`.
        """
        if isinstance(datasets, (str, bytes)) or not isinstance(datasets, Sequence):
            raise TypeError(f"datasets must be a list of datasets, got {type(datasets).__name__}.")
        if not datasets:
            raise ValueError("datasets is empty.")
        trials = [model.trials(data) for data in datasets]
        seeds = _per_dataset("seed", 0 if seed is None else seed, len(trials), one=(Integral,))
        starts = _per_dataset("init_params", init_params, len(trials), one=(dict,))
        keys = [fit_keys(s) for s in seeds]
        starts = [self._start(model, start, k.init) for start, k in zip(starts, keys)]
        result = fit_map_many(
            np.stack([np.asarray(k.run) for k in keys]), _ScaledModel(model, 1.0),
            [tuple(t) for t in trials], num_steps=self.steps, optimizer=self.transform,
            init_params=starts,
            scales=[self.objective_scale(model, t.ref.shape[0]) for t in trials],
            devices=devices, progress_bar=self.show_progress,
            progress_every=self.progress_every)
        return [
            MAPPosterior({site: value[s] for site, value in result.params.items()}, model,
                         result.losses[s] - self.objective_scale(model, t.ref.shape[0])
                         * model.prior.log_normalizer, t)
            for s, t in enumerate(trials)
        ]

    @property
    def transform(self) -> optax.GradientTransformation:
        """The optax transformation the fits run (clipping included)."""
        return self._transform

    def objective_scale(self, model: Any, num_trials: int) -> float:
        """The factor on the log posterior this optimizer minimises (``reduction``)."""
        reduction = self.reduction
        if reduction == "auto":
            reduction = "sum" if model.is_mvp else "mean"
        return 1.0 if reduction == "sum" else 1.0 / num_trials

    @staticmethod
    def _start(model: Any, init_params: Any, init_key: Any) -> dict:
        """A checked start, or the prior draw of ``init_key`` (as psyphy's)."""
        start = start_params(model, init_params)
        return model.init_params(init_key) if start is None else start

    def _record_clipping(self, result: MAPResult) -> None:
        self.n_clipped_steps, self.clip_rate = 0, None
        if self.max_grad_norm is None or result.num_steps_run == 0:
            return
        self.n_clipped_steps = int(result.num_clipped_steps or 0)
        self.clip_rate = self.n_clipped_steps / result.num_steps_run
        if self.clip_rate > 0.5:
            warnings.warn(
                f"Gradient clipping bound on {self.clip_rate:.0%} of the steps "
                f"(max_grad_norm={self.max_grad_norm}): the step length is then set by "
                "learning_rate * "
                "max_grad_norm, not by the gradient. Raise max_grad_norm or lower "
                "the learning rate.",
                UserWarning,
                stacklevel=3,
            )

    def get_history(self) -> tuple[list[int], list[float]]:
        """Return ``(steps, losses)`` recorded by the last :meth:`fit`."""
        return self.loss_steps, self.loss_history


def _per_dataset(name: str, value: Any, num: int, one: tuple) -> list:
    """``value`` once per dataset: repeated if it is a single one, else checked in length."""
    single = value is None or isinstance(value, one) or hasattr(value, "params")
    if single and not isinstance(value, bool):
        return [value] * num
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise TypeError(f"{name} must be one value or a list with one per dataset, got "
                        f"{type(value).__name__}.")
    if len(value) != num:
        raise ValueError(f"{name} holds {len(value)} values for {num} datasets.")
    return list(value)


@dataclass(frozen=True)
class _ScaledModel:
    """The model's NumPyro program with its log density scaled (hashable by value)."""

    model: Any
    scale: float

    @property
    def spec(self) -> Any:
        """The model's spec, so that ``fit_map`` checks the data and the start."""
        return self.model.spec

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        fn = self.model.numpyro_model
        if self.scale != 1.0:
            fn = numpyro.handlers.scale(fn, scale=self.scale)
        return fn(*args, **kwargs)
