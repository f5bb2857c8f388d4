"""Save a fit to netCDF with its model's configuration, and load it back.

:func:`save_fit` writes any fit (:class:`~psyphy_numpyro.MAPPosterior`,
:class:`~psyphy_numpyro.NUTSPosterior`, or any posterior with ``.model``,
``.params`` and ``.samples`` or ``.sample()``) as an ArviZ ``InferenceData``
netCDF file; :func:`load_fit` rebuilds the model and the fit from it. Arrays
keep their dtypes and values bit for bit, so the reloaded fit gives the same
numbers as the original.

File layout (format version :data:`FORMAT_VERSION`):

- root attributes: ``psyphy_numpyro_format`` (the version), ``fit_kind``
  (``"map"``, ``"nuts"``, ``"draws"`` or a registered kind), ``model_config``
  (JSON, :func:`model_config`) and ``fit_info`` (JSON, the kind's settings);
  the ``posterior`` group repeats ``model_config`` and the version;
- ``posterior``: draws of the prior's site, dims ``(chain, draw, *event
  dims)``; a MAP fit is one chain of one draw;
- ``unconstrained_posterior``: draws of a sampler's internal coordinates
  (``W_free`` of a gauge-fixed NUTS run), which ``az.summary`` and ArviZ's
  plots do not read (files written before they had this group hold them in
  ``posterior``, and load the same);
- ``log_likelihood``: the per-trial log-likelihood ``y`` of every draw (dims
  ``chain, draw, trial``), so ``az.loo`` works on the file itself; written
  when the fit holds its trials and its density is fixed (a full WPPM on the
  ``"mc"`` estimator needs the fit's stored ``mc_samples``); derived from the
  draws and covered by the checksum;
- ``sample_stats``: per-draw statistics under ArviZ's names (NUTS and MALA:
  ``diverging``, ``acceptance_rate``, ``n_steps``, ``tree_depth``, ``lp``,
  ``energy``);
- ``optimization``: per-step histories of an optimiser (a MAP fit's ``loss``,
  dim ``step``), kept out of ``sample_stats``, which is per draw;
- ``observed_data``: the responses ``y`` (dim ``trial``), when the fit holds
  its trials;
- ``constant_data``: the stimuli ``ref`` and ``probe`` (dims ``trial, dim``);
- ``fit``: arrays of the fit itself, e.g. the fixed Monte Carlo draws
  ``mc_samples`` that NUTS conditioned the full WPPM on.

The file is assembled by :func:`~psyphy_numpyro.core.idata.build_inference_data`,
the builder every ArviZ conversion of the package uses, and is read and written
through h5netcdf by either ArviZ line (0.2x gives ``InferenceData``, 1.x
``xarray.DataTree``): a file written under one loads under the other.

A new kind of fit (e.g. an SVI or Laplace posterior) is added with
:func:`register_fit_format`: a function that describes the fit as a
:class:`FitRecord` and one that rebuilds it; the file layout stays the same.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.core.idata import (
    ARVIZ_STAT_NAMES,
    arviz_sample_stats,
    build_inference_data,
    group_names,
    log_likelihood_group,
    posterior_groups,
    read_netcdf,
    trial_groups,
    write_netcdf,
)
from psyphy_numpyro.core.lapse import LapsePrior
from psyphy_numpyro.core.noise import GaussianNoise, StudentTNoise
from psyphy_numpyro.core.oddity.gaussian_mc import GaussianDraws
from psyphy_numpyro.core.prior import Prior
from psyphy_numpyro.core.tasks import OddityTask, OddityTaskConfig, TwoAFC
from psyphy_numpyro.core.trials import Trials
from psyphy_numpyro.data.atomic import atomic_path, check_not_partial
from psyphy_numpyro.model.wppm import WPPM
from psyphy_numpyro.posterior.draws import StoredPosterior
from psyphy_numpyro.posterior.langevin import LangevinPosterior
from psyphy_numpyro.posterior.mcmc import NUTSPosterior
from psyphy_numpyro.posterior.posterior import MAPPosterior

#: Version of :func:`model_config`'s dict and of the file layout.
FORMAT_VERSION = 2

_VERSION_KEY = "psyphy_numpyro_format"
_CLASS_KEY = "class"
#: The configuration classes a model is built from, by the name stored in the file.
_CONFIG_CLASSES = {
    cls.__name__: cls
    for cls in (Prior, OddityTask, OddityTaskConfig, TwoAFC, LapsePrior, GaussianNoise,
                StudentTNoise)
}


# -- model configuration ---------------------------------------------------------
def model_config(model: WPPM) -> dict:
    """Every setting of a WPPM as JSON-safe values, with a format version.

    Prior, task (with its ``OddityTaskConfig``) and noise are stored field by
    field (all their dataclass fields, so fields added later are kept), each
    with its class name under ``"class"``.

    Parameters
    ----------
    model
        The model.

    Returns
    -------
    dict
        ``{"format_version", "input_dim", "diag_term", "prior", "task", "noise"}``.

    Examples
    --------
    >>> from psyphy_numpyro import WPPM, Prior, TwoAFC
    >>> cfg = model_config(WPPM(Prior.default(2, scale=0.3), TwoAFC(slope=2.5)))
    >>> cfg["task"]
    {'class': 'TwoAFC', 'slope': 2.5, 'lapse': None}
    >>> model_from_config(cfg).task
    TwoAFC(slope=2.5, lapse=None)
    """
    if not isinstance(model, WPPM):
        raise TypeError(f"model must be a psyphy_numpyro.WPPM, got {type(model).__name__}.")
    return {
        "format_version": FORMAT_VERSION,
        "input_dim": int(model.input_dim),
        "diag_term": _encode("diag_term", model.diag_term),
        "prior": _encode("prior", model.prior),
        "task": _encode("task", model.task),
        "noise": _encode("noise", model.noise),
    }


def model_from_config(config: Mapping[str, Any]) -> WPPM:
    """Rebuild the WPPM that :func:`model_config` describes.

    Parameters
    ----------
    config
        A dict from :func:`model_config` (or its JSON, parsed).

    Returns
    -------
    WPPM
        A model with the same settings, hence the same log-likelihood.
    """
    if not isinstance(config, Mapping):
        raise TypeError(f"config must be a dict, got {type(config).__name__}.")
    _check_version("the model configuration", config.get("format_version"))
    missing = [k for k in ("input_dim", "diag_term", "prior", "task", "noise")
               if k not in config]
    if missing:
        raise ValueError(f"the model configuration lacks {missing}.")
    parts = {name: _decode(name, config[name]) for name in ("prior", "task", "noise")}
    return WPPM(parts["prior"], parts["task"], parts["noise"],
                input_dim=config["input_dim"], diag_term=config["diag_term"])


def _encode(name: str, value: Any) -> Any:
    """A configuration value as JSON-safe data (dataclasses field by field)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {_CLASS_KEY: type(value).__name__}
        for f in dataclasses.fields(value):
            if f.init:
                out[f.name] = _encode(f"{name}.{f.name}", getattr(value, f.name))
        return out
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (np.generic, np.ndarray, jax.Array)) and np.ndim(value) == 0:
        return np.asarray(value).item()
    if isinstance(value, (tuple, list)):
        return [_encode(f"{name}[{i}]", v) for i, v in enumerate(value)]
    raise TypeError(
        f"{name}: cannot store a {type(value).__name__} in a model configuration "
        "(expected numbers, strings, None, lists or dataclasses)."
    )


def _decode(name: str, value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_decode(f"{name}[{i}]", v) for i, v in enumerate(value))
    if not isinstance(value, Mapping):
        return value
    kind = value.get(_CLASS_KEY)
    if kind not in _CONFIG_CLASSES:
        raise ValueError(
            f"{name}: unknown configuration class {kind!r}; expected one of "
            f"{sorted(_CONFIG_CLASSES)}."
        )
    cls = _CONFIG_CLASSES[kind]
    known = {f.name for f in dataclasses.fields(cls) if f.init}
    kwargs = {k: v for k, v in value.items() if k != _CLASS_KEY}
    unknown = sorted(set(kwargs) - known)
    if unknown:
        raise ValueError(
            f"{name}: {kind} has no field(s) {unknown}; the file was probably "
            "written by a newer psyphy_numpyro."
        )
    return cls(**{k: _decode(f"{name}.{k}", v) for k, v in kwargs.items()})


def _check_version(what: str, version: Any) -> None:
    if version is None:
        raise ValueError(f"{what} has no format version; it was not written by psyphy_numpyro.")
    if isinstance(version, (np.integer, np.ndarray)):
        version = np.asarray(version).item()
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{what} has format version {version!r}; this psyphy_numpyro reads version "
            f"{FORMAT_VERSION}. Use the psyphy_numpyro release that wrote it."
        )


# -- fit kinds -------------------------------------------------------------------
@dataclass(frozen=True)
class FitRecord:
    """The arrays and settings that describe one fit in a file.

    Attributes
    ----------
    draws
        Parameter draws per site, shape ``(chain, draw, *site shape)``.
    sample_stats
        Per-draw statistics under ArviZ's names, shape ``(chain, draw)``.
    trials
        The data the fit was conditioned on, or None.
    arrays
        Other arrays of the fit (group ``fit``): an array or ``(dims,
        array)``. On loading every value is a plain array.
    info
        JSON-safe settings of the fit.
    history
        Per-step arrays of an optimiser (group ``optimization``, dim ``step``).
    """

    draws: dict
    sample_stats: dict = field(default_factory=dict)
    trials: Trials | None = None
    arrays: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)
    history: dict = field(default_factory=dict)


@dataclass(frozen=True)
class _FitFormat:
    kind: str
    cls: type | None
    write: Callable[[Any], FitRecord]
    read: Callable[[WPPM, FitRecord], Any]


_FORMATS: dict[str, _FitFormat] = {}


def register_fit_format(
    kind: str,
    cls: type,
    write: Callable[[Any], FitRecord],
    read: Callable[[WPPM, FitRecord], Any],
) -> None:
    """Teach :func:`save_fit`/:func:`load_fit` a new kind of fit.

    Parameters
    ----------
    kind
        Name stored in the file (``fit_kind``).
    cls
        The fit's class; subclasses use the same format unless registered too.
    write
        ``write(fit) -> FitRecord``.
    read
        ``read(model, record) -> fit``, with the rebuilt model.
    """
    if not isinstance(kind, str) or not kind:
        raise TypeError(f"kind must be a non-empty string, got {kind!r}.")
    if not isinstance(cls, type):
        raise TypeError(f"cls must be a class, got {type(cls).__name__}.")
    if not (callable(write) and callable(read)):
        raise TypeError("write and read must be callables.")
    old = _FORMATS.get(kind)
    same = old is not None and old.cls is not None and (
        (old.cls.__module__, old.cls.__qualname__) == (cls.__module__, cls.__qualname__))
    if old is not None and not same:  # re-registering after a module reload is fine
        owner = "stored draws" if old.cls is None else old.cls.__name__
        raise ValueError(f"fit kind {kind!r} is already registered for {owner}.")
    _FORMATS[kind] = _FitFormat(kind, cls, write, read)


def _format_for(fit: Any) -> _FitFormat:
    by_class = {f.cls: f for f in _FORMATS.values() if f.cls is not None}
    for klass in type(fit).__mro__:
        if klass in by_class:
            return by_class[klass]
    if (hasattr(fit, "model") and hasattr(fit, "params")
            and (hasattr(fit, "samples") or callable(getattr(fit, "sample", None)))):
        return _DRAWS
    raise TypeError(
        "fit must be a MAPPosterior, a NUTSPosterior or a posterior with .model, "
        f".params and either .samples or .sample(n, key=...); got {type(fit).__name__}."
    )


def _np_tree(tree: Mapping) -> dict:
    return {k: np.asarray(v) for k, v in tree.items()}


def _kwargs_arrays(kwargs: Mapping) -> dict:
    """Model arguments as named arrays (``GaussianDraws`` split into its fields)."""
    out = {}
    for name, value in kwargs.items():
        if isinstance(value, GaussianDraws):
            out[f"{name}__points"] = np.asarray(value.points)
            if value.rotations is not None:
                out[f"{name}__rotations"] = np.asarray(value.rotations)
        else:
            out[name] = np.asarray(value)
    return out


def _kwargs_from(arrays: Mapping, names: list) -> dict:
    """Inverse of :func:`_kwargs_arrays`."""
    out = {}
    for name in names:
        if name in arrays:
            out[name] = jnp.asarray(arrays[name])
        else:
            rotations = arrays.get(f"{name}__rotations")
            out[name] = GaussianDraws(
                jnp.asarray(arrays[f"{name}__points"]),
                None if rotations is None else jnp.asarray(rotations),
            )
    return out


# MAP: the point as one chain of one draw, the losses per step.
def _write_map(fit: MAPPosterior) -> FitRecord:
    params = _np_tree(fit.params)
    history = {} if fit.losses is None else {"loss": np.asarray(fit.losses)}
    return FitRecord({k: v[None, None] for k, v in params.items()},
                     trials=getattr(fit, "trials", None), history=history)


def _read_map(model: WPPM, record: FitRecord) -> MAPPosterior:
    if record.sample_stats or any(v.shape[:2] != (1, 1) for v in record.draws.values()):
        raise KeyError("a single point (one chain of one draw) and no sample_stats")
    params = {k: jnp.asarray(v[0, 0]) for k, v in record.draws.items()}
    return MAPPosterior(params, model, record.history.get("loss"), record.trials)


# NUTS and MALA: every site and the run's statistics, by chain.
_NUMPYRO_STAT_NAMES = {v: k for k, v in ARVIZ_STAT_NAMES.items()}


def _write_nuts(fit: NUTSPosterior) -> FitRecord:
    info = {"model_kwargs": sorted(fit.model_kwargs)}
    if isinstance(fit, LangevinPosterior):
        info["temperature"] = float(fit.temperature)
    return FitRecord(
        _np_tree(fit.draws), arviz_sample_stats(fit.extra_fields), fit.trials,
        _kwargs_arrays(fit.model_kwargs), info,
    )


def _read_nuts(model: WPPM, record: FitRecord) -> NUTSPosterior:
    if record.trials is None:
        raise KeyError("trials (observed_data)")
    kwargs = _kwargs_from(record.arrays, record.info.get("model_kwargs", []))
    fields = {_NUMPYRO_STAT_NAMES[name]: -value if name == "lp" else value
              for name, value in record.sample_stats.items()
              if name in _NUMPYRO_STAT_NAMES}
    if "temperature" in record.info:
        return LangevinPosterior(record.draws, fields, model, record.trials, kwargs,
                                 temperature=record.info["temperature"])
    return NUTSPosterior(record.draws, fields, model, record.trials, kwargs)


# Any other posterior: its point estimate, its draws, its data and model arguments.
def _write_draws(fit: Any, *, num_draws: int, seed: int) -> FitRecord:
    samples = getattr(fit, "samples", None)
    if samples is None:
        samples = fit.sample(num_draws, key=jax.random.PRNGKey(seed))
    if not isinstance(samples, Mapping):
        raise TypeError(f"the fit's draws must be a dict of arrays, got "
                        f"{type(samples).__name__}.")
    trials = getattr(fit, "trials", None)
    kwargs = getattr(fit, "model_kwargs", None) or {}
    arrays = {f"params_{k}": np.asarray(v) for k, v in fit.params.items()}
    return FitRecord(
        {k: np.asarray(v)[None] for k, v in samples.items()},
        trials=trials if isinstance(trials, Trials) else None,
        arrays=arrays | _kwargs_arrays(kwargs),
        info={"source_class": type(fit).__qualname__, "model_kwargs": sorted(kwargs)},
    )


def _read_draws(model: WPPM, record: FitRecord) -> StoredPosterior:
    prefix = "params_"
    params = {k[len(prefix):]: jnp.asarray(v) for k, v in record.arrays.items()
              if k.startswith(prefix)}
    samples = {k: jnp.asarray(v.reshape((-1,) + v.shape[2:])) for k, v in record.draws.items()}
    kwargs = _kwargs_from(record.arrays, record.info.get("model_kwargs", []))
    return StoredPosterior(model, params, samples, record.trials, kwargs)


register_fit_format("map", MAPPosterior, _write_map, _read_map)
register_fit_format("nuts", NUTSPosterior, _write_nuts, _read_nuts)
_DRAWS = _FitFormat("draws", None, _write_draws, _read_draws)
_FORMATS["draws"] = _DRAWS


# -- files -----------------------------------------------------------------------
def save_fit(path: str | os.PathLike, fit: Any, *, num_draws: int = 1000,
             seed: int = 0, overwrite: bool = False) -> str:
    """Write a fit and its model's configuration to a netCDF file.

    Parameters
    ----------
    path
        File to write (replaced if it exists).
    fit
        A ``MAPPosterior``, a ``NUTSPosterior``, a fit of a kind added with
        :func:`register_fit_format`, or any posterior with ``.model``,
        ``.params`` and ``.samples`` (stored as is) or ``.sample(n, key=...)``.
    num_draws, seed
        For a posterior with ``.sample()`` but no ``.samples``: how many draws
        to store, and the seed of their key.
    overwrite
        Replace an existing file at ``path``; by default that is refused.

    Returns
    -------
    str
        The path written.

    Notes
    -----
    The file is written atomically (a temporary ``.<name>.<pid>.partial`` in
    the same folder, flushed, then renamed) and carries a SHA-256 checksum of
    its configuration and arrays, which :func:`load_fit` verifies.

    Examples
    --------
    >>> import os, tempfile, jax
    >>> from psyphy_numpyro import WPPM, Prior, MAPPosterior
    >>> model = WPPM(Prior.default(2))
    >>> fit = MAPPosterior(model.init_params(jax.random.PRNGKey(0)), model)
    >>> path = save_fit(os.path.join(tempfile.mkdtemp(), "fit.nc"), fit)
    >>> type(load_fit(path)).__name__
    'MAPPosterior'
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = os.fspath(path)
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(
            f"save_fit: {path!r} exists; pass overwrite=True to replace it, or choose "
            "another name."
        )
    fmt = _format_for(fit)
    model = fit.model
    config = model_config(model)  # raises a TypeError for a non-WPPM model
    model.check_params(dict(fit.params), "fit.params")
    if fmt is _DRAWS:
        record = _write_draws(fit, num_draws=check.positive_int("num_draws", num_draws),
                              seed=check.seed("seed", seed))
    else:
        record = fmt.write(fit)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save_fit: the folder {directory!r} does not exist.")
    idata = _to_idata(model, record, fmt.kind, config)
    return atomic_path(path, lambda tmp: write_netcdf(idata, tmp))


def load_fit(path: str | os.PathLike) -> Any:
    """Read a file written by :func:`save_fit`: the model is rebuilt, then the fit.

    Parameters
    ----------
    path
        The netCDF file.

    Returns
    -------
    MAPPosterior, NUTSPosterior, StoredPosterior or a registered kind
        The fit, on the rebuilt model (``fit.model``), with the stored arrays
        (dtypes and values unchanged). A reloaded ``NUTSPosterior`` has its
        draws and statistics but no ``mcmc`` (None): it cannot resume sampling.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_fit: no file at {path!r}.")
    check_not_partial(path, "save_fit")
    try:
        idata = read_netcdf(path)
    except (OSError, ValueError) as err:
        raise ValueError(f"{path!r} is not a netCDF file written by save_fit ({err}).") \
            from None
    attrs = dict(idata.attrs)
    _check_version(f"{path!r}", attrs.get(_VERSION_KEY))
    kind = attrs.get("fit_kind")
    if kind not in _FORMATS:
        raise ValueError(
            f"{path!r} holds a fit of kind {kind!r}, which is not registered here "
            f"(known: {sorted(_FORMATS)}); import the module that registers it."
        )
    if "model_config" not in attrs:
        raise ValueError(f"{path!r} has no model_config attribute; it is damaged.")
    model = model_from_config(json.loads(attrs["model_config"]))
    record = _from_idata(idata, json.loads(attrs.get("fit_info", "{}")))
    want = attrs.get("checksum")
    got = _checksum(record, kind, attrs["model_config"], attrs.get("fit_info", "{}"),
                    _group_arrays(idata, "log_likelihood"))
    if want != got:
        raise ValueError(
            f"{path!r}: its contents do not match the checksum written with them "
            f"({'none stored' if want is None else 'it differs'}); the file was edited, "
            "damaged or not finished. Refit, or restore the file from a copy."
        )
    site, shape = model.prior.site, model.prior.shape
    stored = record.draws.get(site)
    if stored is None or stored.ndim != 2 + len(shape) or stored.shape[2:] != shape:
        got = "none" if stored is None else f"shape {stored.shape}"
        raise ValueError(
            f"{path!r}: the stored model configuration expects draws of {site!r} of "
            f"shape (chain, draw, *{shape}), but the file holds {got}; the file was "
            "edited or damaged."
        )
    try:
        return _FORMATS[kind].read(model, record)
    except (KeyError, IndexError) as err:
        raise ValueError(
            f"{path!r} is marked as a {kind!r} fit but does not hold one (missing "
            f"{err}); the file was edited or damaged."
        ) from None


def _dims(name: str, value: Any) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(value, tuple):
        dims, array = value
        return tuple(dims), np.asarray(array)
    array = np.asarray(value)
    return tuple(f"{name}_dim_{i}" for i in range(array.ndim)), array


def _to_idata(model: WPPM, record: FitRecord, kind: str, config: dict):
    try:
        info_json = json.dumps(record.info, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"the fit's info must be JSON-safe: {err}.") from None
    config_json = json.dumps(config)
    stats = {name: (("chain", "draw"), np.asarray(value))
             for name, value in record.sample_stats.items()}
    loglik = _log_likelihood(model, record)
    groups = {
        **posterior_groups(model, record.draws),
        "log_likelihood": loglik,
        "sample_stats": stats,
        "optimization": {name: (("step",), np.asarray(value))
                         for name, value in record.history.items()},
        **trial_groups(record.trials),
        "fit": {name: _dims(name, value) for name, value in record.arrays.items()},
    }
    return build_inference_data(groups, attrs={
        _VERSION_KEY: FORMAT_VERSION, "fit_kind": kind, "model_config": config_json,
        "fit_info": info_json,
        "checksum": _checksum(record, kind, config_json, info_json,
                              {name: value for name, (_, value) in loglik.items()})})


def _log_likelihood(model: WPPM, record: FitRecord) -> dict:
    """The ``log_likelihood`` group of a fit's draws, or {} when it cannot be had.

    Needs the fit's trials, and for a density on Monte Carlo draws (the full
    WPPM's ``"mc"``) the ``mc_samples`` the fit stored.
    """
    if record.trials is None or not set(model.param_sites) <= set(record.draws):
        return {}
    arrays = {name: _dims(name, value)[1] for name, value in record.arrays.items()}
    kwargs = _kwargs_from(arrays, record.info.get("model_kwargs", []))
    if model.needs_draws and "mc_samples" not in kwargs:
        return {}
    return log_likelihood_group(model, record.draws, record.trials, kwargs)


def _checksum(record: FitRecord, kind: str, config_json: str, info_json: str,
              log_likelihood: Mapping | None = None) -> str:
    """SHA-256 of a fit's kind, configuration, settings and every array (bytes,
    dtype, shape), as written and as read back (the derived log-likelihood
    too, when the file has it)."""
    digest = hashlib.sha256("\n".join((kind, config_json, info_json)).encode())
    trials = {} if record.trials is None else record.trials._asdict()
    parts = {"draws": record.draws, "sample_stats": record.sample_stats, "trials": trials,
             "arrays": record.arrays, "history": record.history,
             "log_likelihood": log_likelihood or {}}
    for group, variables in parts.items():
        for name in sorted(variables):
            array = np.ascontiguousarray(_dims(name, variables[name])[1])
            digest.update(f"{group}/{name}/{array.dtype.str}/{array.shape}".encode())
            digest.update(array.tobytes())
    return "sha256:" + digest.hexdigest()


def _group_arrays(idata: Any, group: str) -> dict:
    """The variables of one group as plain arrays ({} when the file lacks it)."""
    if group not in group_names(idata):
        return {}
    ds = idata[group]
    return {name: ds[name].values for name in ds.data_vars}


def _from_idata(idata: Any, info: dict) -> FitRecord:
    def arrays(group: str) -> dict:
        return _group_arrays(idata, group)

    trials = None
    if {"constant_data", "observed_data"} <= set(group_names(idata)):
        constant = arrays("constant_data")
        trials = Trials(constant["ref"], constant["probe"], arrays("observed_data")["y"])
    draws = arrays("posterior") | arrays("unconstrained_posterior")
    return FitRecord(draws, arrays("sample_stats"), trials, arrays("fit"),
                     info, arrays("optimization"))
