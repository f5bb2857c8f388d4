"""Conversion of NumPyro runs to ArviZ, with explicit groups, dims and coords.

Works with ArviZ 0.x (returns ``InferenceData``) and 1.x (returns
``xarray.DataTree``); both have the same group names. ``log_likelihood`` is
always requested, since its default differs between the two.
"""

from __future__ import annotations

import warnings
from typing import Any

import jax
import numpy as np
from numpyro.infer import MCMC, Predictive

from .data import Trials

__all__ = ["GROUPS", "import_arviz", "to_inference_data"]

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
    site = model.prior.site
    pp = None
    if posterior_predictive:
        key = jax.random.PRNGKey(0) if rng_key is None else rng_key
        draws = Predictive(model.numpyro_model, mcmc.get_samples(), return_sites=["y"])(
            key, trials.ref, trials.probe, **(model_kwargs or {})
        )
        pp = {"y": np.asarray(draws["y"])}
    n, d = trials.ref.shape
    event_dims = model.prior.event_dims
    coords = {"trial": np.arange(n), "dim": np.arange(d)}
    coords |= {name: np.arange(size) for name, size in zip(event_dims, model.prior.shape)}
    return az.from_numpyro(
        mcmc,
        posterior_predictive=pp,
        constant_data={"ref": np.asarray(trials.ref), "probe": np.asarray(trials.probe)},
        coords=coords,
        dims={
            site: event_dims,
            "y": ["trial"],
            "ref": ["trial", "dim"],
            "probe": ["trial", "dim"],
        },
        log_likelihood=True,
        num_chains=mcmc.num_chains,
    )
