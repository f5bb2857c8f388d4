"""Simulated observers: stimuli around a reference and responses from any params.

Responses are drawn with NumPyro's ``Predictive`` from the same model that is
fitted, so a simulation and a fit can never disagree about the model.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from numpyro.infer import Predictive

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.trials import TrialData


def probes_around(
    rng_key: jax.Array, num_trials: int, ref: Any, max_radius: float
) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Probes at a uniform random angle and a uniform radius in [0, max_radius].

    Parameters
    ----------
    rng_key
        Random key.
    num_trials
        Number of trials.
    ref
        The reference, shape ``(2,)`` (the design is planar).
    max_radius
        Largest distance of a probe from the reference.

    Returns
    -------
    ref, probe
        Arrays of shape ``(num_trials, 2)``.
    """
    num_trials = check.positive_int("num_trials", num_trials)
    max_radius = check.positive("max_radius", max_radius)
    ref = check.finite_array("ref", ref, ndim=1)
    if ref.shape != (2,):
        raise ValueError(f"ref must have shape (2,), got {ref.shape}.")
    return _probes(rng_key, num_trials, jnp.asarray(ref, jnp.float32), max_radius)


@partial(jax.jit, static_argnums=1)
def _probes(rng_key, num_trials, ref, max_radius):
    key_angle, key_radius = jax.random.split(rng_key)
    angle = jax.random.uniform(key_angle, (num_trials,), maxval=2 * jnp.pi)
    radius = jax.random.uniform(key_radius, (num_trials,), maxval=max_radius)
    refs = jnp.broadcast_to(ref, (num_trials, 2))
    probe = refs + radius[:, None] * jnp.stack([jnp.cos(angle), jnp.sin(angle)], -1)
    return refs, probe


def simulate_responses(
    rng_key: jax.Array, model: Any, params: dict, ref: Any, probe: Any
) -> np.ndarray:
    """Draw one answer (1 correct, 0 wrong) per trial from ``model`` at ``params``.

    Returns
    -------
    numpy.ndarray
        int32 responses, shape ``(N,)``.
    """
    check.key("rng_key", rng_key)
    params = model.check_params(params)
    ref, probe = model.check_stimuli(ref, probe)
    fixed = {k: jnp.asarray(v)[None] for k, v in params.items()}
    draws = _predict_y(model, fixed, rng_key, ref, probe)
    return np.asarray(draws[0], dtype=np.int32)


@partial(jax.jit, static_argnums=0)
def _predict_y(model: Any, params: dict, rng_key: jax.Array, ref, probe) -> jax.Array:
    predictive = Predictive(model.numpyro_model, params, return_sites=["y"])
    return predictive(rng_key, ref, probe)["y"]


def simulate_trials(
    rng_key: jax.Array,
    model: Any,
    params: dict,
    num_trials: int,
    ref: Any = (0.0, 0.0),
    max_radius: float = 0.25,
) -> TrialData:
    """The seed's experiment: probes around one reference, answers from ``model``.

    Returns
    -------
    TrialData
        ``stimuli`` of shape ``(num_trials, 2, 2)`` and responses ``(num_trials,)``.
    """
    check.key("rng_key", rng_key)
    params = model.check_params(params)
    check.positive_int("num_trials", num_trials)
    key_design, key_resp = jax.random.split(rng_key)
    refs, probe = probes_around(key_design, num_trials, ref, max_radius)
    y = simulate_responses(key_resp, model, params, refs, probe)
    return TrialData(np.stack([np.asarray(refs), np.asarray(probe)], axis=1), y)
