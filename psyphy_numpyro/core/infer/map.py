"""MAP estimation: SVI with an ``AutoDelta`` guide, driven by optax.

:func:`fit_map` is the functional core; :class:`MAPOptimizer` is psyphy's
interface over it. The SVI loop runs as ``lax.scan`` chunks inside one
compiled function, with a tqdm progress bar advanced between chunks; the
chunk is compiled before the bar's clock starts
(:mod:`~psyphy_numpyro.core.infer.progress`), so its rate is the steps'.
"""

from __future__ import annotations

import math
import warnings
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache, partial
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_sample, init_to_value
from numpyro.infer.svi import SVIState

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.progress import compile_ahead, open_bar, start_clock
from psyphy_numpyro.core.spec import WPPMSpec


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
def sgd_with_momentum(learning_rate: float, momentum: float) -> optax.GradientTransformation:
    """The default optimizer, cached so repeated fits reuse compiled code."""
    return optax.sgd(learning_rate, momentum=momentum or None)


@lru_cache(maxsize=32)
def clip_then(max_grad_norm: float, base: optax.GradientTransformation):
    """``base`` after :func:`clip_and_count`, cached like :func:`sgd_with_momentum`."""
    return optax.chain(clip_and_count(max_grad_norm), base)


class _Runner(NamedTuple):
    init: Callable
    run_chunk: Callable
    svi: SVI
    compiled: dict  # run_chunk compiled ahead, by the signature of the SVI state


_RUNNERS: OrderedDict = OrderedDict()
_MAX_RUNNERS = 16


def clear_runners() -> None:
    """Forget the compiled SVI loops (the next fit of each shape compiles again)."""
    _RUNNERS.clear()


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
        return init_state(svi, rng_key, args, kwargs, init_values)

    @jax.jit
    def run_chunk(state, steps_left, args, kwargs):
        # Steps past `steps_left`, and all steps after a non-finite loss or
        # update, leave the state unchanged; `taken` counts the steps run.
        def body(carry, i):
            state, healthy, taken = carry
            state, healthy, active, loss = guarded_update(
                svi, state, healthy, i < steps_left, args, kwargs)
            return (state, healthy, taken + active), loss

        carry = (state, jnp.array(True), jnp.array(0))
        (state, healthy, taken), losses = jax.lax.scan(body, carry, jnp.arange(chunk))
        return state, healthy, taken, losses

    return keep_runner(key, _Runner(init, run_chunk, svi, {}))


def keep_runner(key: Any, runner: Any) -> Any:
    """Keep ``runner`` under ``key`` among the last :data:`_MAX_RUNNERS`; return it."""
    _RUNNERS[key] = runner
    if len(_RUNNERS) > _MAX_RUNNERS:
        _RUNNERS.popitem(last=False)
    return runner


def init_state(svi: SVI, rng_key: jax.Array, args: tuple, kwargs: dict,
               init_values: dict | None) -> SVIState:
    """SVI state of ``svi``'s model starting at ``init_values`` (or a prior draw).

    The starting values are traced arguments, so new values do not recompile.
    """
    model = svi.model
    init_fn = init_to_sample if init_values is None else init_to_value(values=init_values)
    start = SVI(model, AutoDelta(model, init_loc_fn=init_fn), svi.optim, Trace_ELBO())
    state = start.init(rng_key, *args, **kwargs)
    # the cached SVI runs the updates: give it the same constraint map
    svi.constrain_fn = start.constrain_fn
    return state


def guarded_update(svi: SVI, state: SVIState, healthy: jax.Array, active: jax.Array,
                   args: tuple, kwargs: dict) -> tuple:
    """One SVI step, kept only while ``healthy & active`` and the result is finite.

    Returns ``(state, healthy, active, loss)``: ``healthy`` turns False at the
    first non-finite loss or parameter; ``active`` says whether the step ran.
    """
    new_state, loss = svi.update(state, *args, **kwargs)
    active = healthy & active
    finite = jnp.isfinite(loss) & _all_finite(svi.get_params(new_state))
    keep = active & finite
    state = jax.tree.map(lambda a, b: jnp.where(keep, a, b), new_state, state)
    return state, healthy & (finite | ~active), active, loss


def _check_inputs(model: Callable[..., None], model_args: tuple, init_params: Any) -> None:
    """Refuse bad data or starts before compiling.

    For a WPPM's own model (``model.numpyro_model``, bound to its spec) the
    trials ``(ref, probe, responses)`` are checked as the spec checks them; for
    it or a wrapper with a ``spec`` attribute (whose caller checked the data),
    so is ``init_params``, and a full WPPM may not start at ``W = 0``. For any
    other model, ``init_params`` must be finite.
    """
    bound = model.keywords.get("spec") if isinstance(model, partial) else None
    spec = bound if bound is not None else getattr(model, "spec", None)
    if isinstance(spec, WPPMSpec):
        if bound is not None and len(model_args) == 3:  # wrappers checked their data
            spec.trials(tuple(model_args))
        if init_params is not None:
            start = spec.check_params(init_params, "init_params")
            if not spec.is_mvp and not np.any(start["W"]):
                raise ValueError(
                    "init_params['W'] is all zeros, a stationary point of the full "
                    "WPPM's likelihood (its gradient is exactly 0 by symmetry), so the "
                    "fit would never move; start from a prior draw, "
                    "model.init_params(key), or a previous fit."
                )
    elif init_params is not None:
        for path, leaf in jax.tree_util.tree_leaves_with_path(init_params):
            check.finite_array(f"init_params{jax.tree_util.keystr(path)}", leaf)


def shape_signature(tree) -> tuple:
    """What a compiled program of ``tree`` depends on: its structure, shapes and dtypes."""
    leaves, treedef = jax.tree.flatten(tree)
    return treedef, tuple(
        (np.shape(x), x.dtype if hasattr(x, "dtype") else np.result_type(x),
         getattr(x, "weak_type", False)) for x in leaves)


def _compiled_chunk(runner: _Runner, state: SVIState, model_args: tuple,
                    model_kwargs: dict) -> Callable:
    """The runner's ``run_chunk`` compiled for this state (kept for later fits)."""
    key = shape_signature(state)
    if key not in runner.compiled:
        runner.compiled[key] = compile_ahead(runner.run_chunk, state, 1, model_args,
                                             model_kwargs)
    return runner.compiled[key]


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
    num_steps = check.iterations("num_steps", num_steps)
    check.key("rng_key", rng_key)
    _check_inputs(model, model_args, init_params)
    optimizer, chunk = loop_settings(num_steps, optimizer, learning_rate, momentum,
                                     progress_every)
    runner = _runner(model, optimizer, chunk, shape_signature((model_args, model_kwargs)))

    state = runner.init(rng_key, model_args, model_kwargs, init_params)
    losses = []
    done = 0
    with open_bar(num_steps, "MAP (SVI)", progress_bar) as bar:
        run_chunk = _compiled_chunk(runner, state, model_args, model_kwargs)
        start_clock(bar, "MAP (SVI)")
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
    params = runner.svi.guide.median(runner.svi.get_params(state))
    return MAPResult(params, np.concatenate(losses), state, done, _clipped(state))


def loop_settings(num_steps: int, optimizer: Any, learning_rate: float, momentum: float,
                  progress_every: int | None) -> tuple[optax.GradientTransformation, int]:
    """The checked optimizer (default: SGD with momentum) and the steps per compiled chunk
    (default: a twentieth of ``num_steps``, at most 50)."""
    if optimizer is None:
        optimizer = sgd_with_momentum(check.positive("learning_rate", learning_rate),
                                      check.unit_interval("momentum", momentum))
    else:
        check.optimizer("optimizer", optimizer)
    if progress_every is None:
        return optimizer, min(50, max(1, math.ceil(num_steps / 20)))
    return optimizer, min(check.positive_int("progress_every", progress_every), num_steps)


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
