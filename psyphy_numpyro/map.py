"""MAP estimation: SVI with an ``AutoDelta`` guide, driven by optax.

:func:`fit_map` is the functional core; :class:`MAPOptimizer` is psyphy's
interface over it. The SVI loop runs as ``lax.scan`` chunks inside one
compiled function, with a tqdm progress bar advanced between chunks.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import optax
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_sample, init_to_value
from numpyro.infer.svi import SVIState

from . import _validation as check

__all__ = [
    "ClipCountState",
    "MAPOptimizer",
    "MAPPosterior",
    "MAPResult",
    "clip_and_count",
    "fit_map",
]


class MAPResult(NamedTuple):
    """Result of :func:`fit_map`.

    Attributes
    ----------
    params
        MAP estimate per sample site (constrained space), from ``guide.median``.
    losses
        SVI loss (negative log joint) at every step, before that step's update.
    svi_state
        Final SVI state, e.g. to resume.
    num_steps_run
        Steps taken; fewer than asked when a loss became non-finite.
    num_clipped_steps
        Steps whose gradient norm exceeded the bound of a
        :func:`clip_and_count` transformation in the optimizer (None without one).
    """

    params: dict
    losses: np.ndarray
    svi_state: SVIState
    num_steps_run: int
    num_clipped_steps: int | None = None


class ClipCountState(NamedTuple):
    """State of :func:`clip_and_count`: steps clipped so far."""

    count: jax.Array


def clip_and_count(max_norm: float) -> optax.GradientTransformation:
    """``optax.clip_by_global_norm`` that also counts the steps it clipped.

    :func:`fit_map` reports the count as ``MAPResult.num_clipped_steps``.
    """
    max_norm = check.positive("max_grad_norm", max_norm)
    clip = optax.clip_by_global_norm(max_norm)

    def init(params):
        del params
        return ClipCountState(jnp.zeros((), jnp.int32))

    def update(updates, state, params=None):
        clipped = optax.tree.norm(updates) > max_norm
        updates, _ = clip.update(updates, optax.EmptyState(), params)
        return updates, ClipCountState(state.count + clipped.astype(jnp.int32))

    return optax.GradientTransformation(init, update)


@lru_cache(maxsize=32)
def _sgd(learning_rate: float, momentum: float) -> optax.GradientTransformation:
    """The default optimizer, cached so repeated fits reuse compiled code."""
    return optax.sgd(learning_rate, momentum=momentum or None)


@lru_cache(maxsize=32)
def _clip_then(max_grad_norm: float, base: optax.GradientTransformation):
    """``base`` after :func:`clip_and_count`, cached like :func:`_sgd`."""
    return optax.chain(clip_and_count(max_grad_norm), base)


class _Runner(NamedTuple):
    init: Callable
    run_chunk: Callable
    svi: SVI


_RUNNERS: OrderedDict = OrderedDict()
_MAX_RUNNERS = 16


def _runner(model, optimizer, chunk: int, signature) -> _Runner:
    """Compiled SVI init and update loop, cached per model, optimizer and shapes.

    A second fit with the same model object, optimizer object and data shapes
    reuses the compiled code (no recompilation between fits).
    """
    key = (model, optimizer, chunk, signature)
    if key in _RUNNERS:
        _RUNNERS.move_to_end(key)
        return _RUNNERS[key]
    guide = AutoDelta(model, init_loc_fn=init_to_sample)
    svi = SVI(model, guide, optimizer, loss=Trace_ELBO())

    @jax.jit
    def init(rng_key, args, kwargs, init_values):
        # starting values are traced arguments, so they do not recompile
        init_fn = init_to_sample if init_values is None else init_to_value(values=init_values)
        start = SVI(model, AutoDelta(model, init_loc_fn=init_fn), optimizer, Trace_ELBO())
        state = start.init(rng_key, *args, **kwargs)
        # the cached SVI runs the updates: give it the same constraint map
        svi.constrain_fn = start.constrain_fn
        return state

    @jax.jit
    def run_chunk(state, steps_left, args, kwargs):
        # Steps past `steps_left`, and all steps after a non-finite loss or
        # update, leave the state unchanged; `taken` counts the steps run.
        def body(carry, i):
            state, healthy, taken = carry
            new_state, loss = svi.update(state, *args, **kwargs)
            active = healthy & (i < steps_left)
            finite = jnp.isfinite(loss) & _all_finite(svi.get_params(new_state))
            keep = active & finite
            state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new_state, state)
            return (state, healthy & (finite | ~active), taken + active), loss

        carry = (state, jnp.array(True), jnp.array(0))
        (state, healthy, taken), losses = jax.lax.scan(body, carry, jnp.arange(chunk))
        return state, healthy, taken, losses

    runner = _Runner(init, run_chunk, svi)
    _RUNNERS[key] = runner
    if len(_RUNNERS) > _MAX_RUNNERS:
        _RUNNERS.popitem(last=False)
    return runner


def _signature(tree) -> tuple:
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple((np.shape(x), np.result_type(x)) for x in leaves)


def fit_map(
    rng_key: jax.Array,
    model: Callable[..., None],
    *model_args: Any,
    num_steps: int,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-2,
    momentum: float = 0.9,
    init_params: dict | None = None,
    progress_bar: bool = True,
    progress_every: int | None = None,
    **model_kwargs: Any,
) -> MAPResult:
    """Maximise a NumPyro model's log joint by SVI with ``AutoDelta``.

    The compiled SVI loop is cached: fitting the same model object with the
    same optimizer object and data shapes again does not recompile.

    Parameters
    ----------
    rng_key
        Key for SVI (initial values when ``init_params`` is None, and any
        randomness inside the model).
    model
        A NumPyro model; ``model_args``/``model_kwargs`` are passed to it.
    num_steps
        Number of optimiser steps.
    optimizer
        Any optax transformation; by default ``optax.sgd(learning_rate,
        momentum=momentum)``.
    init_params
        Starting values per site; otherwise a draw from the prior.
    progress_bar
        Show a tqdm bar.
    progress_every
        Steps run per compiled call, between progress-bar updates (default: a
        twentieth of ``num_steps``, at most 50).

    Returns
    -------
    MAPResult
    """
    num_steps = check.positive_int("num_steps", num_steps)
    if optimizer is None:
        optimizer = _sgd(
            check.positive("learning_rate", learning_rate),
            check.unit_interval("momentum", momentum),
        )
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation, got "
            f"{type(optimizer).__name__}."
        )
    if progress_every is None:
        chunk = min(50, max(1, math.ceil(num_steps / 20)))
    else:
        chunk = min(check.positive_int("progress_every", progress_every), num_steps)
    runner = _runner(model, optimizer, chunk, _signature((model_args, model_kwargs)))

    state = runner.init(rng_key, model_args, model_kwargs, init_params)
    losses = []
    done = 0
    with _progress(num_steps, progress_bar) as bar:
        while done < num_steps:
            state, healthy, taken, chunk_losses = runner.run_chunk(
                state, num_steps - done, model_args, model_kwargs
            )
            taken = int(taken)
            losses.append(np.asarray(chunk_losses)[:taken])
            done += taken
            bar.update(taken)
            if not bool(healthy):
                warnings.warn(
                    f"MAP fit stopped at step {done - 1}: the loss or the parameters "
                    "became non-finite. The last finite parameters are returned; "
                    "try a smaller learning_rate.",
                    RuntimeWarning,
                    stacklevel=2,
                )
                break
            bar.set_postfix(loss=f"{losses[-1][-1]:.4g}")
    params = runner.svi.guide.median(runner.svi.get_params(state))
    return MAPResult(params, np.concatenate(losses), state, done, _clipped(state))


def _clipped(state: SVIState) -> int | None:
    counts = [
        leaf.count
        for leaf in jax.tree.leaves(
            state.optim_state, is_leaf=lambda x: isinstance(x, ClipCountState)
        )
        if isinstance(leaf, ClipCountState)
    ]
    return int(sum(counts)) if counts else None


def _all_finite(tree) -> jax.Array:
    return jnp.all(jnp.array([jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree)]))


class _NoBar:
    def update(self, n: int) -> None: ...
    def set_postfix(self, **kw: Any) -> None: ...
    def __enter__(self) -> _NoBar:
        return self
    def __exit__(self, *exc: object) -> None: ...


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="MAP (SVI)", leave=False)


class MAPPosterior:
    """A point posterior at the MAP estimate.

    Attributes
    ----------
    params
        The MAP parameter PyTree.
    model
        The model that was fitted.
    losses
        Loss at every step (the objective that was minimised).
    trials
        The data it was fitted to (:class:`~psyphy_numpyro.Trials`), if known;
        Laplace approximations at the MAP use it.
    """

    def __init__(self, params: dict, model: Any, losses: np.ndarray | None = None,
                 trials: Any = None):
        self.params = params
        self.model = model
        self.losses = losses
        self.trials = trials

    def sample(self, n: int = 1, *, key: jax.Array | None = None) -> dict:
        """Return the MAP point repeated ``n`` times along a new leading axis."""
        del key
        n = check.positive_int("n", n)
        return jax.tree.map(lambda x: jnp.broadcast_to(x, (n, *x.shape)), self.params)

    def __repr__(self) -> str:
        return f"MAPPosterior(params={self.params!r})"


class MAPOptimizer:
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
        default; the recorded loss is then per trial). ``None`` picks by model:
        ``"sum"`` for the MVP, ``"mean"`` for the full WPPM, so scripts of
        either era reproduce their own psyphy's numbers.

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
        reduction: str | None = None,
    ) -> None:
        if reduction not in (None, "sum", "mean"):
            raise ValueError(f'reduction must be "sum", "mean" or None, got {reduction!r}.')
        self.reduction = reduction
        self.steps = check.positive_int("steps", steps)
        self.learning_rate = check.positive("learning_rate", learning_rate)
        self.momentum = check.unit_interval("momentum", momentum)
        if optimizer is not None and not isinstance(optimizer, optax.GradientTransformation):
            raise TypeError(
                "optimizer must be an optax.GradientTransformation, got "
                f"{type(optimizer).__name__}."
            )
        self.optimizer = optimizer
        self.max_grad_norm = max_grad_norm
        base = optimizer if optimizer is not None else _sgd(self.learning_rate, self.momentum)
        # cached by settings, so fits by equal optimizers reuse the compiled loop
        self._transform = (
            base if max_grad_norm is None
            else _clip_then(check.positive("max_grad_norm", max_grad_norm), base)
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

        The prior draw uses the first half of ``PRNGKey(seed)`` split in two,
        as psyphy does (``seed`` defaults to 0).
        """
        trials = model.trials(data)
        init_key, svi_key = jax.random.split(jax.random.PRNGKey(0 if seed is None else seed))
        if init_params is None:
            init_params = model.init_params(init_key)
        init_params = model.prior.check_params(init_params, "init_params")
        reduction = self.reduction or ("sum" if model.is_mvp else "mean")
        scale = 1.0 if reduction == "sum" else 1.0 / trials.ref.shape[0]
        result = fit_map(
            svi_key,
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


@dataclass(frozen=True)
class _ScaledModel:
    """The model's NumPyro program with its log density scaled (hashable by value)."""

    model: Any
    scale: float

    def __call__(self, *args: Any, **kwargs: Any) -> None:
        fn = self.model.numpyro_model
        if self.scale != 1.0:
            fn = numpyro.handlers.scale(fn, scale=self.scale)
        return fn(*args, **kwargs)
