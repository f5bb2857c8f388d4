"""psyphy 0.0.5's module paths and public names, ported word for word (issue 13).

A psyphy script ports by replacing the word ``psyphy`` with ``psyphy_numpyro`` in
its import lines. These tests hold psyphy_numpyro to that: every psyphy module
(found with ``pkgutil.walk_packages``) has a ``psyphy_numpyro`` module at the same
path, with the same public names, of the same kind, and a small psyphy-style
script gives the same numbers through the module paths as through the top level.

psyphy's ``data.published`` (the hong2025 data) is left out until its own issue.

A module's public names are its ``__all__`` when it defines one. Otherwise they
are the classes and functions it defines (``obj.__module__`` is the module) and
the type aliases it binds (``Params = dict[str, jnp.ndarray]``); what it merely
imports (``jnp``, ``Any``, ``annotations``, ``dataclass``) is not public. The
classes and functions a module imports from elsewhere in psyphy
(``psyphy.inference.laplace.MAPPosterior``) are checked apart, by
:func:`test_module_keeps_psyphys_reexports`.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import pkgutil
import re
import types
import typing

import jax
import numpy as np
import pytest

psyphy = pytest.importorskip("psyphy")

# Where psyphy_numpyro's positional order differs from psyphy's on purpose, and
# psyphy's positional call still works (checked by a test of its own).
POSITIONAL_SHIMS = {
    "psyphy.model.likelihood.OddityTask": "OddityTask(config) is read as config",
}


def _ours(path: str) -> str:
    """``psyphy.model.wppm`` -> ``psyphy_numpyro.model.wppm``."""
    return re.sub(r"^psyphy\b", "psyphy_numpyro", path)


def _psyphy_modules() -> list[str]:
    found = pkgutil.walk_packages(psyphy.__path__, "psyphy.")
    return ["psyphy"] + sorted(m.name for m in found)


def _is_alias(obj: object) -> bool:
    """A parametrised type alias (``dict[str, Array]``, ``Union[str, Path]``)."""
    return typing.get_origin(obj) is not None and bool(typing.get_args(obj))


def _is_psyphy_object(obj: object) -> bool:
    module = getattr(obj, "__module__", None)
    return isinstance(module, str) and re.match(r"psyphy(\.|$)", module) is not None


def public_names(module: types.ModuleType) -> list[str]:
    """The names a psyphy module offers (see the module docstring)."""
    if hasattr(module, "__all__"):
        return list(module.__all__)
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (_is_alias(obj) or getattr(obj, "__module__", None) == module.__name__)
    ]


def reexported_names(module: types.ModuleType) -> list[str]:
    """Classes and functions a module without ``__all__`` imports from psyphy."""
    if hasattr(module, "__all__"):
        return []
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and not _is_alias(obj)
        and _is_psyphy_object(obj)
        and obj.__module__ != module.__name__
    ]


MODULES = _psyphy_modules()
PSYPHY = {name: importlib.import_module(name) for name in MODULES}


def _try_ours(path: str) -> types.ModuleType | None:
    """psyphy_numpyro's module at psyphy's path; None when it does not import.

    Used while collecting, so that a missing module fails its own tests rather
    than the whole file.
    """
    try:
        return importlib.import_module(_ours(path))
    except ImportError:
        return None


def _import_ours(path: str) -> types.ModuleType:
    try:
        return importlib.import_module(_ours(path))
    except ImportError as err:
        pytest.fail(f"{path} ports to {_ours(path)}, which does not import: {err}")


# -- modules and names ----------------------------------------------------------
def test_psyphy_modules_are_found():
    """Guards the vacuous pass where the walk finds nothing."""
    for path in ("psyphy.model.wppm", "psyphy.inference.map_optimizer",
                 "psyphy.posterior.predictive_posterior", "psyphy.data.dataset",
                 "psyphy.trial_placement.sobol", "psyphy.viz.ellipses",
                 "psyphy.utils.math"):
        assert path in MODULES
    assert "psyphy.data.published.hong2025" in MODULES
    assert "WPPM" in public_names(PSYPHY["psyphy.model.wppm"])
    assert "jnp" not in public_names(PSYPHY["psyphy.model.wppm"])
    assert "Params" in public_names(PSYPHY["psyphy.model.prior"])


@pytest.mark.parametrize("path", MODULES)
def test_module_imports_at_the_same_path(path):
    _import_ours(path)


@pytest.mark.parametrize("path", MODULES)
def test_module_has_psyphys_public_names(path):
    ours = _import_ours(path)
    missing = [n for n in public_names(PSYPHY[path]) if not hasattr(ours, n)]
    assert not missing, f"{_ours(path)} lacks psyphy's {missing}"


@pytest.mark.parametrize("path", MODULES)
def test_star_import_binds_psyphys_public_names(path):
    """``from psyphy_numpyro.x import *`` binds what ``from psyphy.x import *`` does."""
    ours = _import_ours(path)
    starred = getattr(ours, "__all__", None)
    if starred is None:
        starred = [n for n in vars(ours) if not n.startswith("_")]
    missing = [n for n in public_names(PSYPHY[path]) if n not in starred]
    assert not missing, f"{_ours(path)}.__all__ lacks psyphy's {missing}"


@pytest.mark.parametrize("path", [m for m in MODULES if reexported_names(PSYPHY[m])])
def test_module_keeps_psyphys_reexports(path):
    """``from psyphy.inference.laplace import MAPPosterior`` still ports."""
    ours = _import_ours(path)
    missing = [n for n in reexported_names(PSYPHY[path]) if not hasattr(ours, n)]
    assert not missing, f"{_ours(path)} lacks {missing}, which psyphy's imports"


def _bound_by_source(module: types.ModuleType) -> set[str]:
    """Names a package's own code binds: its imports, and the subpackages they load."""
    tree = ast.parse(inspect.getsource(module))
    bound: set[str] = set()
    package = module.__name__
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            bound.update(a.asname or a.name for a in node.names)
            source = ("." * node.level) + (node.module or "")
            if node.level == 1 and node.module:
                bound.add(node.module.split(".")[0])
            elif node.level == 0 and source.startswith(package + "."):
                bound.add(source[len(package) + 1:].split(".")[0])
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.asname:
                    bound.add(a.asname)
                elif a.name.startswith(package + "."):
                    bound.add(a.name[len(package) + 1:].split(".")[0])
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.Assign):
            bound.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return bound


SUBPACKAGE_NAMES = {
    path: [n for n in public_names(module)
           if isinstance(getattr(module, n), types.ModuleType)]
    for path, module in PSYPHY.items()
}


@pytest.mark.parametrize("path", [p for p, names in SUBPACKAGE_NAMES.items() if names])
def test_subpackages_are_loaded_with_their_package(path):
    """``import psyphy_numpyro; psyphy_numpyro.utils`` works with nothing else imported.

    Other imports in this process may have loaded the subpackage already, so
    the check reads what the package's own code imports.
    """
    ours = _import_ours(path)
    unbound = sorted(set(SUBPACKAGE_NAMES[path]) - _bound_by_source(ours))
    assert not unbound, f"{_ours(path)} does not import its subpackages {unbound}"


def _kind_error(theirs: object, ours: object) -> str | None:
    """Why ``ours`` cannot stand in for psyphy's ``theirs``; None when it can."""
    if isinstance(theirs, types.ModuleType):
        want = _ours(theirs.__name__)
        got = getattr(ours, "__name__", None)
        return None if isinstance(ours, types.ModuleType) and got == want else (
            f"module {want} expected, got {ours!r}")
    if _is_alias(theirs):
        ok = typing.get_origin(ours) is not None or inspect.isclass(ours)
        return None if ok else f"type alias expected, got {type(ours).__name__}"
    if inspect.isclass(theirs):
        if not inspect.isclass(ours):
            return f"class expected, got {type(ours).__name__}"
        if getattr(theirs, "_is_runtime_protocol", False) and not getattr(
                ours, "_is_runtime_protocol", False):
            return "a runtime-checkable Protocol expected (isinstance checks)"
        return None
    if callable(theirs):
        return None if callable(ours) else f"callable expected, got {type(ours)}"
    if type(theirs) is not type(ours):
        return f"{type(theirs).__name__} expected, got {type(ours).__name__}"
    if isinstance(theirs, dict):
        gone = sorted(set(theirs) - set(ours))
        return f"keys {gone} missing" if gone else None
    return None


@pytest.mark.parametrize("path", MODULES)
def test_names_are_of_psyphys_kind(path):
    """A class stays a class, a function callable, a subpackage that subpackage."""
    theirs, ours = PSYPHY[path], _import_ours(path)
    names = public_names(theirs) + reexported_names(theirs)
    wrong = {
        n: why for n in names if hasattr(ours, n)
        and (why := _kind_error(getattr(theirs, n), getattr(ours, n)))
    }
    assert not wrong, f"{_ours(path)}: {wrong}"


def _psyphy_classes() -> dict[str, tuple[type, str]]:
    """psyphy's public classes by where they are defined, with a path to each."""
    found: dict[str, tuple[type, str]] = {}
    for path, module in PSYPHY.items():
        for name in public_names(module) + reexported_names(module):
            obj = getattr(module, name)
            if inspect.isclass(obj) and not _is_alias(obj) and _is_psyphy_object(obj):
                key = f"{obj.__module__}.{obj.__qualname__}"
                if key not in found or path == obj.__module__:  # where it is defined
                    found[key] = (obj, path)
    return dict(sorted(found.items()))


CLASSES = _psyphy_classes()


def _our_class(key: str) -> type | None:
    cls, path = CLASSES[key]
    return getattr(_try_ours(path), cls.__name__, None)


def test_class_hierarchy_is_psyphys():
    """``isinstance(task, TaskLikelihood)``, ``issubclass(WPPM, Model)`` still hold."""
    broken = []
    for key, (cls, _) in CLASSES.items():
        for base_key, (base, _) in CLASSES.items():
            if getattr(base, "_is_protocol", False):
                continue  # structural, checked by the kind test
            if cls is base or not issubclass(cls, base):
                continue
            ours, our_base = _our_class(key), _our_class(base_key)
            if not (inspect.isclass(ours) and inspect.isclass(our_base)
                    and issubclass(ours, our_base)):
                broken.append(f"{key} < {base_key}")
    assert not broken, f"psyphy_numpyro breaks psyphy's subclassing: {broken}"


def _methods(cls: type) -> dict[str, object]:
    """Public methods (plain, class and static) psyphy's classes define."""
    found: dict[str, object] = {}
    for klass in reversed(cls.__mro__):
        if not _is_psyphy_object(klass):
            continue
        for name, attr in vars(klass).items():
            if name.startswith("_"):
                continue
            method = isinstance(attr, (classmethod, staticmethod))
            if inspect.isfunction(attr) or method:
                found[name] = attr
            else:
                found.pop(name, None)
    return found


@pytest.mark.parametrize("key", list(CLASSES))
def test_class_has_psyphys_methods(key):
    cls, _ = CLASSES[key]
    ours = _our_class(key)
    if not inspect.isclass(ours):
        pytest.skip("not a class here; the name and kind tests report it")
    missing = [m for m in _methods(cls) if not callable(getattr(ours, m, None))]
    fields = [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(
        cls) else []
    our_fields = {f.name for f in dataclasses.fields(ours)} if dataclasses.is_dataclass(
        ours) else set()
    missing += [f for f in fields if f not in our_fields and not hasattr(ours, f)]
    assert not missing, f"{ours.__module__}.{ours.__name__} lacks {missing}"


ABSTRACT = [k for k, (c, _) in CLASSES.items() if hasattr(c, "__abstractmethods__")]


@pytest.mark.parametrize("key", ABSTRACT)
def test_subclasses_need_no_more_than_psyphys(key):
    """A psyphy subclass of ``BernoulliTaskLikelihood`` still instantiates."""
    cls, _ = CLASSES[key]
    ours = _our_class(key)
    if not inspect.isclass(ours):
        pytest.skip("not a class here; the name and kind tests report it")
    extra = sorted(set(getattr(ours, "__abstractmethods__", ()))
                   - set(cls.__abstractmethods__))
    assert not extra, f"{key}: abstract here but implemented by psyphy: {extra}"


def _callables() -> dict[str, tuple[object, object]]:
    """psyphy's constructors, functions and methods, each with ours."""
    pairs: dict[str, tuple[object, object]] = {}
    for key, (cls, _) in CLASSES.items():
        ours = _our_class(key)
        if not inspect.isclass(ours) or getattr(cls, "_is_protocol", False):
            continue
        pairs[key] = (cls, ours)
        for name in _methods(cls):
            if callable(getattr(ours, name, None)):
                pairs[f"{key}.{name}"] = (getattr(cls, name), getattr(ours, name))
    for path, module in PSYPHY.items():
        ours = _try_ours(path)
        for name in public_names(module):
            obj = getattr(module, name)
            if inspect.isfunction(obj) and callable(getattr(ours, name, None)):
                pairs.setdefault(f"{obj.__module__}.{name}", (obj, getattr(ours, name)))
    return dict(sorted(pairs.items()))


CALLABLES = _callables()
P = inspect.Parameter


@pytest.mark.parametrize("key", list(CALLABLES))
def test_psyphys_arguments_are_accepted(key):
    """Each keyword psyphy takes is taken here, and positional order is kept."""
    theirs, ours = (inspect.signature(f) for f in CALLABLES[key])
    open_kw = any(p.kind is P.VAR_KEYWORD for p in ours.parameters.values())
    named = [p.name for p in theirs.parameters.values()
             if p.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD, P.POSITIONAL_ONLY)]
    refused = [n for n in named if n not in ours.parameters and not open_kw]
    assert not refused, f"{key}: psyphy's {refused} are not accepted"

    def positional(sig: inspect.Signature) -> list[str]:
        return [p.name for p in sig.parameters.values()
                if p.kind in (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)]

    if key in POSITIONAL_SHIMS or any(p.kind is P.VAR_POSITIONAL
                                      for p in ours.parameters.values()):
        return
    want, got = positional(theirs), positional(ours)
    assert got[: len(want)] == want, f"{key}: positional order {got}, psyphy's {want}"


def test_oddity_task_takes_its_config_positionally():
    from psyphy_numpyro.model.likelihood import OddityTask, OddityTaskConfig

    config = OddityTaskConfig(num_samples=10)
    assert OddityTask(config).config == config


# -- a psyphy-style script ------------------------------------------------------
SCRIPT = """
import jax.numpy as jnp
import jax.random as jr

from psyphy_numpyro.data.dataset import ResponseData
from psyphy_numpyro.inference.map_optimizer import MAPOptimizer
from psyphy_numpyro.model.likelihood import OddityTask
from psyphy_numpyro.model.noise import GaussianNoise
from psyphy_numpyro.model.prior import Prior
from psyphy_numpyro.model.wppm import WPPM
from psyphy_numpyro.posterior.predictive_posterior import WPPMPredictivePosterior

N_TRIALS = 200
model = WPPM(Prior(input_dim=2), OddityTask(), GaussianNoise())
truth = model.init_params(jr.PRNGKey(1))

k_ref, k_dir, k_sim = jr.split(jr.PRNGKey(2), 3)
refs = jr.uniform(k_ref, (N_TRIALS, 2), minval=-0.6, maxval=0.6)
angles = jr.uniform(k_dir, (N_TRIALS,), maxval=2 * jnp.pi)
comps = refs + 0.05 * jnp.stack([jnp.cos(angles), jnp.sin(angles)], axis=1)
stimuli = jnp.stack([refs, comps], axis=1)
responses = jr.bernoulli(k_sim, 0.7, (N_TRIALS,)).astype(jnp.int32)
data = ResponseData.from_arrays(stimuli, responses)

optimizer = MAPOptimizer(steps=20, learning_rate=1e-4, show_progress=False)
posterior = optimizer.fit(model, data, seed=0)
steps, losses = optimizer.get_history()

X = jnp.array([[[0.0, 0.0], [0.05, 0.0]], [[0.3, -0.2], [0.3, -0.15]]])
predictive = WPPMPredictivePosterior(posterior, X, n_samples=1)
p_correct = predictive.mean
"""

_FROM_SUBMODULE = re.compile(r"^from psyphy_numpyro(\.[\w.]+)? import", re.MULTILINE)


def _script_imports(script: str) -> list[tuple[str, list[str]]]:
    line = re.compile(r"^from (psyphy_numpyro[\w.]*) import (.+)$", re.MULTILINE)
    found = line.findall(script)
    return [(module, [n.strip() for n in names.split(",")]) for module, names in found]


def _run(script: str) -> dict:
    namespace: dict = {}
    exec(compile(script, "<psyphy-style script>", "exec"), namespace)  # noqa: S102
    return namespace


def test_script_is_psyphy_code_with_one_word_changed():
    """Its import lines, with psyphy_numpyro -> psyphy, import from psyphy 0.0.5."""
    imports = _script_imports(SCRIPT)
    assert len(imports) == 7 and all("." in module for module, _ in imports)
    for module, names in imports:
        theirs = importlib.import_module(module.replace("psyphy_numpyro", "psyphy"))
        assert all(hasattr(theirs, n) for n in names), (module, names)


@pytest.fixture(scope="module")
def script_runs():
    top_level = _FROM_SUBMODULE.sub("from psyphy_numpyro import", SCRIPT)
    assert top_level != SCRIPT and "psyphy_numpyro." not in top_level
    return _run(SCRIPT), _run(top_level)


def test_script_binds_the_top_level_objects(script_runs):
    by_path, top = script_runs
    for _, names in _script_imports(SCRIPT):
        for name in names:
            assert by_path[name] is top[name], name


def test_script_gives_the_same_numbers_both_ways(script_runs):
    by_path, top = script_runs
    np.testing.assert_array_equal(by_path["p_correct"], top["p_correct"])
    np.testing.assert_array_equal(by_path["losses"], top["losses"])
    jax.tree.map(np.testing.assert_array_equal, by_path["posterior"].params,
                 top["posterior"].params)


def test_script_results_are_sensible(script_runs):
    by_path, _ = script_runs
    assert len(by_path["losses"]) == 20
    assert np.all(np.isfinite(by_path["losses"]))
    p = np.asarray(by_path["p_correct"])
    assert p.shape == (2,) and np.all((p >= 1 / 3 - 1e-6) & (p <= 1.0))
