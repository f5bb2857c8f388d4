"""Argument checks that run in Python, before anything is traced or compiled."""

from __future__ import annotations

import math
import os
import sys
import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np

# psyphy_numpyro/, the folder above core/: warnings point past every layer
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep


def warn(message: str, category: type[Warning] = UserWarning) -> None:
    """Warn at the first caller outside psyphy_numpyro (the user's own line)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE_DIR):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def positive(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number > 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a finite number > 0, got {value!r}.")
    return float(value)


def non_negative(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number >= 0."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0, got {value!r}.")
    return float(value)


def positive_int(name: str, value, minimum: int = 1) -> int:
    """Return ``value`` as an int, or raise if it is not an integer >= minimum."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be an integer, got {type(value).__name__}.")
    if value < minimum:
        if minimum == 1:  # psyphy's wording, e.g. "num_samples must be > 0"
            raise ValueError(f"{name} must be > 0 (a positive integer), got {value!r}.")
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}.")
    return int(value)


#: The most loop iterations one run may ask for: JAX counts them in int32.
MAX_ITERATIONS = 2**31 - 1


def iterations(name: str, value, minimum: int = 1) -> int:
    """Return a count of loop iterations (steps, draws) as an int.

    Like :func:`positive_int`, and at most :data:`MAX_ITERATIONS`.
    """
    value = positive_int(name, value, minimum)
    if value > MAX_ITERATIONS:
        raise ValueError(f"{name} must be at most {MAX_ITERATIONS} (JAX counts loop "
                         f"iterations in int32), got {value}.")
    return value


def instance(name: str, value: Any, cls: type) -> Any:
    """Return ``value`` if it is a ``cls``; else raise a ``TypeError`` naming both."""
    if not isinstance(value, cls):
        raise TypeError(f"{name} must be a {cls.__name__}, got {type(value).__name__}.")
    return value


def optimizer(name: str, value: Any) -> Any:
    """Return ``value`` if it is None or an optax ``GradientTransformation``; else raise."""
    import optax

    if value is not None and not isinstance(value, optax.GradientTransformation):
        raise TypeError(
            f"{name} must be an optax.GradientTransformation, got {type(value).__name__}."
        )
    return value


def key(name: str, value: Any) -> Any:
    """Return ``value`` if it is a JAX PRNG key (``PRNGKey(n)`` or ``random.key(n)``)."""
    import jax

    typed = isinstance(value, jax.Array) and jax.dtypes.issubdtype(
        value.dtype, jax.dtypes.prng_key)
    raw = (isinstance(value, (jax.Array, np.ndarray)) and value.dtype == np.uint32
           and value.shape == (2,))
    if not (typed or raw):
        raise TypeError(
            f"{name} must be a JAX PRNG key, e.g. jax.random.PRNGKey(0); got "
            f"{type(value).__name__} {getattr(value, 'shape', '')}."
        )
    return value


def seed(name: str, value) -> int:
    """Return ``value`` as an int seed in [0, 2**32), or raise (no truncation)."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(
            f"{name} must be an integer seed, got {type(value).__name__} {value!r}."
        )
    if not 0 <= value < 2**32:
        raise ValueError(f"{name} must lie in [0, 2**32), got {value!r}.")
    return int(value)


def unit_interval(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not (0.0 <= value < 1.0):
        raise ValueError(f"{name} must lie in [0, 1), got {value!r}.")
    return float(value)


def open_unit_interval(name: str, value) -> float:
    """Return ``value`` as a float, or raise if it is not in (0, 1)."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__}.")
    if not (0.0 < value < 1.0):
        raise ValueError(f"{name} must lie in (0, 1), got {value!r}.")
    return float(value)


def finite_array(name: str, value, *, ndim: int | None = None) -> np.ndarray:
    """Convert ``value`` to a float array; raise on NaN/inf, complex values or a wrong ndim."""
    if np.iscomplexobj(value):
        raise TypeError(f"{name} must be real; got complex values (dtype "
                        f"{np.asarray(value).dtype}). Pass the real part if that is meant.")
    try:
        arr = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of numbers: {err}") from None
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(
            f"{name} must have {ndim} dimension(s), got shape {arr.shape}."
        )
    if not np.all(np.isfinite(arr)):
        bad = int(np.sum(~np.isfinite(arr)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s).")
    return arr


def binary_responses(name: str, value, num_trials: int) -> np.ndarray:
    """Convert responses to an int32 vector of 0/1, one per trial."""
    arr = np.asarray(value)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must have shape (N,) or (N, 1), got shape {arr.shape}."
        )
    if arr.shape[0] != num_trials:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries but there are {num_trials} trials."
        )
    try:
        as_float = arr.astype(float)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must hold numbers 0 or 1.") from None
    bad = ~np.isin(as_float, (0.0, 1.0))
    if np.any(bad):
        first = arr[np.argmax(bad)]
        raise ValueError(
            f"{name} must be 0 (wrong) or 1 (correct); found {int(bad.sum())} "
            f"other value(s), e.g. {first!r}."
        )
    return as_float.astype(np.int32)


def stimuli_pair(ref, probe, input_dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Check a (ref, probe) pair of (N, input_dim) stimulus arrays."""
    ref = finite_array("ref", ref)
    probe = finite_array("probe", probe)
    if ref.ndim == 1:
        ref = ref[None]
    if probe.ndim == 1:
        probe = probe[None]
    if ref.shape != probe.shape:
        raise ValueError(
            f"ref and probe must have the same shape, got {ref.shape} and "
            f"{probe.shape}."
        )
    if ref.ndim != 2 or ref.shape[1] != input_dim:
        raise ValueError(
            f"stimuli must have shape (N, {input_dim}) for a model with "
            f"input_dim={input_dim}, got {ref.shape}."
        )
    if ref.shape[0] == 0:
        raise ValueError("data is empty: at least one trial is needed.")
    return ref, probe


def wppm(value: Any, name: str = "model") -> Any:
    """Return ``value`` if it is a WPPM (a facade model or a core spec)."""
    needed = ("numpyro_model", "prior", "task", "local_covariance")
    if not all(hasattr(value, attr) for attr in needed):
        raise TypeError(
            f"{name} must be a psyphy_numpyro.WPPM, got {type(value).__name__}; "
            "build the model with psyphy_numpyro's classes."
        )
    return value
