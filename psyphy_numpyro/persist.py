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
- ``posterior``: parameter draws, dims ``(chain, draw, *event dims)``; a MAP
  fit is one chain of one draw;
- ``sample_stats``: per-draw statistics under NumPyro's names (NUTS:
  ``diverging``, ``accept_prob``, ``num_steps``, ``potential_energy``,
  ``energy``) or, for a MAP fit, ``loss`` per optimiser step (dim ``step``);
- ``observed_data``: the responses ``y`` (dim ``trial``), when the fit holds
  its trials;
- ``constant_data``: the stimuli ``ref`` and ``probe`` (dims ``trial, dim``),
  and arrays of the fit itself, e.g. the fixed Monte Carlo draws ``noise``
  that NUTS conditioned the full WPPM on.

A new kind of fit (e.g. an SVI or Laplace posterior) is added with
:func:`register_fit_format`: a function that describes the fit as a
:class:`FitRecord` and one that rebuilds it; the file layout stays the same.
"""

from __future__ import annotations

import dataclasses
import json
import os
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import xarray as xr
from numpyro.infer import MCMC, NUTS

from . import _validation as check
from .convert import import_arviz, to_inference_data
from .data import Trials
from .map import MAPPosterior
from .mcmc import NUTSPosterior
from .model import WPPM
from .noise import GaussianNoise, StudentTNoise
from .oddity_gaussian import GaussianDraws
from .priors import Prior
from .tasks import OddityTask, OddityTaskConfig, TwoAFC

__all__ = [
    "FORMAT_VERSION",
    "FitRecord",
    "StoredPosterior",
    "load_fit",
    "model_config",
    "model_from_config",
    "register_fit_format",
    "save_fit",
]

#: Version of :func:`model_config`'s dict and of the file layout.
FORMAT_VERSION = 1

_VERSION_KEY = "psyphy_numpyro_format"
_CLASS_KEY = "class"
#: The configuration classes a model is built from, by the name stored in the file.
_CONFIG_CLASSES = {
    cls.__name__: cls
    for cls in (Prior, OddityTask, OddityTaskConfig, TwoAFC, GaussianNoise, StudentTNoise)
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
    {'class': 'TwoAFC', 'slope': 2.5}
    >>> model_from_config(cfg).task
    TwoAFC(slope=2.5)
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
        Statistics: an array, or ``(dims, array)`` to name its dims.
    trials
        The data the fit was conditioned on, or None.
    arrays
        Other arrays of the fit (stored in ``constant_data``): an array or
        ``(dims, array)``. On loading every value is a plain array.
    info
        JSON-safe settings of the fit.
    """

    draws: dict
    sample_stats: dict = field(default_factory=dict)
    trials: Trials | None = None
    arrays: dict = field(default_factory=dict)
    info: dict = field(default_factory=dict)


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
    stats = {} if fit.losses is None else {"loss": (("step",), np.asarray(fit.losses))}
    return FitRecord({k: v[None, None] for k, v in params.items()}, stats,
                     getattr(fit, "trials", None))


def _read_map(model: WPPM, record: FitRecord) -> MAPPosterior:
    params = {k: jnp.asarray(v[0, 0]) for k, v in record.draws.items()}
    return MAPPosterior(params, model, record.sample_stats.get("loss"), record.trials)


# NUTS: draws and extra fields by chain; the run is rebuilt as an MCMC object.
def _write_nuts(fit: NUTSPosterior) -> FitRecord:
    mcmc = fit.mcmc
    stats = {}
    for name, value in mcmc.get_extra_fields(group_by_chain=True).items():
        if isinstance(value, (dict, tuple)):
            continue
        value = np.asarray(value)
        dims = ("chain", "draw") + tuple(f"{name}_dim_{i}" for i in range(2, value.ndim))
        stats[name] = (dims, value)
    info = {
        "num_warmup": int(mcmc.num_warmup),
        "num_samples": int(mcmc.num_samples),
        "num_chains": int(mcmc.num_chains),
        "thinning": int(mcmc.thinning),
        "chain_method": mcmc.chain_method if isinstance(mcmc.chain_method, str) else None,
        "model_kwargs": sorted(fit.model_kwargs),
    }
    return FitRecord(
        _np_tree(mcmc.get_samples(group_by_chain=True)), stats, fit.trials,
        _kwargs_arrays(fit.model_kwargs), info,
    )


def _read_nuts(model: WPPM, record: FitRecord) -> NUTSPosterior:
    if record.trials is None:
        raise ValueError("the NUTS fit in the file has no trials (observed_data).")
    kwargs = _kwargs_from(record.arrays, record.info.get("model_kwargs", []))
    mcmc = _restored_mcmc(model, record.draws, record.sample_stats, record.trials, kwargs,
                          record.info)
    return NUTSPosterior(mcmc, model, record.trials, kwargs)


def _restored_mcmc(model, draws, stats, trials, model_kwargs, info) -> MCMC:
    """A NumPyro ``MCMC`` holding stored draws, as if it had just run.

    It serves ``get_samples``/``get_extra_fields`` and ArviZ's ``from_numpyro``
    (which reads the run's model arguments); it cannot resume sampling.
    """
    num_chains, num_draws = next(iter(draws.values())).shape[:2]
    thinning = int(info.get("thinning", 1))
    method = info.get("chain_method") or "vectorized"
    if method == "parallel" and jax.local_device_count() < num_chains:
        method = "vectorized"
    mcmc = MCMC(
        NUTS(model.numpyro_model),
        num_warmup=int(info.get("num_warmup", 0)),
        num_samples=int(info.get("num_samples", num_draws * thinning)),
        num_chains=int(num_chains),
        thinning=thinning,
        chain_method=method,
        progress_bar=False,
    )
    # NumPyro keeps a finished run's states here (chain-grouped; flattened lazily)
    states = {name: jnp.asarray(value) for name, value in stats.items()}
    states[mcmc._sample_field] = {k: jnp.asarray(v) for k, v in draws.items()}
    mcmc._states, mcmc._states_flat = states, None
    mcmc._args, mcmc._kwargs = tuple(trials), dict(model_kwargs)
    return mcmc


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


class StoredPosterior:
    """Posterior draws reloaded from a file (a fit of a kind without its own format).

    Attributes
    ----------
    model
        The rebuilt model.
    params
        The fit's point estimate.
    samples
        Draws per site, shape ``(num_draws, *site shape)``.
    trials
        The data, when the fit held it (else None).
    model_kwargs
        Extra model arguments of the fit's density (the full WPPM's fixed
        ``noise``), when it held them.
    """

    def __init__(self, model: WPPM, params: dict, samples: dict,
                 trials: Trials | None = None, model_kwargs: dict | None = None) -> None:
        self.model, self.params, self.samples, self.trials = model, params, samples, trials
        self.model_kwargs = dict(model_kwargs or {})

    def sample(self, n: int = 1, *, key: jax.Array) -> dict:
        """Draw ``n`` parameter sets from the stored draws (with replacement)."""
        n = check.positive_int("n", n)
        total = next(iter(self.samples.values())).shape[0]
        idx = jax.random.randint(key, (n,), 0, total)
        return jax.tree.map(lambda x: x[idx], self.samples)

    def to_inference_data(self, *, posterior_predictive: bool = True, seed: int = 0):
        """Convert the stored draws to ArviZ as one chain.

        See :func:`psyphy_numpyro.to_inference_data`. For the full WPPM the
        log-likelihood uses the fit's fixed Monte Carlo draws, or fresh ones
        from ``seed`` when the fit had none.
        """
        if self.trials is None:
            raise ValueError("this posterior holds no trials; ArviZ needs the data.")
        kwargs = dict(self.model_kwargs)
        if not self.model.is_mvp and "noise" not in kwargs:
            kwargs["noise"] = self.model.draw_noise(jax.random.PRNGKey(seed),
                                                    self.trials.ref.shape[0])
        draws = {k: np.asarray(v)[None] for k, v in self.samples.items()}
        mcmc = _restored_mcmc(self.model, draws, {}, self.trials, kwargs, {})
        return to_inference_data(mcmc, self.model, self.trials,
                                 posterior_predictive=posterior_predictive,
                                 rng_key=jax.random.PRNGKey(seed), model_kwargs=kwargs)

    def __repr__(self) -> str:
        total = next(iter(self.samples.values())).shape[0]
        return f"StoredPosterior(draws={total})"


register_fit_format("map", MAPPosterior, _write_map, _read_map)
register_fit_format("nuts", NUTSPosterior, _write_nuts, _read_nuts)
_DRAWS = _FitFormat("draws", None, _write_draws, _read_draws)
_FORMATS["draws"] = _DRAWS


# -- files -----------------------------------------------------------------------
def save_fit(path: str | os.PathLike, fit: Any, *, num_draws: int = 1000,
             seed: int = 0) -> str:
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

    Returns
    -------
    str
        The path written.

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
    fmt = _format_for(fit)
    model = fit.model
    config = model_config(model)  # raises a TypeError for a non-WPPM model
    model.prior.check_params(dict(fit.params), "fit.params")
    if fmt is _DRAWS:
        record = _write_draws(fit, num_draws=check.positive_int("num_draws", num_draws),
                              seed=int(seed))
    else:
        record = fmt.write(fit)
    idata = _to_idata(model, record, fmt.kind, config)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"save_fit: the folder {directory!r} does not exist.")
    tmp = f"{path}.tmp{os.getpid()}"
    try:
        idata.to_netcdf(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


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
        (dtypes and values unchanged). A reloaded ``NUTSPosterior``'s
        ``mcmc`` holds the draws but not the sampler's last state: it cannot
        resume sampling, and ``print_summary`` needs
        ``exclude_deterministic=False``.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}.")
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"load_fit: no file at {path!r}.")
    az = import_arviz()
    try:
        with az.rc_context({"data.load": "eager"}), warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*not defined in the InferenceData")
            idata = az.from_netcdf(path)
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
    return _FORMATS[kind].read(model, record)


def _dims(name: str, value: Any) -> tuple[tuple[str, ...], np.ndarray]:
    if isinstance(value, tuple):
        dims, array = value
        return tuple(dims), np.asarray(array)
    array = np.asarray(value)
    return tuple(f"{name}_dim_{i}" for i in range(array.ndim)), array


def _to_idata(model: WPPM, record: FitRecord, kind: str, config: dict):
    az = import_arviz()
    config_json = json.dumps(config)
    site, event_dims = model.prior.site, model.prior.event_dims
    posterior = {}
    for name, value in record.draws.items():
        value = np.asarray(value)
        extra = (event_dims if name == site
                 else [f"{name}_dim_{i}" for i in range(value.ndim - 2)])
        posterior[name] = (("chain", "draw", *extra), value)
    constant, observed = {}, {}
    if record.trials is not None:
        ref, probe, responses = record.trials
        constant = {"ref": (("trial", "dim"), np.asarray(ref)),
                    "probe": (("trial", "dim"), np.asarray(probe))}
        observed = {"y": (("trial",), np.asarray(responses))}
    for name, value in record.arrays.items():
        if name in constant:
            raise ValueError(f"the fit's array name {name!r} is reserved for the stimuli.")
        constant[name] = _dims(name, value)
    stats = {name: _dims(name, value) for name, value in record.sample_stats.items()}
    version = {_VERSION_KEY: FORMAT_VERSION}
    groups = {
        "posterior": xr.Dataset(posterior, attrs={**version, "model_config": config_json}),
        "sample_stats": xr.Dataset(stats),
        "observed_data": xr.Dataset(observed),
        "constant_data": xr.Dataset(constant),
    }
    try:
        info_json = json.dumps(record.info, allow_nan=False)
    except (TypeError, ValueError) as err:
        raise TypeError(f"the fit's info must be JSON-safe: {err}.") from None
    attrs = {**version, "fit_kind": kind, "model_config": config_json,
             "fit_info": info_json}
    return az.InferenceData(
        attrs=attrs, **{k: _with_coords(v) for k, v in groups.items() if v.data_vars}
    )


def _with_coords(ds: xr.Dataset) -> xr.Dataset:
    """Integer coordinates on every dim, as ArviZ's converters give."""
    return ds.assign_coords({d: np.arange(n) for d, n in ds.sizes.items()})


def _from_idata(idata: Any, info: dict) -> FitRecord:
    def arrays(group: str) -> dict:
        if group not in idata.groups():
            return {}
        ds = idata[group]
        return {name: ds[name].values for name in ds.data_vars}

    constant = arrays("constant_data")
    trials = None
    if "ref" in constant and "observed_data" in idata.groups():
        trials = Trials(constant.pop("ref"), constant.pop("probe"),
                        arrays("observed_data")["y"])
    return FitRecord(arrays("posterior"), arrays("sample_stats"), trials, constant, info)
