"""Conversion of NumPyro runs to ArviZ, with explicit groups, dims and coords.

Works with ArviZ 0.x (returns ``InferenceData``) and 1.x (returns
``xarray.DataTree``); both have the same group names. ``log_likelihood`` is
always requested, since its default differs between the two.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import partial
from typing import Any

import jax
import numpy as np
import xarray as xr
from numpyro.infer import MCMC, Predictive, log_likelihood

from psyphy_numpyro.core.keys import default_draw_key
from psyphy_numpyro.core.trials import Trials

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


#: NumPyro's extra fields under ArviZ's sample-stat names (as ``az.from_numpyro``).
ARVIZ_STAT_NAMES = {
    "diverging": "diverging",
    "accept_prob": "acceptance_rate",
    "num_steps": "n_steps",
    "potential_energy": "lp",
    "energy": "energy",
}


def arviz_sample_stats(extra_fields: Mapping) -> dict:
    """NumPyro's per-draw extra fields under ArviZ's names.

    ``lp`` is minus the potential energy and ``tree_depth`` is derived from
    ``n_steps``, as ``az.from_numpyro`` does; fields ArviZ has no name for
    are left out.
    """
    out = {}
    for name, value in extra_fields.items():
        if name not in ARVIZ_STAT_NAMES:
            continue
        value = np.asarray(value)
        out[ARVIZ_STAT_NAMES[name]] = -value if name == "potential_energy" else value
        if name == "num_steps":
            out["tree_depth"] = np.log2(value).astype(int) + 1
    return out


def to_inference_data(mcmc: MCMC, model: Any, trials: Trials, **options: Any):
    """Convert a finished NumPyro ``MCMC`` run of a WPPM to ArviZ.

    The run's draws of the prior's site and its extra fields (under ArviZ's
    names, :func:`arviz_sample_stats`) go through
    :func:`draws_to_inference_data`, the one builder of every fit kind.

    Parameters
    ----------
    mcmc
        The run (its model must be ``model.numpyro_model`` on ``trials``, or
        the gauge-fixed model of the same density).
    model, trials, **options
        As in :func:`draws_to_inference_data` (``posterior_predictive``,
        ``rng_key``, ``model_kwargs``, ``attrs``).

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        Groups :data:`GROUPS`; dims ``chain``, ``draw``, ``trial`` and the
        prior's event dims (``dim`` for ``log_diag``).
    """
    site = model.prior.site
    draws = {site: mcmc.get_samples(group_by_chain=True)[site]}
    stats = arviz_sample_stats(mcmc.get_extra_fields(group_by_chain=True))
    return draws_to_inference_data(draws, model, trials, sample_stats=stats, **options)


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

    The one builder of every fit kind (NUTS and MALA runs through
    :func:`to_inference_data`, SVI guides, Laplace approximations, stored
    draws): the per-trial
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
        Extra model arguments (the full WPPM's fixed ``mc_samples``).
    sample_stats
        Optional per-draw statistics under ArviZ's names, arrays of shape
        ``(chain, draw)`` (see :func:`arviz_sample_stats`).
    attrs
        Attributes stored on every group (e.g. ``{"inference": "laplace"}``).

    Returns
    -------
    arviz.InferenceData or xarray.DataTree
        Groups ``posterior``, ``log_likelihood``, ``observed_data``,
        ``constant_data``, and ``posterior_predictive`` and ``sample_stats``
        when asked for; dims as in :func:`to_inference_data`.
    """
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
    per_trial = ("chain", "draw", "trial")
    loglik = _pointwise_log_likelihood(model, flat, tuple(trials), kwargs)
    groups = {
        "posterior": posterior_group(model, draws),
        "log_likelihood": {"y": (per_trial, np.asarray(loglik).reshape(chains, num_draws, -1))},
        "sample_stats": {name: (("chain", "draw"), np.asarray(stat))
                         for name, stat in (sample_stats or {}).items()},
        **trial_groups(trials),
    }
    if posterior_predictive:
        key = default_draw_key(rng_key)
        y = _predict_responses(model, flat, key, trials.ref, trials.probe, kwargs)
        groups["posterior_predictive"] = {
            "y": (per_trial, np.asarray(y).reshape(chains, num_draws, -1))}
    return build_inference_data(groups, attrs=attrs)


def posterior_group(model: Any, draws: Mapping) -> dict:
    """Variables of the ``posterior`` group: ``(chain, draw, *event dims)``.

    The prior's site gets its event dims (``dim`` for ``log_diag``;
    ``basis_i, basis_j, dim, embed`` for ``W``); any other site (``W_free``
    of a gauge-fixed run) gets ``<site>_dim_<i>``.
    """
    site = model.prior.site
    out = {}
    for name, value in draws.items():
        value = np.asarray(value)
        extra = (model.prior.event_dims if name == site
                 else [f"{name}_dim_{i}" for i in range(value.ndim - 2)])
        out[name] = (("chain", "draw", *extra), value)
    return out


def trial_groups(trials: Trials | None) -> dict:
    """``observed_data`` (responses ``y``) and ``constant_data`` (stimuli)."""
    if trials is None:
        return {}
    ref, probe, responses = (np.asarray(a) for a in trials)
    return {
        "observed_data": {"y": (("trial",), responses)},
        "constant_data": {"ref": (("trial", "dim"), ref), "probe": (("trial", "dim"), probe)},
    }


def build_inference_data(groups: Mapping[str, Mapping[str, tuple]], *,
                         attrs: Mapping | None = None):
    """The InferenceData of named groups of ``(dims, array)`` variables.

    Every dim gets integer coordinates (as ArviZ's converters give); empty
    groups are left out; ``attrs`` go on every group.
    """
    az = import_arviz()
    datasets = {}
    for name, variables in groups.items():
        if not variables:
            continue
        ds = xr.Dataset(dict(variables), attrs=dict(attrs or {}))
        datasets[name] = ds.assign_coords({d: np.arange(n) for d, n in ds.sizes.items()})
    return az.InferenceData(attrs=dict(attrs or {}), **datasets)


@partial(jax.jit, static_argnums=0)
def _pointwise_log_likelihood(model: Any, draws: dict, args: tuple, kwargs: dict):
    """Per-draw, per-trial log-likelihood, one draw at a time (NumPyro's)."""
    return log_likelihood(model.numpyro_model, draws, *args, **kwargs)["y"]


@partial(jax.jit, static_argnums=0)
def _predict_responses(model: Any, draws: dict, key: jax.Array, ref, probe, kwargs):
    """Posterior predictive responses, one draw at a time."""
    predictive = Predictive(model.numpyro_model, draws, return_sites=["y"])
    return predictive(key, ref, probe, **kwargs)["y"]
