"""Conversion of NumPyro runs to ArviZ, with explicit groups, dims and coords.

Works with both ArviZ lines: 0.2x (Python 3.11; returns ``InferenceData``)
and 1.x (Python 3.12+; returns ``xarray.DataTree``), with the same group
names, dims and coords. ``log_likelihood`` is always written, since 1.x no
longer adds it by default. The few calls whose spelling differs between the
lines (listing groups, reading and writing netCDF, the interval of
``az.summary``, the figure of a plot) have one home here:
:func:`group_names`, :func:`read_netcdf`, :func:`write_netcdf`,
:func:`summary`, :func:`loo_estimates`, :func:`arviz_figure`; the
convergence figures a sampler stops on are computed here too
(:func:`convergence`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from functools import partial
from typing import Any, NamedTuple

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


def arviz_major() -> int:
    """The major version of the installed ArviZ (0 or 1)."""
    return int(import_arviz().__version__.split(".")[0])


def group_names(idata: Any) -> tuple[str, ...]:
    """The groups of ArviZ data of either line (``("posterior", ...)``).

    ArviZ 0.x has ``idata.groups()``; on 1.x's ``xarray.DataTree``
    ``groups`` is a property of paths (``"/posterior"``), so the children
    are listed instead.
    """
    if isinstance(idata, xr.DataTree):
        return tuple(idata.children)
    return tuple(idata.groups())


def write_netcdf(idata: Any, path: str) -> str:
    """Write ArviZ data of either line to a netCDF-4 file through h5netcdf.

    Both lines read the file back (:func:`read_netcdf`, ``az.from_netcdf``).
    """
    idata.to_netcdf(path, engine="h5netcdf")
    return path


def read_netcdf(path: str):
    """Read a netCDF file of ArviZ groups into memory, as the installed line's object.

    Returns ``arviz.InferenceData`` on ArviZ 0.x and ``xarray.DataTree`` on
    1.x, whichever line wrote the file; the file is closed on return.
    """
    az = import_arviz()
    if arviz_major() >= 1:
        with xr.open_datatree(path, engine="h5netcdf") as tree:
            return tree.load()
    with az.rc_context({"data.load": "eager"}), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not defined in the InferenceData")
        return az.from_netcdf(path)


def summary(idata: Any, *, var_names: list[str] | None = None, prob: float = 0.9,
            **options: Any):
    """``az.summary`` with a ``prob`` highest-density interval, on either line.

    ArviZ 0.x names the interval ``hdi_prob`` (columns ``hdi_5%``,
    ``hdi_95%`` for 0.9); 1.x names it ``ci_prob`` with ``ci_kind="hdi"``
    (columns ``hdi90_lb``, ``hdi90_ub``). ``options`` (e.g.
    ``round_to="none"``) go to ``az.summary`` as they are.
    """
    az = import_arviz()
    if arviz_major() >= 1:
        interval = {"ci_prob": prob, "ci_kind": "hdi"}
    else:
        interval = {"hdi_prob": prob}
    return az.summary(idata, var_names=var_names, **interval, **options)


class Convergence(NamedTuple):
    """How well a run has mixed: its worst entry on each of ArviZ's two figures."""

    #: Least bulk ESS (rank-normalised, split chains) over every moving entry.
    least_ess: float
    #: Largest rank-normalised split R-hat over the same entries.
    largest_rhat: float

    def meets(self, min_ess: float, max_rhat: float) -> bool:
        """Whether both figures reach their bars (never, when either is NaN)."""
        return bool(self.least_ess >= min_ess and self.largest_rhat <= max_rhat)


def convergence(draws: Mapping[str, Any]) -> Convergence:
    """Least bulk ESS and largest R-hat over every entry of ``draws`` that moves.

    ``draws`` holds arrays ``(num_chains, num_draws, ...)``. Entries that never
    change (the zeros a gauge fixes) have no ESS or R-hat and are left out.
    """
    az = import_arviz()
    moving = {}
    for name, value in draws.items():
        value = np.asarray(value, dtype=np.float64)
        flat = value.reshape(value.shape[:2] + (-1,))
        keep = np.ptp(flat, axis=(0, 1)) > 0
        if keep.any():
            moving[name] = flat[..., keep]
    if not moving:
        raise ValueError("draws must hold at least one entry that moves.")
    data = az.convert_to_dataset(moving)
    ess, rhat = az.ess(data, method="bulk"), az.rhat(data)
    return Convergence(min(float(np.min(ess[name].values)) for name in moving),
                       max(float(np.max(rhat[name].values)) for name in moving))


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

    The run's draws of the model's sites and its extra fields (under ArviZ's
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
    samples = mcmc.get_samples(group_by_chain=True)
    draws = {site: samples[site] for site in model.param_sites}
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
    site, sites = model.prior.site, model.param_sites
    if not isinstance(draws, dict) or set(draws) != set(sites):
        got = sorted(draws) if isinstance(draws, dict) else type(draws).__name__
        want = f"key {site!r}" if len(sites) == 1 else f"keys {list(sites)}"
        raise ValueError(f"draws must be a dict with the {want}, got {got}.")
    value = np.asarray(draws[site])
    if value.shape[2:] != model.prior.shape or value.ndim != 2 + len(model.prior.shape):
        raise ValueError(
            f"draws[{site!r}] must have shape (chain, draw, *{model.prior.shape}), "
            f"got {value.shape}."
        )
    for name in sites[1:]:  # the inferred lapse rate: one number per draw
        if np.shape(draws[name]) != value.shape[:2]:
            raise ValueError(f"draws[{name!r}] must have shape (chain, draw) = "
                             f"{value.shape[:2]}, got {np.shape(draws[name])}.")
    kwargs = model_kwargs or {}
    groups = {
        **posterior_groups(model, draws),
        "log_likelihood": log_likelihood_group(model, draws, trials, kwargs),
        "sample_stats": {name: (("chain", "draw"), np.asarray(stat))
                         for name, stat in (sample_stats or {}).items()},
        **trial_groups(trials),
    }
    if posterior_predictive:
        key = default_draw_key(rng_key)
        y = _predict_responses(model, _flat(draws, sites), key, trials.ref, trials.probe,
                               kwargs)
        groups["posterior_predictive"] = {
            "y": (("chain", "draw", "trial"), np.asarray(y).reshape(*value.shape[:2], -1))}
    return build_inference_data(groups, attrs=attrs)


def log_likelihood_group(model: Any, draws: Mapping, trials: Trials,
                         model_kwargs: dict | None = None) -> dict:
    """Variables of the ``log_likelihood`` group: ``y``, ``(chain, draw, trial)``.

    NumPyro's per-trial log-likelihood of every draw of the model's sites
    (``param_sites``; other sites in ``draws`` are ignored), one draw at a time.
    """
    value = np.asarray(draws[model.prior.site])
    loglik = _pointwise_log_likelihood(model, _flat(draws, model.param_sites),
                                       tuple(trials), dict(model_kwargs or {}))
    return {"y": (("chain", "draw", "trial"),
                  np.asarray(loglik).reshape(*value.shape[:2], -1))}


def _flat(draws: Mapping, sites: tuple[str, ...]) -> dict:
    """The draws of ``sites`` with the leading (chain, draw) axes merged."""
    out = {}
    for site in sites:
        value = np.asarray(draws[site])
        out[site] = value.reshape(-1, *value.shape[2:])
    return out


def posterior_groups(model: Any, draws: Mapping) -> dict:
    """The ``posterior`` and ``unconstrained_posterior`` groups of draws by chain.

    The prior's site goes to ``posterior``, dims ``(chain, draw, *event
    dims)`` (``dim`` for ``log_diag``; ``basis_i, basis_j, dim, embed`` for
    ``W``), and so does an inferred ``lapse_rate``, dims ``(chain, draw)``.
    Any other site is a sampler's internal coordinate (``W_free`` of
    a gauge-fixed run) and goes to ``unconstrained_posterior`` (ArviZ's
    group for them), dims ``<site>_dim_<i>``, out of sight of
    ``az.summary`` and the plots, which read ``posterior``.
    """
    site = model.prior.site
    out = {"posterior": {}, "unconstrained_posterior": {}}
    for name, value in draws.items():
        value = np.asarray(value)
        if name == site:
            out["posterior"][name] = (("chain", "draw", *model.prior.event_dims), value)
        elif name in model.param_sites:
            out["posterior"][name] = (("chain", "draw"), value)
        else:
            extra = [f"{name}_dim_{i}" for i in range(value.ndim - 2)]
            out["unconstrained_posterior"][name] = (("chain", "draw", *extra), value)
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


def loo_estimates(loo: Any) -> tuple[float, float, float]:
    """``(elpd, se, p)`` of ``az.loo``'s result on either line.

    0.x returns a pandas Series (``elpd_loo``, ``se``, ``p_loo``), 1.x an
    ``ELPDData`` object (``elpd``, ``se``, ``p``).
    """
    if hasattr(loo, "elpd_loo"):
        return float(loo["elpd_loo"]), float(loo["se"]), float(loo["p_loo"])
    return float(loo.elpd), float(loo.se), float(loo.p)


def arviz_figure(plotted: Any):
    """The matplotlib figure of an ArviZ plot call of either line.

    0.x plot functions return an ``Axes`` or an array of them; 1.x returns a
    ``PlotCollection``, whose figure is its ``"figure"`` visual.
    """
    if hasattr(plotted, "get_viz"):
        return plotted.get_viz("figure")
    return np.asarray(plotted).ravel()[0].figure


def build_inference_data(groups: Mapping[str, Mapping[str, tuple]], *,
                         attrs: Mapping | None = None, coords: Mapping | None = None):
    """The InferenceData of named groups of ``(dims, array)`` variables.

    Every dim gets integer coordinates (as ArviZ's converters give) unless
    ``coords`` names its own (e.g. ``{"observer": names}``); empty
    groups are left out; ``attrs`` go on every group and on the root. The
    result is the installed ArviZ line's own object: ``arviz.InferenceData``
    on 0.x, ``xarray.DataTree`` (the root and one child per group) on 1.x.
    """
    az = import_arviz()
    datasets = {}
    for name, variables in groups.items():
        if not variables:
            continue
        ds = xr.Dataset(dict(variables), attrs=dict(attrs or {}))
        named = dict(coords or {})
        datasets[name] = ds.assign_coords({d: named.get(d, np.arange(n))
                                           for d, n in ds.sizes.items()})
    if arviz_major() >= 1:
        return xr.DataTree.from_dict({"/": xr.Dataset(attrs=dict(attrs or {})), **datasets})
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
