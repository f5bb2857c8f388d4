"""Conversion of NumPyro runs to ArviZ, with explicit groups, dims and coords.

Works with ArviZ 0.x (returns ``InferenceData``) and 1.x (returns
``xarray.DataTree``); both have the same group names. ``log_likelihood`` is
always requested, since its default differs between the two.
"""

from __future__ import annotations

import warnings
from functools import partial
from typing import Any

import jax
import numpy as np
from numpyro.infer import MCMC, Predictive, log_likelihood

from .data import Trials

__all__ = [
    "GROUPS",
    "draws_to_inference_data",
    "import_arviz",
    "to_inference_data",
]

#: Groups :func:`to_inference_data` writes.
GROUPS = (
    "posterior",
    "posterior_predictive",
    "log_likelihood",
    "sample_stats",
    "observed_data",
    "constant_data",
)


def import_arviz():
    """Import ArviZ without its 0.23 banner about the 1.0 refactor."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*ArviZ is undergoing", category=FutureWarning)
        import arviz

    return arviz


def to_inference_data(
    mcmc: MCMC,
    model: Any,
    trials: Trials,
    *,
    posterior_predictive: bool = True,
    rng_key: jax.Array | None = None,
    model_kwargs: dict | None = None,
):
    """Convert a finished NUTS run of a WPPM to ArviZ.

    Parameters
    ----------
    mcmc
        The run (its model must be ``model.numpyro_model`` on ``trials``).
    model
        The WPPM.
    trials
        The data.
    posterior_predictive
        Also simulate responses ``y`` for every draw (NumPyro ``Predictive``).
    rng_key
        Key for the posterior predictive draws.
    model_kwargs
        Extra model arguments of the run (the full WPPM's fixed ``noise``).

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        Groups :data:`GROUPS`; dims ``chain``, ``draw``, ``trial`` and the
        prior's event dims (``dim`` for ``log_diag``).
    """
    az = import_arviz()
    pp = None
    if posterior_predictive:
        key = jax.random.PRNGKey(0) if rng_key is None else rng_key
        draws = Predictive(model.numpyro_model, mcmc.get_samples(), return_sites=["y"])(
            key, trials.ref, trials.probe, **(model_kwargs or {})
        )
        pp = {"y": np.asarray(draws["y"])}
    return az.from_numpyro(
        mcmc,
        posterior_predictive=pp,
        constant_data={"ref": np.asarray(trials.ref), "probe": np.asarray(trials.probe)},
        coords=_coords(model, trials),
        dims=_dims(model),
        log_likelihood=True,
        num_chains=mcmc.num_chains,
    )


def draws_to_inference_data(
    draws: dict,
    model: Any,
    trials: Trials,
    *,
    posterior_predictive: bool = True,
    rng_key: jax.Array | None = None,
    model_kwargs: dict | None = None,
    sample_stats: dict | None = None,
    attrs: dict | None = None,
):
    """Convert posterior draws of a WPPM from any method to ArviZ.

    The counterpart of :func:`to_inference_data` for draws that did not come
    from ``MCMC`` (SVI guides, Laplace approximations): the per-trial
    ``log_likelihood`` and the posterior predictive come from NumPyro's
    ``log_likelihood`` and ``Predictive`` on ``model.numpyro_model``, one
    draw at a time (so memory does not grow with the number of draws).

    Parameters
    ----------
    draws
        Parameter draws per site with leading axes ``(chain, draw)``, e.g.
        ``{"log_diag": (1, 1000, 2)}``.
    model
        The WPPM.
    trials
        The data.
    posterior_predictive
        Also simulate responses ``y`` for every draw.
    rng_key
        Key for the posterior predictive draws.
    model_kwargs
        Extra model arguments (the full WPPM's fixed ``noise``).
    sample_stats
        Optional per-draw statistics, arrays of shape ``(chain, draw)``.
    attrs
        Attributes stored on every group (e.g. ``{"inference": "laplace"}``).

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        Groups ``posterior``, ``log_likelihood``, ``observed_data``,
        ``constant_data``, and ``posterior_predictive`` and ``sample_stats``
        when asked for; dims as in :func:`to_inference_data`.
    """
    az = import_arviz()
    site = model.prior.site
    if not isinstance(draws, dict) or set(draws) != {site}:
        got = sorted(draws) if isinstance(draws, dict) else type(draws).__name__
        raise ValueError(f"draws must be a dict with the key {site!r}, got {got}.")
    value = np.asarray(draws[site])
    if value.shape[2:] != model.prior.shape or value.ndim != 2 + len(model.prior.shape):
        raise ValueError(
            f"draws[{site!r}] must have shape (chain, draw, *{model.prior.shape}), "
            f"got {value.shape}."
        )
    chains, num_draws = value.shape[:2]
    flat = {site: value.reshape(chains * num_draws, *model.prior.shape)}
    kwargs = model_kwargs or {}
    loglik = _pointwise_log_likelihood(model, flat, tuple(trials), kwargs)
    pp = None
    if posterior_predictive:
        key = jax.random.PRNGKey(0) if rng_key is None else rng_key
        y = _predict_responses(model, flat, key, trials.ref, trials.probe, kwargs)
        pp = {"y": np.asarray(y).reshape(chains, num_draws, -1)}
    return az.from_dict(
        posterior={site: value},
        posterior_predictive=pp,
        log_likelihood={"y": np.asarray(loglik).reshape(chains, num_draws, -1)},
        sample_stats=sample_stats,
        observed_data={"y": np.asarray(trials.responses)},
        constant_data={"ref": np.asarray(trials.ref),
                       "probe": np.asarray(trials.probe)},
        coords=_coords(model, trials),
        dims=_dims(model),
        attrs=attrs,
    )


@partial(jax.jit, static_argnums=0)
def _pointwise_log_likelihood(model: Any, draws: dict, args: tuple, kwargs: dict):
    """Per-draw, per-trial log-likelihood, one draw at a time (NumPyro's)."""
    return log_likelihood(model.numpyro_model, draws, *args, **kwargs)["y"]


@partial(jax.jit, static_argnums=0)
def _predict_responses(model: Any, draws: dict, key: jax.Array, ref, probe, kwargs):
    """Posterior predictive responses, one draw at a time."""
    predictive = Predictive(model.numpyro_model, draws, return_sites=["y"])
    return predictive(key, ref, probe, **kwargs)["y"]


def _coords(model: Any, trials: Trials) -> dict:
    n, d = trials.ref.shape
    coords = {"trial": np.arange(n), "dim": np.arange(d)}
    axes = zip(model.prior.event_dims, model.prior.shape)
    return coords | {name: np.arange(size) for name, size in axes}


def _dims(model: Any) -> dict:
    return {
        model.prior.site: model.prior.event_dims,
        "y": ["trial"],
        "ref": ["trial", "dim"],
        "probe": ["trial", "dim"],
    }
