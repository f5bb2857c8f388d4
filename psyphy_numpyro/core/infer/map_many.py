"""MAP fits of many datasets in one compiled program: observers, bootstrap replicates.

:func:`fit_map_many` runs :func:`~psyphy_numpyro.core.infer.map.fit_map`'s
SVI loop for S datasets at once: the trials are padded to a common length
and masked (padding adds nothing to the log density), and one compiled step
updates every dataset, scanned in chunks, so S fits cost one compilation.
Within a step the datasets are ``jax.vmap``-ed on accelerators and on a
mesh, and take turns (``jax.lax.map``) on one CPU device, where a single
fit already keeps the cores busy and the vectorised step, whose working set
grows with S, ran 1.3x slower than the separate steps (full WPPM, 8 x 1,000
and 8 x 6,000 trials, ``benchmarks/many_observers.py``). Each dataset's
result equals its separate ``fit_map`` to float32 rounding when the
model's density is deterministic (the MVP, the
``"quadrature"`` estimator); a model that draws Monte Carlo samples inside
(the ``"mc"`` estimators' fresh draws) draws them at the padded length, so
its fits are equal in distribution only.

On several devices the datasets (and, for fewer datasets than devices, the
trials) are laid over a :class:`jax.sharding.Mesh` with axes ``("observer",
"trial")`` (:func:`device_layout`); JAX partitions the compiled program, so
one call uses every device of a node, or of several hosts after
``jax.distributed.initialize()``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import numpyro
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from numpyro.infer import SVI, Trace_ELBO
from numpyro.infer.autoguide import AutoDelta
from numpyro.infer.initialization import init_to_sample

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.infer.map import (
    _RUNNERS,
    _check_inputs,
    guarded_update,
    init_state,
    keep_runner,
    loop_settings,
    shape_signature,
)
from psyphy_numpyro.core.infer.progress import compile_ahead, open_bar, start_clock
from psyphy_numpyro.core.trials import pad_trials

__all__ = ["DeviceLayout", "MAPManyResult", "device_layout", "fit_map_many"]


class MAPManyResult(NamedTuple):
    """Result of :func:`fit_map_many`, one entry per dataset.

    Attributes
    ----------
    params
        MAP estimates per site, stacked: ``{site: (S, *site shape)}``.
    losses
        SVI loss per step, one array per dataset (its length is that
        dataset's ``num_steps_run``).
    num_steps_run
        Steps taken per dataset, shape ``(S,)``; fewer than asked where a
        loss became non-finite.
    """

    params: dict
    losses: tuple[np.ndarray, ...]
    num_steps_run: np.ndarray


class DeviceLayout(NamedTuple):
    """How a batch of datasets lies on devices (:func:`device_layout`).

    Attributes
    ----------
    mesh
        A mesh with axes ``("observer", "trial")``, or None on one device.
    num_datasets, num_trials
        The padded batch: datasets a multiple of the mesh's ``observer``
        size, trials of its ``trial`` size.
    """

    mesh: Mesh | None
    num_datasets: int
    num_trials: int


def device_layout(num_datasets: int, num_trials: int, devices: Any = None) -> DeviceLayout:
    """Lay ``num_datasets`` datasets of up to ``num_trials`` trials over ``devices``.

    Datasets go over as many devices as divide the device count without
    exceeding the number of datasets; the remaining factor splits the trials
    (one large observer on four devices: four trial shards).

    Parameters
    ----------
    devices
        A sequence of JAX devices; None for all of ``jax.devices()`` (every
        process's, after ``jax.distributed.initialize()``).

    Examples
    --------
    >>> layout = device_layout(3, 1000, jax.devices()[:1])
    >>> layout.mesh is None, layout.num_datasets, layout.num_trials
    (True, 3, 1000)
    """
    num_datasets = check.positive_int("num_datasets", num_datasets)
    num_trials = check.positive_int("num_trials", num_trials)
    devices = list(jax.devices() if devices is None else devices)
    if not devices or not all(isinstance(d, jax.Device) for d in devices):
        raise TypeError("devices must be a non-empty sequence of jax devices (jax.devices()).")
    count = len(devices)
    if count == 1:
        return DeviceLayout(None, num_datasets, num_trials)
    by_dataset = max(d for d in range(1, count + 1) if count % d == 0 and d <= num_datasets)
    by_trial = count // by_dataset
    mesh = Mesh(np.array(devices).reshape(by_dataset, by_trial), ("observer", "trial"))
    return DeviceLayout(mesh, _round_up(num_datasets, by_dataset), _round_up(num_trials, by_trial))


def _round_up(n: int, m: int) -> int:
    return -(-n // m) * m


@dataclass(frozen=True)
class _MaskedModel:
    """``model(ref, probe, responses, mask=mask)`` with its log density times ``scale``."""

    model: Callable[..., None]

    def __call__(self, ref, probe, responses, *, mask, scale) -> None:
        with numpyro.handlers.scale(scale=scale):
            self.model(ref, probe, responses, mask=mask)


class _ManyRunner(NamedTuple):
    init: Callable
    run_chunk: Callable
    svi: SVI
    compiled: dict


def _many_runner(model: _MaskedModel, optimizer, chunk: int, signature,
                 mesh: Mesh | None, in_turn: bool) -> _ManyRunner:
    """Compiled SVI init and update loop over datasets, cached like ``fit_map``'s.

    Each step updates the datasets vmapped, or with ``in_turn`` one after
    another (``lax.map``) inside the one compiled step. On a mesh, every leaf
    of the states keeps its observer axis split over the mesh's ``observer``
    axis, so each chunk's output is the next one's input.
    """
    key = ("many", model, optimizer, chunk, signature, mesh, in_turn)
    if key in _RUNNERS:
        _RUNNERS.move_to_end(key)
        return _RUNNERS[key]
    svi = SVI(model, AutoDelta(model, init_loc_fn=init_to_sample), optimizer, Trace_ELBO())

    def by_observer(states):
        if mesh is None:
            return states
        sharding = NamedSharding(mesh, PartitionSpec("observer"))
        return jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, sharding), states)

    @jax.jit
    def init(rng_keys, args, kwargs, init_values):
        return by_observer(jax.vmap(lambda k, a, kw, v: init_state(svi, k, a, kw, v))(
            rng_keys, args, kwargs, init_values))

    @jax.jit
    def run_chunk(states, healthy, steps_left, args, kwargs):
        def one(state, well, active, a, kw):
            return guarded_update(svi, state, well, active, a, kw)

        def body(carry, i):
            states, healthy, taken = carry
            if in_turn:
                states, healthy, active, losses = jax.lax.map(
                    lambda xs: one(xs[0], xs[1], i < steps_left, xs[2], xs[3]),
                    (states, healthy, args, kwargs))
            else:
                states, healthy, active, losses = jax.vmap(one, in_axes=(0, 0, None, 0, 0))(
                    states, healthy, i < steps_left, args, kwargs)
            return (states, healthy, taken + active), losses

        carry = (states, healthy, jnp.zeros(healthy.shape, jnp.int32))
        (states, healthy, taken), losses = jax.lax.scan(body, carry, jnp.arange(chunk))
        return by_observer(states), healthy, taken, losses

    return keep_runner(key, _ManyRunner(init, run_chunk, svi, {}))


def fit_map_many(
    rng_keys: jax.Array,
    model: Callable[..., None],
    datasets: Sequence[tuple],
    *,
    num_steps: int,
    optimizer: optax.GradientTransformation | None = None,
    learning_rate: float = 1e-2,
    momentum: float = 0.9,
    init_params: Sequence[dict] | None = None,
    scales: Sequence[float] | None = None,
    devices: Any = None,
    progress_bar: bool = True,
    progress_every: int | None = None,
) -> MAPManyResult:
    """MAP fits of S datasets of any sizes in one compiled, vectorised program.

    Parameters
    ----------
    rng_keys
        One key per dataset, shape ``(S, 2)`` (each the ``rng_key`` its
        separate :func:`~psyphy_numpyro.core.infer.map.fit_map` would take).
    model
        A NumPyro model ``model(ref, probe, responses, mask=None)`` whose
        trials where ``mask`` is False add nothing (the WPPM's
        ``spec.numpyro_model``).
    datasets
        S tuples ``(ref, probe, responses)``, of any lengths.
    num_steps, optimizer, learning_rate, momentum, progress_bar, progress_every
        As for :func:`~psyphy_numpyro.core.infer.map.fit_map`.
    init_params
        One starting dict per dataset; otherwise prior draws.
    scales
        One positive factor per dataset on its log density (e.g. ``1 / N``
        for psyphy 0.0.5's per-trial mean objective); default 1.
    devices
        Devices to lay the batch over (:func:`device_layout`); None for all.

    Returns
    -------
    MAPManyResult
    """
    num_steps = check.iterations("num_steps", num_steps)
    datasets = _check_datasets(datasets)
    num = len(datasets)
    keys = _check_keys(rng_keys, num)
    starts = _check_starts(init_params, num)
    for data, start in zip(datasets, starts):
        _check_inputs(model, data, start)
    scales = _check_scales(scales, num)
    optimizer, chunk = loop_settings(num_steps, optimizer, learning_rate, momentum,
                                     progress_every)

    layout = device_layout(num, max(len(d[0]) for d in datasets), devices)
    args, kwargs, init_values, keys = _batch(layout, datasets, starts, scales, keys)
    # on one CPU device the datasets take turns within each step: vectorised,
    # the step of 8 full-WPPM datasets cost 1.3x their separate steps (cache)
    in_turn = layout.mesh is None and jax.default_backend() == "cpu"
    runner = _many_runner(_MaskedModel(model), optimizer, chunk,
                          shape_signature((args, kwargs, init_values)), layout.mesh, in_turn)
    states = runner.init(keys, args, kwargs, init_values)
    healthy = _place(layout, np.ones(layout.num_datasets, bool), ("observer",))
    losses, done = [], np.zeros(layout.num_datasets, np.int64)
    with open_bar(num_steps, f"MAP (SVI) x {num}", progress_bar) as bar:
        signature = shape_signature(states)
        if signature not in runner.compiled:
            runner.compiled[signature] = compile_ahead(runner.run_chunk, states, healthy, 1,
                                                       args, kwargs)
        run_chunk = runner.compiled[signature]
        start_clock(bar, f"MAP (SVI) x {num}")
        steps = 0
        while steps < num_steps:
            states, healthy, taken, chunk_losses = run_chunk(states, healthy, num_steps - steps,
                                                             args, kwargs)
            taken = _to_host(taken)
            losses.append(_to_host(chunk_losses))
            done += taken
            steps += int(taken.max())
            bar.update(int(taken.max()))
            alive = _to_host(healthy)[:num]
            if not alive.any():
                break
            bar.set_postfix(loss=f"{np.median(losses[-1][-1, :num][alive]):.4g}")
    done = done[:num]
    losses = np.concatenate(losses, axis=0) if losses else np.zeros((0, num))
    for s in np.flatnonzero(done < num_steps):
        warnings.warn(
            f"MAP fit of dataset {s} stopped at step {done[s] - 1}: the loss or the "
            "parameters became non-finite. Its last finite parameters are returned; "
            "try a smaller learning_rate.", RuntimeWarning, stacklevel=2)
    params = runner.svi.guide.median(runner.svi.get_params(states))
    params = {site: _to_host(value)[:num] for site, value in params.items()}
    return MAPManyResult(params, tuple(losses[: done[s], s] for s in range(num)), done)


def _check_datasets(datasets: Any) -> list[tuple]:
    if isinstance(datasets, (str, bytes)) or not isinstance(datasets, Sequence):
        raise TypeError("datasets must be a sequence of (ref, probe, responses) tuples, got "
                        f"{type(datasets).__name__}.")
    if not datasets:
        raise ValueError("datasets is empty; give at least one (ref, probe, responses).")
    out = []
    for s, data in enumerate(datasets):
        if not isinstance(data, tuple) or len(data) != 3:
            raise TypeError(f"datasets[{s}] must be a (ref, probe, responses) tuple.")
        ref, probe, responses = (np.asarray(x) for x in data)
        if ref.ndim != 2 or probe.shape != ref.shape or responses.shape != ref.shape[:1]:
            raise ValueError(f"datasets[{s}]: ref and probe must be (N, d) and responses (N,), "
                             f"got shapes {ref.shape}, {probe.shape}, {responses.shape}.")
        if ref.shape[0] == 0:
            raise ValueError(f"datasets[{s}] has no trials.")
        out.append((ref, probe, responses))
    dims = {d[0].shape[1] for d in out}
    if len(dims) > 1:
        raise ValueError(f"datasets have different stimulus dimensions {sorted(dims)}; "
                         "one model fits one stimulus space.")
    return out


def _check_keys(rng_keys: Any, num: int) -> np.ndarray:
    if isinstance(rng_keys, jax.Array) and jax.dtypes.issubdtype(rng_keys.dtype,
                                                                 jax.dtypes.prng_key):
        rng_keys = jax.random.key_data(rng_keys)
    if not (isinstance(rng_keys, (jax.Array, np.ndarray)) and rng_keys.dtype == np.uint32
            and rng_keys.shape == (num, 2)):
        raise TypeError(f"rng_keys must be {num} JAX PRNG keys stacked, shape ({num}, 2) "
                        "(jax.random.split(key, num)); got "
                        f"{type(rng_keys).__name__} {getattr(rng_keys, 'shape', '')}.")
    return np.asarray(rng_keys)


def _check_starts(init_params: Any, num: int) -> list:
    if init_params is None:
        return [None] * num
    if isinstance(init_params, dict) or not isinstance(init_params, Sequence):
        raise TypeError("init_params must be a sequence of dicts, one per dataset.")
    if len(init_params) != num:
        raise ValueError(f"init_params holds {len(init_params)} starts for {num} datasets.")
    if any(p is None for p in init_params):
        raise ValueError("init_params must give every dataset a start, or be None.")
    return list(init_params)


def _check_scales(scales: Any, num: int) -> np.ndarray:
    if scales is None:
        return np.ones(num, np.float32)
    values = np.asarray(scales, dtype=float)
    if values.shape != (num,):
        raise ValueError(f"scales must hold one factor per dataset ({num}), got shape "
                         f"{values.shape}.")
    if not np.all(np.isfinite(values) & (values > 0)):
        raise ValueError(f"scales must be finite and positive, got {values}.")
    return values.astype(np.float32)


def _batch(layout: DeviceLayout, datasets: list, starts: list, scales: np.ndarray,
           keys: jax.Array) -> tuple:
    """Padded, stacked and placed model arguments, starts and keys.

    The observer axis is filled by repeating the last dataset (its results are
    dropped); see :func:`~psyphy_numpyro.core.trials.pad_trials`.
    """
    *arrays, mask = pad_trials(datasets, layout.num_datasets, layout.num_trials)
    order = [min(s, len(datasets) - 1) for s in range(layout.num_datasets)]
    trial_axes = ("observer", "trial")
    args = tuple(_place(layout, x, trial_axes) for x in arrays)
    kwargs = {"mask": _place(layout, mask, trial_axes),
              "scale": _place(layout, scales[order], ("observer",))}
    init_values = None
    if starts[0] is not None:
        init_values = jax.tree.map(
            lambda *xs: _place(layout, np.stack([np.asarray(x) for x in xs]), ("observer",)),
            *[starts[s] for s in order])
    keys = _place(layout, np.asarray(keys)[order], ("observer",))
    return args, kwargs, init_values, keys


def _place(layout: DeviceLayout, value: np.ndarray, axes: tuple) -> jax.Array:
    """``value`` on the layout's devices, split along ``axes`` (global over processes)."""
    if layout.mesh is None:
        return jnp.asarray(value)
    sharding = NamedSharding(layout.mesh, PartitionSpec(*axes))
    return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])


def _to_host(value: jax.Array) -> np.ndarray:
    """A (possibly sharded, multi-process) array as one NumPy array on this host."""
    if getattr(value, "is_fully_addressable", True):
        return np.asarray(value)
    from jax.experimental import multihost_utils

    return np.asarray(multihost_utils.process_allgather(value, tiled=True))
