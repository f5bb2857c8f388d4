r"""Hong et al.'s colour-discrimination data: download, read, and the paper's model.

Hong, Bouhassira, Chow, Sanders, Shvartsman, Guan, Williams and Brainard (2025),
*Comprehensive characterization of human color discrimination thresholds*,
eLife 14:RP108943, published every trial of 8 observers and their WPPM fits on
OSF (node ``k27js``). Nothing is shipped with this package: :func:`fetch`
downloads one observer's files into a cache folder (:func:`default_data_dir`),
and the loaders read them into this package's objects.

For observer ``N`` (a key of :data:`SUBJECT_INITIALS`), the OSF folder
"Organized data and model predictions/sub{N}" holds

- ``trial_data_pooled_by_type_sub{N}.csv``: one trial per row (columns
  ``TrialType,xref,x1,y``), read by :func:`load_trials`;
- ``Bestfit_W_sub{N}.csv``: the fitted weights :math:`W`, one row per index
  ``"i,j,k,l"``, the fit in ``W_org`` and 120 bootstrap refits in
  ``W_btst{b}_rank{r}``, read by :func:`load_reference_W`;
- ``Thres_ellipses_sub{N}.csv``: threshold covariances (66.7 % correct) on the
  7 x 7 grid of references ``linspace(-0.7, 0.7, 7)``, with the same bootstrap
  columns, read by :func:`load_sigma_table` and :func:`load_sigma_bootstrap`;
- ``Noise_ellipses_sub{N}.csv`` (about 68 MB, fetched on request): the same
  layout for :math:`\Sigma(x)` on a 103 x 103 grid.

Every coordinate is in the model's 2-D space, already inside the Chebyshev
domain [-1, 1]. The monitor calibration that maps this space to linear RGB is
read by :func:`fetch_calibration_matrix`, :func:`load_calibration_matrix` and
:func:`w2d_to_rgb`. :func:`build_paper_model` builds the WPPM with the paper's
settings (:data:`PAPER_HYPERPARAMS`). The OSF node states no licence at the
time of writing: cite the paper when you use the data.

Examples
--------
>>> from psyphy_numpyro.data.published import hong2025
>>> paths = hong2025.fetch(subject=1)  # doctest: +SKIP
>>> data = hong2025.load_trials(paths["trials"])  # doctest: +SKIP
>>> W = hong2025.load_reference_W(paths["weights"])  # doctest: +SKIP
>>> model = hong2025.build_paper_model()
>>> model.basis_degree, model.embedding_dim, model.task.config.clip
(4, 3, 0.001)
"""

from __future__ import annotations

import contextlib
import csv
import math
import os
import re
from collections.abc import Iterator, Sequence
from fnmatch import fnmatch
from pathlib import Path
from typing import Any

import jax.numpy as jnp
import numpy as np

from psyphy_numpyro.core import checks as check
from psyphy_numpyro.data.dataset import TrialData
from psyphy_numpyro.data.published import _osf
from psyphy_numpyro.model.likelihood import OddityTask, OddityTaskConfig
from psyphy_numpyro.model.noise import GaussianNoise
from psyphy_numpyro.model.prior import Prior
from psyphy_numpyro.model.wppm import WPPM

__all__ = [
    "CALIBRATION_DATE",
    "DATA_HOME_ENV",
    "FIT_TRIAL_TYPES",
    "OSF_NODE",
    "PAPER_HYPERPARAMS",
    "SUBJECT_INITIALS",
    "build_paper_model",
    "default_data_dir",
    "fetch",
    "fetch_calibration_matrix",
    "load_calibration_matrix",
    "load_reference_W",
    "load_sigma_bootstrap",
    "load_sigma_table",
    "load_trials",
    "w2d_to_rgb",
]

#: The OSF project that holds the data.
OSF_NODE = "k27js"
_OSF_FILES = f"https://api.osf.io/v2/nodes/{OSF_NODE}/files/osfstorage/"
_SUBJECT_FOLDER = "Organized data and model predictions"
_CALIBRATION_FOLDERS = ("Calibration and transformation", "Transformation matrices")

#: Environment variable that overrides :func:`default_data_dir`'s root.
DATA_HOME_ENV = "PSYPHY_NUMPYRO_DATA_HOME"

#: Observer number -> initials, as in the paper and the OSF folders.
SUBJECT_INITIALS: dict[int, str] = {
    1: "CH", 2: "ME", 4: "SG", 6: "DK", 7: "BH", 8: "FM", 10: "HG", 11: "FW"
}

#: Date in the names of the calibration files (``M_2DWToRGB_DELL_<date>_copy.csv``).
CALIBRATION_DATE = "02242025"

#: ``TrialType`` prefixes of the trials the paper fitted: AEPsych's Sobol and
#: adaptive trials and the pre-generated Sobol trials shown when a proposal was
#: late. The ``MOCS`` trials are held-out validation data.
FIT_TRIAL_TYPES: tuple[str, ...] = ("AEPsych", "pregenSobol")

#: The paper's model, fit and readout settings, as this package spells them.
#:
#: ``basis_degree`` is the highest Chebyshev degree (the paper's "degree 5"
#: counts the five functions T0..T4); ``prob_clip`` bounds p(correct) to
#: [0.001, 0.999] (``OddityTaskConfig.clip``); ``learning_rate`` is for the
#: per-trial mean objective (``MAPOptimizer``'s default for the full WPPM);
#: ``n_restarts`` fits start from independent prior draws and the lowest
#: final loss is kept; thresholds are at ``target_pC`` along
#: ``threshold_directions`` directions.
PAPER_HYPERPARAMS: dict[str, Any] = {
    "input_dim": 2,
    "basis_degree": 4,
    "extra_dims": 1,
    "variance_scale": 3e-4,
    "decay_rate": 0.4,
    "diag_term": 0.0,
    "mc_samples": 2000,
    "bandwidth": 5e-3,
    "prob_clip": 1e-3,
    "learning_rate": 1e-4,
    "momentum": 0.2,
    "total_steps": 1500,
    "n_restarts": 3,
    "target_pC": 0.667,
    "threshold_directions": 16,
}

_TRIAL_COLUMNS = ("TrialType", "xref", "x1", "y")
_MATRIX = re.compile(r"^\[\[([^\[\]]*)\],\[([^\[\]]*)\]\]$")


# -- the cache folder and downloads -------------------------------------------------
def default_data_dir() -> Path:
    """The folder :func:`fetch` downloads into: ``<root>/hong2025``.

    ``<root>`` is ``$PSYPHY_NUMPYRO_DATA_HOME`` if set, else
    ``$XDG_CACHE_HOME/psyphy_numpyro``, else ``~/.cache/psyphy_numpyro``:
    outside any repository, so downloads are never committed.
    """
    root = os.environ.get(DATA_HOME_ENV)
    if not root:
        cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        root = Path(cache) / "psyphy_numpyro"
    return Path(root) / "hong2025"


def _root(data_dir: str | os.PathLike | None) -> Path:
    return Path(data_dir) if data_dir is not None else default_data_dir()


def _subject(subject: Any) -> int:
    if isinstance(subject, bool) or not isinstance(subject, int):
        raise TypeError(f"subject must be an int, got {type(subject).__name__}.")
    if subject not in SUBJECT_INITIALS:
        raise ValueError(
            f"subject must be one of {sorted(SUBJECT_INITIALS)} (the paper's "
            f"observers), got {subject!r}."
        )
    return subject


def _subject_files(subject: int, noise_ellipses: bool) -> dict[str, str]:
    names = {
        "trials": f"trial_data_pooled_by_type_sub{subject}.csv",
        "weights": f"Bestfit_W_sub{subject}.csv",
        "thres_ellipses": f"Thres_ellipses_sub{subject}.csv",
    }
    if noise_ellipses:
        names["noise_ellipses"] = f"Noise_ellipses_sub{subject}.csv"
    return names


def fetch(
    subject: int = 1,
    data_dir: str | os.PathLike | None = None,
    *,
    noise_ellipses: bool = False,
    verbose: bool = True,
    source: str | None = None,
    timeout: float = 60.0,
) -> dict[str, Path]:
    """Download one observer's files, unless they are already in the cache.

    Parameters
    ----------
    subject
        Observer number, a key of :data:`SUBJECT_INITIALS` (1 is CH).
    data_dir
        Root folder; the files go to ``data_dir/sub{subject}``. Default
        :func:`default_data_dir`.
    noise_ellipses
        Also download ``Noise_ellipses_sub{N}.csv`` (about 68 MB).
    verbose
        Print what is downloaded.
    source
        A copy of the files to download from instead of OSF: a URL (``https://``,
        ``file://``) of a folder holding ``sub{N}/<file name>``.
    timeout
        Seconds to wait for each answer.

    Returns
    -------
    dict
        Paths of the files: ``"trials"``, ``"weights"``, ``"thres_ellipses"``
        and, if asked, ``"noise_ellipses"``.

    Raises
    ------
    ConnectionError
        If the files are not all in the cache and the server cannot be reached
        (offline, an HTTP error, or a download cut short).
    FileNotFoundError
        If the server has no such folder or file.

    Notes
    -----
    A file is written under a temporary name and renamed once complete (and,
    from OSF, once its size matches the listing), so a file in the cache is
    whole; files already there are used without going online.
    """
    subject = _subject(subject)
    check.positive("timeout", timeout)
    dest = _root(data_dir) / f"sub{subject}"
    names = _subject_files(subject, bool(noise_ellipses))
    paths = {key: dest / name for key, name in names.items()}
    missing = {key: names[key] for key, path in paths.items() if not path.is_file()}
    if not missing:
        return paths
    hint = (f"Without the internet, copy {sorted(missing.values())} into {dest} "
            "by hand (from https://osf.io/k27js, folder "
            f"'{_SUBJECT_FOLDER}/sub{subject}').")
    if verbose:
        origin = source or f"OSF {OSF_NODE}"
        print(f"sub{subject} ({SUBJECT_INITIALS[subject]}): {origin} -> {dest}")
    if source is not None:
        base = source.rstrip("/")
        for key, name in missing.items():
            _osf.download(f"{base}/sub{subject}/{name}", paths[key], None, timeout,
                          hint, verbose)
        return paths
    files = _osf.folder_files(_OSF_FILES, (_SUBJECT_FOLDER, f"sub{subject}"),
                              timeout, hint)
    for key, name in missing.items():
        if name not in files:
            raise FileNotFoundError(
                f"OSF {OSF_NODE}/{_SUBJECT_FOLDER}/sub{subject} has no {name!r}; "
                f"it has {sorted(files)}."
            )
        item = files[name]
        _osf.download(_osf.link(item, "links", "download"), paths[key],
                      item["attributes"].get("size"), timeout, hint, verbose)
    return paths


def fetch_calibration_matrix(
    data_dir: str | os.PathLike | None = None,
    *,
    file_date: str = CALIBRATION_DATE,
    verbose: bool = True,
    source: str | None = None,
    timeout: float = 60.0,
) -> Path:
    """Download the matrix from the model's 2-D space to monitor RGB (one file).

    The file goes to ``data_dir/calibration`` (default
    :func:`default_data_dir`). On OSF its name is matched by
    ``M_2DWToRGB*<file_date>*.csv``; from a ``source`` copy (see :func:`fetch`)
    it is ``calibration/M_2DWToRGB_DELL_<file_date>_copy.csv``. A matching
    file already in the folder is used without going online.

    Returns
    -------
    Path
        The downloaded (or cached) file, for :func:`load_calibration_matrix`.
    """
    check.positive("timeout", timeout)
    dest = _root(data_dir) / "calibration"
    pattern = f"M_2DWToRGB*{file_date}*.csv"
    cached = sorted(dest.glob(pattern)) if dest.is_dir() else []
    if len(cached) == 1:
        return cached[0]
    folder = "/".join(_CALIBRATION_FOLDERS)
    hint = (f"Without the internet, copy the file matching {pattern!r} into {dest} by "
            f"hand (from https://osf.io/k27js, folder '{folder}').")
    if source is not None:
        name = f"M_2DWToRGB_DELL_{file_date}_copy.csv"
        _osf.download(f"{source.rstrip('/')}/calibration/{name}", dest / name, None,
                      timeout, hint, verbose)
        return dest / name
    files = _osf.folder_files(_OSF_FILES, _CALIBRATION_FOLDERS, timeout, hint)
    matches = sorted(name for name in files if fnmatch(name, pattern))
    if len(matches) != 1:
        raise FileNotFoundError(
            f"expected one file matching {pattern!r} on OSF, found {matches or 'none'} "
            f"among {sorted(files)}; pass file_date= to choose."
        )
    item = files[matches[0]]
    _osf.download(_osf.link(item, "links", "download"), dest / matches[0],
              item["attributes"].get("size"), timeout, hint, verbose)
    return dest / matches[0]


# -- reading the files ------------------------------------------------------------
@contextlib.contextmanager
def _csv_rows(path: Any, what: str) -> Iterator[tuple[list[str], Iterator]]:
    """Open a CSV file; yield its header and its ``(line, cells)`` rows.

    Every row must have as many cells as the header; a torn quote or a short
    row (a truncated file) raises ``ValueError`` naming the line.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or Path, got {type(path).__name__}.")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} file {str(path)!r} does not exist; download it with "
            "hong2025.fetch(subject) (or fetch_calibration_matrix())."
        )
    with open(path, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh, strict=True)

        def damaged(err: Exception) -> ValueError:
            return ValueError(
                f"{path}: line {reader.line_num} is not valid CSV ({err}); the file "
                "is damaged or truncated: download it again."
            )

        try:
            header = next(reader)
        except StopIteration:
            raise ValueError(f"{path} is empty; download it again.") from None
        except csv.Error as err:
            raise damaged(err) from None

        def rows() -> Iterator[tuple[int, list[str]]]:
            try:
                for cells in reader:
                    if not cells:
                        continue
                    if len(cells) != len(header):
                        raise ValueError(
                            f"{path}: line {reader.line_num} has {len(cells)} cells "
                            f"but the header has {len(header)}; the file is damaged "
                            "or truncated: download it again."
                        )
                    yield reader.line_num, cells
            except csv.Error as err:
                raise damaged(err) from None

        yield header, rows()


def _numbers(text: str, count: int, where: str) -> list[float]:
    """``count`` finite numbers from a comma-separated cell such as ``"0.1,-0.2"``."""
    parts = text.split(",")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        values = []
    if len(values) != count or not all(math.isfinite(v) for v in values):
        raise ValueError(f"{where}: expected {count} finite number(s), got {text!r}.")
    return values


def _matrix(text: str, where: str) -> list[list[float]]:
    """A 2 x 2 matrix from a cell such as ``"[[a,b],[c,d]]"``."""
    match = _MATRIX.match(text.replace(" ", ""))
    if match is None:
        raise ValueError(
            f"{where}: expected a 2 x 2 matrix '[[a,b],[c,d]]', got {text!r}."
        )
    return [_numbers(row, 2, where) for row in match.groups()]


def _prefixes(trial_types: Any) -> tuple[str, ...] | None:
    if trial_types is None:
        return None
    if isinstance(trial_types, str):
        raise TypeError(
            f"trial_types must be a sequence of prefixes, e.g. ({trial_types!r},), "
            "not a single string."
        )
    prefixes = tuple(trial_types)
    if not prefixes or not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError(
            f"trial_types must hold non-empty strings, got {trial_types!r}; pass None "
            "for every trial."
        )
    return prefixes


def load_trials(
    path: str | os.PathLike,
    *,
    trial_types: Sequence[str] | None = FIT_TRIAL_TYPES,
    max_trials: int | None = None,
    seed: int = 0,
) -> TrialData:
    """Read ``trial_data_pooled_by_type_sub{N}.csv`` into a :class:`TrialData`.

    Parameters
    ----------
    path
        The ``"trials"`` file of :func:`fetch`.
    trial_types
        Keep the rows whose ``TrialType`` starts with one of these prefixes;
        None keeps every row. The file's types are ``AEPsych_*`` (Sobol, then
        adaptive trials), ``pregenSobol_*`` (pre-generated trials shown when
        AEPsych was slow to propose) and ``MOCS_*`` (held-out validation
        trials). The default, :data:`FIT_TRIAL_TYPES`, keeps the trials the
        paper fitted: AEPsych *and* pre-generated Sobol (psyphy 0.0.5's default
        drops the latter).
    max_trials
        Keep a random subset of this many trials (in file order); all if None
        or if fewer match.
    seed
        Seed of that subset.

    Returns
    -------
    TrialData
        ``stimuli`` ``(N, 2, 2)`` (slot 0 the reference, slot 1 the comparison;
        ``stimulus_names`` ``("ref", "comp")``), ``responses`` ``(N, 1)``: 1
        when the odd stimulus was found. The oddity task's second reference is
        implied by the task, as everywhere in this package.

    Raises
    ------
    ValueError
        If a column is missing, a cell is not what the format holds (naming its
        line), or no row matches ``trial_types``.
    """
    prefixes = _prefixes(trial_types)
    if max_trials is not None:
        max_trials = check.positive_int("max_trials", max_trials)
    seed = check.seed("seed", seed)
    refs, comps, answers, seen = [], [], [], set()
    with _csv_rows(path, "trial") as (header, rows):
        missing = [c for c in _TRIAL_COLUMNS if c not in header]
        if missing:
            raise ValueError(
                f"{path} is missing expected column(s) {missing}; a trial file has "
                f"{list(_TRIAL_COLUMNS)}, this one has {header}."
            )
        t, ref, cmp, y = (header.index(c) for c in _TRIAL_COLUMNS)
        for line, cells in rows:
            seen.add(cells[t].split("_", 1)[0])
            if prefixes is not None and not cells[t].startswith(prefixes):
                continue
            where = f"{path}, line {line}"
            refs.append(_numbers(cells[ref], 2, f"{where}, xref"))
            comps.append(_numbers(cells[cmp], 2, f"{where}, x1"))
            (answer,) = _numbers(cells[y], 1, f"{where}, y")
            if answer not in (0.0, 1.0):
                raise ValueError(f"{where}: y must be 0 or 1, got {cells[y]!r}.")
            answers.append(int(answer))
    if not answers:
        raise ValueError(
            f"No trials matched trial_types={trial_types!r} in {path}; its trial types "
            f"start with {sorted(seen)}."
        )
    stimuli = np.stack([np.asarray(refs), np.asarray(comps)], axis=1)
    responses = np.asarray(answers, dtype=np.int32)[:, None]
    if max_trials is not None and max_trials < len(answers):
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(answers), size=max_trials, replace=False))
        stimuli, responses = stimuli[keep], responses[keep]
    return TrialData(stimuli=stimuli, responses=responses,
                     stimulus_names=("ref", "comp"))


def load_reference_W(path: str | os.PathLike, column: str = "W_org") -> jnp.ndarray:
    r"""Read the published weights from ``Bestfit_W_sub{N}.csv``.

    Parameters
    ----------
    path
        The ``"weights"`` file of :func:`fetch`.
    column
        ``"W_org"``, the published fit, or a bootstrap refit
        ``"W_btst{b}_rank{r}"``.

    Returns
    -------
    jax.Array
        Shape read from the indices, ``(5, 5, 2, 3)`` for the paper: the layout
        of ``params["W"]`` (:math:`U(x)_{dv} = \sum_{ab} W_{abdv} T_a(x_0)
        T_b(x_1)`), so ``{"W": load_reference_W(path)}`` is a parameter set of
        :func:`build_paper_model`'s model. float64 when JAX's x64 mode is on
        (turn it on to compare with the published covariances to 1e-8),
        float32 otherwise.

    Raises
    ------
    ValueError
        If the first column is not ``"i,j,k,l"``, ``column`` is absent, an
        index repeats or is malformed, or the indices do not fill their box
        (rows missing).
    """
    entries: dict[tuple[int, ...], float] = {}
    with _csv_rows(path, "weights") as (header, rows):
        if header[0] != "i,j,k,l":
            raise ValueError(
                f"{path}: expected first column 'i,j,k,l' (the weight index), got "
                f"{header[0]!r}."
            )
        if column not in header[1:]:
            raise ValueError(
                f"{path}: column {column!r} not found; it has {len(header) - 1} "
                f"columns, e.g. {header[1:4]}."
            )
        k = header.index(column)
        for line, cells in rows:
            where = f"{path}, line {line}"
            index = _numbers(cells[0], 4, f"{where}, index")
            if not all(i >= 0 and i == int(i) for i in index):
                raise ValueError(
                    f"{where}: the index {cells[0]!r} must be 4 integers >= 0."
                )
            index = tuple(int(i) for i in index)
            if index in entries:
                raise ValueError(
                    f"{where}: the index {cells[0]!r} appears twice (duplicate "
                    "index keys)."
                )
            (entries[index],) = _numbers(cells[k], 1, f"{where}, {column}")
    if not entries:
        raise ValueError(f"{path} holds no weights, only a header.")
    shape = tuple(max(index[a] for index in entries) + 1 for a in range(4))
    if len(entries) != math.prod(shape):
        raise ValueError(
            f"{path}: {len(entries)} weights, but the indices span shape {shape} "
            f"({math.prod(shape)} entries): the table is not dense (rows missing)."
        )
    W = np.empty(shape)
    for index, value in entries.items():
        W[index] = value
    return jnp.asarray(W)


def _sigma_table(path: Any, pick: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """References (M, 2) and matrices (C, M, 2, 2) of the columns ``pick`` names."""
    coords, sigmas = [], []
    with _csv_rows(path, "covariance table") as (header, rows):
        if header[0] not in ("grid_ref", "grid_ref_fine"):
            raise ValueError(
                f"{path}: expected first column 'grid_ref' or 'grid_ref_fine' (the "
                f"reference), got {header[0]!r}."
            )
        columns = pick(path, header)
        ks = [header.index(c) for c in columns]
        for line, cells in rows:
            where = f"{path}, line {line}"
            coords.append(_numbers(cells[0], 2, f"{where}, {header[0]}"))
            sigmas.append([_matrix(cells[k], f"{where}, {header[k]}") for k in ks])
    if not coords:
        raise ValueError(f"{path} holds no references, only a header.")
    return np.asarray(coords), np.asarray(sigmas).swapaxes(0, 1), columns


def load_sigma_table(
    path: str | os.PathLike, *, value_column: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Read one column of a ``Thres_ellipses`` or ``Noise_ellipses`` table.

    Parameters
    ----------
    path
        A covariance table: first column ``grid_ref`` (7 x 7 threshold grid) or
        ``grid_ref_fine`` (103 x 103 noise grid) with ``"x,y"`` cells, then one
        column per fit with ``"[[a,b],[c,d]]"`` cells.
    value_column
        The column to read; default the published fit, the one column whose
        name ends in ``_org``.

    Returns
    -------
    coords : numpy.ndarray
        References, shape ``(M, 2)``, in file order (the first coordinate
        varies fastest).
    sigmas : numpy.ndarray
        One 2 x 2 matrix per reference, shape ``(M, 2, 2)``. A threshold
        covariance :math:`S` is the ellipse :math:`\\delta^T S^{-1} \\delta = 1`
        (the ``cov`` of :func:`~psyphy_numpyro.core.readouts.fit_ellipse`).
    """
    def pick(path: Path, header: list[str]) -> list[str]:
        if value_column is not None:
            if value_column not in header[1:]:
                raise ValueError(
                    f"{path}: column {value_column!r} not found; it has "
                    f"{len(header) - 1} columns, e.g. {header[1:4]}."
                )
            return [value_column]
        org = [c for c in header[1:] if c.endswith("_org")]
        if len(org) != 1:
            raise ValueError(
                f"{path}: expected one column ending in '_org' (the published fit), "
                f"found {org}; pass value_column=."
            )
        return org

    coords, sigmas, _ = _sigma_table(path, pick)
    return coords, sigmas[0]


def load_sigma_bootstrap(
    path: str | os.PathLike,
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Read every bootstrap column (``*_btst*``) of a covariance table at once.

    Returns
    -------
    coords : numpy.ndarray
        References, shape ``(M, 2)``.
    sigmas : numpy.ndarray
        Shape ``(B, M, 2, 2)``: one table per bootstrap refit, in file order
        (by rank).
    columns : tuple of str
        The ``B`` column names.
    """
    def pick(path: Path, header: list[str]) -> list[str]:
        columns = [c for c in header[1:] if "_btst" in c]
        if not columns:
            raise ValueError(
                f"{path}: no bootstrap columns ('*_btst*') in {header[:4]}."
            )
        return columns

    coords, sigmas, columns = _sigma_table(path, pick)
    return coords, sigmas, tuple(columns)


def load_calibration_matrix(path: str | os.PathLike) -> np.ndarray:
    """Read the header-less 3 x 3 matrix of a ``M_2DWToRGB_*.csv`` file.

    Returns
    -------
    numpy.ndarray
        ``M`` of shape (3, 3), as stored: it multiplies column vectors
        ``[w1, w2, 1]`` (see :func:`w2d_to_rgb`).
    """
    rows = []
    with _csv_rows(path, "calibration") as (first, rest):
        for line, cells in [(1, first), *rest]:
            rows.append(_numbers(",".join(cells), len(cells), f"{path}, line {line}"))
    M = np.asarray(rows)
    if M.shape != (3, 3):
        raise ValueError(f"{path}: expected a 3x3 matrix, got shape {M.shape}.")
    return M


def w2d_to_rgb(coords: Any, M: Any, *, clip: bool = True) -> np.ndarray:
    """Linear (not gamma-corrected) monitor RGB of points of the model's space.

    ``rgb = M @ [w1, w2, 1]``, clipped to the gamut [0, 1] (``clip=False``
    shows how far out of gamut a point is). The matrix belongs to the paper's
    calibrated monitor: it reproduces the paper's colours, and maps the origin
    to the grey [0.5, 0.5, 0.5].

    Parameters
    ----------
    coords
        One point ``(2,)`` or points ``(N, 2)``.
    M
        The matrix of :func:`load_calibration_matrix`, shape (3, 3).

    Returns
    -------
    numpy.ndarray
        ``(3,)`` or ``(N, 3)``, like ``coords``.
    """
    xy = check.finite_array("coords", coords)
    if xy.shape[-1:] != (2,) or xy.ndim not in (1, 2):
        raise ValueError(f"coords must have shape (2,) or (N, 2), got {xy.shape}.")
    M = check.finite_array("M", M)
    if M.shape != (3, 3):
        raise ValueError(f"M must have shape (3, 3), got {M.shape}.")
    ones = np.ones(xy.shape[:-1] + (1,))
    rgb = np.concatenate([xy, ones], axis=-1) @ M.T
    return np.clip(rgb, 0.0, 1.0) if clip else rgb


# -- the paper's model --------------------------------------------------------------
def build_paper_model(
    *, mc_samples: int | None = None, bandwidth: float | None = None
) -> WPPM:
    """The WPPM with the paper's settings (:data:`PAPER_HYPERPARAMS`).

    Chebyshev degree 4 in 2-D, one extra embedding dimension, prior variance
    ``3e-4 * 0.4**(i + j)``, no diagonal term, and the oddity task's Monte
    Carlo rule with 2,000 samples, bandwidth ``5e-3`` and p(correct) clipped to
    [0.001, 0.999].

    Parameters
    ----------
    mc_samples, bandwidth
        Override the Monte Carlo samples per trial or the bandwidth (fewer
        samples for quick runs); default the paper's.

    Returns
    -------
    WPPM
        Its ``params["W"]`` has the shape of :func:`load_reference_W`'s
        ``(5, 5, 2, 3)``.
    """
    h = PAPER_HYPERPARAMS
    config = OddityTaskConfig(
        num_samples=h["mc_samples"] if mc_samples is None else mc_samples,
        bandwidth=h["bandwidth"] if bandwidth is None else bandwidth,
        clip=h["prob_clip"],
    )
    prior = Prior(input_dim=h["input_dim"], basis_degree=h["basis_degree"],
                  extra_embedding_dims=h["extra_dims"],
                  variance_scale=h["variance_scale"], decay_rate=h["decay_rate"])
    return WPPM(prior, OddityTask(config=config), GaussianNoise(),
                input_dim=h["input_dim"], extra_dims=h["extra_dims"],
                diag_term=h["diag_term"])
