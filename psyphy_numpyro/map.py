"""MAP estimation: SVI with an ``AutoDelta`` guide, driven by optax.

:func:`fit_map` is the functional core; :class:`MAPOptimizer` is psyphy's
interface over it. The SVI loop runs as ``lax.scan`` chunks inside one
compiled function, with a tqdm progress bar advanced between chunks.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
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

__all__ = ["MAPOptimizer", "MAPPosterior", "MAPResult", "fit_map"]


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
    """

    params: dict
    losses: np.ndarray
    svi_state: SVIState
    num_steps_run: int


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
    **model_kwargs: Any,
) -> MAPResult:
    """Maximise a NumPyro model's log joint by SVI with ``AutoDelta``.

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

    Returns
    -------
    MAPResult
    """
    num_steps = check.positive_int("num_steps", num_steps)
    if optimizer is None:
        optimizer = optax.sgd(
            check.positive("learning_rate", learning_rate),
            momentum=check.unit_interval("momentum", momentum) or None,
        )
    elif not isinstance(optimizer, optax.GradientTransformation):
        raise TypeError(
            "optimizer must be an optax.GradientTransformation, got "
            f"{type(optimizer).__name__}."
        )
    init_fn = init_to_sample if init_params is None else init_to_value(values=init_params)
    guide = AutoDelta(model, init_loc_fn=init_fn)
    svi = SVI(model, guide, optimizer, loss=Trace_ELBO())

    chunk = max(1, math.ceil(num_steps / 20))

    @jax.jit
    def init(key, args, kwargs):
        return svi.init(key, *args, **kwargs)

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

    state = init(rng_key, model_args, model_kwargs)
    losses = []
    done = 0
    with _progress(num_steps, progress_bar) as bar:
        while done < num_steps:
            state, healthy, taken, chunk_losses = run_chunk(
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
    params = guide.median(svi.get_params(state))
    return MAPResult(params, np.concatenate(losses), state, done)


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
    """

    def __init__(self, params: dict, model: Any, losses: np.ndarray | None = None):
        self.params = params
        self.model = model
        self.losses = losses

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
    show_progress
        Show a progress bar.
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
        show_progress: bool = True,
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
        self.track_history = bool(track_history)
        self.log_every = check.positive_int("log_every", log_every)
        self.show_progress = bool(show_progress)
        self.loss_steps: list[int] = []
        self.loss_history: list[float] = []

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
        numpyro_model = model.numpyro_model
        if scale != 1.0:
            numpyro_model = numpyro.handlers.scale(numpyro_model, scale=scale)
        result = fit_map(
            svi_key,
            numpyro_model,
            *trials,  # ref, probe, responses
            num_steps=self.steps,
            optimizer=self.optimizer,
            learning_rate=self.learning_rate,
            momentum=self.momentum,
            init_params=init_params,
            progress_bar=self.show_progress,
        )
        # SVI's loss keeps the prior's normalising constant; psyphy's does not.
        losses = result.losses - scale * model.prior.log_normalizer
        self.loss_steps, self.loss_history = [], []
        if self.track_history:
            last = result.num_steps_run - 1
            self.loss_steps = [i for i in range(last + 1) if i % self.log_every == 0 or i == last]
            self.loss_history = [float(losses[i]) for i in self.loss_steps]
        return MAPPosterior(result.params, model, losses)

    def get_history(self) -> tuple[list[int], list[float]]:
        """Return ``(steps, losses)`` recorded by the last :meth:`fit`."""
        return self.loss_steps, self.loss_history
