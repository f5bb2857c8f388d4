"""Trials to and from CSV, with an exact round trip.

One row per trial, one column per stimulus coordinate, then the answer::

    ref_0,ref_1,probe_0,probe_1,response
    0.1,-0.30000000000000004,0.2,1e-300,1

Values are written with Python's ``repr``, the shortest decimal that reads back
to the same float64, so ``load_responses_csv(save_responses_csv(d))`` returns
stimuli equal to ``d``'s bit for bit, for any ``d`` and ``K``. The stimulus
columns are ``ref_j`` and ``probe_j`` when ``K = 2`` and ``stim{k}_j``
otherwise; the reader takes any ``<name>_<j>`` columns, one group per stimulus
in order.

The reader also accepts the two layouts of psyphy 0.0.5, whose writer and reader
disagree with each other (neither reads the other's files):

- psyphy's ``save_responses_csv``: columns ``stimulus 0, ..., stimulus K-1,
  response``, each stimulus cell a list literal such as ``"[0.1, 0.2]"`` and the
  response written as ``1`` or ``[1]``;
- what psyphy's ``load_responses_csv`` expects: columns ``ref``, ``probe`` and
  ``response`` in any order, with list literals (or bare numbers for ``d = 1``).

psyphy's own reader cannot read files from either writer here or there.

Responses must be 0 (wrong) or 1 (correct) (``0.0``/``1.0`` are accepted on
reading) and stimuli finite; anything else is a ``ValueError`` that names the
file, the line and the column. Per-trial context has no column, so saving a log
with context is refused rather than silently dropping it.
"""

from __future__ import annotations

import ast
import csv
import math
import os
import re
import warnings
from typing import Any

import numpy as np

from psyphy_numpyro.core.trials import TrialData as TrialData  # psyphy's io has it
from psyphy_numpyro.data.atomic import atomic_file, check_not_partial
from psyphy_numpyro.data.dataset import ResponseData, as_response_data

PathLike = str | os.PathLike
"""A file path: a string or a path object (psyphy's alias)."""


_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
_FLAT_COLUMN = re.compile(r"(.+)_(\d+)")
_PSYPHY_WRITER_COLUMN = re.compile(r"stimulus (\d+)")


def save_responses_csv(data: Any, path: PathLike) -> None:
    """Write trials to ``path`` as CSV, one row per trial.

    Parameters
    ----------
    data
        A :class:`~psyphy_numpyro.data.dataset.ResponseData` or
        :class:`~psyphy_numpyro.core.trials.TrialData` (or psyphy's versions) with
        binary responses and no context.
    path
        File to write. It is replaced atomically (a temporary file in the same
        folder, flushed to disk, then renamed), so a stopped process leaves the
        old file or the new one, never a torn one. Replacing a log with fewer
        of its own trials gives a ``UserWarning``.

    Examples
    --------
    >>> import os, pathlib, tempfile
    >>> from psyphy_numpyro.data import ResponseData
    >>> data = ResponseData.from_arrays([[[0.1, 0.2], [0.1 + 0.2, 1e-300]]], [1])
    >>> path = os.path.join(tempfile.mkdtemp(), "trials.csv")
    >>> save_responses_csv(data, path)
    >>> print(pathlib.Path(path).read_text(), end="")
    ref_0,ref_1,probe_0,probe_1,response
    0.1,0.2,0.30000000000000004,1e-300,1
    >>> bool(load_responses_csv(path).to_numpy()[0][0, 1, 0] == 0.1 + 0.2)
    True
    """
    log = as_response_data(data)
    if log.contexts:
        raise ValueError(
            "these trials have context, which the CSV layout has no columns for; "
            "save data without context (e.g. ResponseData.from_arrays(X, y))."
        )
    if not len(log) and log.stim_shape is None:
        raise ValueError(
            "nothing to save: the data has no trials and no stimulus shape (K, d)."
        )
    stimuli, responses = log.to_numpy("stimuli")
    if responses.ndim == 2 and responses.shape[1] == 1:
        responses = responses[:, 0]
    if responses.ndim != 1:
        raise ValueError(
            f"responses must be one 0/1 answer per trial to be saved as CSV, got "
            f"shape {responses.shape}."
        )
    as_float = responses.astype(float)
    bad = np.flatnonzero((as_float != 0.0) & (as_float != 1.0))
    if bad.size:
        raise ValueError(
            f"responses must be 0 (wrong) or 1 (correct); trial {bad[0]} has "
            f"{responses[bad[0]]!r} ({bad.size} such trial(s))."
        )
    if not np.all(np.isfinite(stimuli)):
        trial = int(np.argwhere(~np.isfinite(stimuli))[0, 0])
        raise ValueError(f"stimuli must be finite; trial {trial} has NaN or inf.")
    n, k, d = stimuli.shape
    names = ("ref", "probe") if k == 2 else tuple(f"stim{i}" for i in range(k))
    header = [f"{name}_{j}" for name in names for j in range(d)] + ["response"]
    flat = stimuli.reshape(n, k * d).tolist()
    _warn_if_shrinking(path, stimuli, as_float)
    with atomic_file(path, newline="", encoding="utf-8") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        for values, answer in zip(flat, as_float):
            writer.writerow([repr(v) for v in values] + ["1" if answer else "0"])


def load_responses_csv(path: PathLike) -> ResponseData:
    """Read trials written by :func:`save_responses_csv` (or by psyphy).

    Parameters
    ----------
    path
        CSV file in one of the layouts of the module docstring.

    Returns
    -------
    ResponseData
        float64 stimuli of shape ``(K, d)`` and int responses, one per row.
        (psyphy 0.0.5 returns a ``TrialData``; call ``.to_trial_data()``.)

    Raises
    ------
    ValueError
        On an unknown header, a wrong number of fields, a cell that is not a
        finite number, or a response other than 0 or 1, naming file, line and
        column.
    """
    where = os.fspath(path)
    check_not_partial(path, "save_responses_csv")
    _check_complete(path, where)
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f)
            try:
                return _read(reader, where)
            except csv.Error as err:
                raise ValueError(
                    f"{where}, line {reader.line_num}: not valid CSV: {err}."
                ) from None
    except UnicodeDecodeError as err:
        raise ValueError(f"{where}: not UTF-8 text: {err}.") from None


def _check_complete(path: PathLike, where: str) -> None:
    """Refuse a file cut short: every complete log ends with a line break."""
    with open(path, "rb") as f:
        f.seek(0, os.SEEK_END)
        if f.tell() == 0:
            return
        f.seek(-1, os.SEEK_END)
        last = f.read(1)
    if last not in (b"\n", b"\r"):
        raise ValueError(
            f"{where}: the file ends in the middle of a line, so it was cut short "
            "(truncated while being written); its last trial is incomplete. If the "
            "file is complete, add a line break at its end."
        )


def _warn_if_shrinking(path: PathLike, stimuli: np.ndarray, responses: np.ndarray) -> None:
    """Warn when ``path`` holds a log whose first trials are these, and more."""
    if not os.path.isfile(path):
        return
    try:
        old_stimuli, old_responses = load_responses_csv(path).to_numpy()
    except (ValueError, OSError):
        return
    n = len(stimuli)
    if (len(old_stimuli) > n and old_stimuli.shape[1:] == stimuli.shape[1:]
            and np.array_equal(old_stimuli[:n], stimuli)
            and np.array_equal(np.ravel(old_responses)[:n], responses)):
        warnings.warn(
            f"replacing {os.fspath(path)!r}, a log of {len(old_stimuli)} trials, with "
            f"its first {n}: {len(old_stimuli) - n} trials will be gone. Save to "
            "another file to keep them.",
            UserWarning,
            stacklevel=3,
        )


def _read(reader: Any, where: str) -> ResponseData:
    header = next((row for row in reader if any(c.strip() for c in row)), None)
    if header is None:
        raise ValueError(f"{where}: the file is empty; expected a header line.")
    header = [c.strip() for c in header]
    line = reader.line_num
    slots, literal = _parse_header(header, f"{where}, line {line}")
    d = None if literal else len(slots[0][1])
    response_col = header.index("response")
    stimuli, responses = [], []
    for row in reader:
        if not any(c.strip() for c in row):
            continue
        at = f"{where}, line {reader.line_num}"
        if len(row) != len(header):
            raise ValueError(
                f"{at}: expected {len(header)} fields ({', '.join(header)}), "
                f"got {len(row)}."
            )
        group = []
        for _name, cols in slots:
            if literal:
                vec = _vector(row[cols[0]], f"{at}, column {header[cols[0]]!r}")
                if d is None:
                    d = len(vec)
                elif len(vec) != d:
                    raise ValueError(
                        f"{at}, column {header[cols[0]]!r}: expected {d} "
                        f"coordinates as in the earlier cells, got {len(vec)}."
                    )
            else:
                vec = [_number(row[c], f"{at}, column {header[c]!r}") for c in cols]
            group.append(vec)
        stimuli.append(group)
        responses.append(_answer(row[response_col], f"{at}, column 'response'"))
    if not stimuli:
        out = ResponseData()
        if d is not None:
            out.stim_shape = (len(slots), d)
        return out
    return ResponseData.from_arrays(np.array(stimuli, dtype=float), responses)


def _parse_header(header: list[str], at: str) -> tuple[list, bool]:
    """Return ``[(name, [column indices]), ...]`` per stimulus, and whether cells
    hold list literals (psyphy's layouts) rather than one number each."""
    for name in header:
        if not name or header.count(name) > 1:
            raise ValueError(
                f"{at}: column names must be unique and non-empty, got {header}."
            )
    if "response" not in header:
        raise ValueError(f"{at}: no 'response' column in {header}.")
    cols = [(i, c) for i, c in enumerate(header) if c != "response"]
    if not cols:
        raise ValueError(f"{at}: no stimulus columns in {header}.")
    flat = [_FLAT_COLUMN.fullmatch(c) for _, c in cols]
    if all(flat):
        slots: list[tuple[str, list[int]]] = []
        for (i, col), m in zip(cols, flat):
            name, j = m.group(1), int(m.group(2))
            if not slots or slots[-1][0] != name:
                if any(s[0] == name for s in slots):
                    raise ValueError(
                        f"{at}, column {col!r}: the columns of stimulus {name!r} "
                        "must be adjacent."
                    )
                slots.append((name, []))
            if j != len(slots[-1][1]):
                raise ValueError(
                    f"{at}, column {col!r}: expected {name}_{len(slots[-1][1])}; "
                    "coordinates must be numbered 0, 1, ... in order."
                )
            slots[-1][1].append(i)
        names = [s[0] for s in slots]
        extra = [n for n in names if n not in ("ref", "probe")]
        if {"ref", "probe"} <= set(names) and extra:
            raise ValueError(
                f"{at}: columns {[header[i] for n, c in slots if n in extra for i in c]} "
                "are neither ref_<j>, probe_<j> nor response; a trial has one "
                "reference and one comparison. Remove the extra columns (or save them "
                "in another file)."
            )
        sizes = {len(s[1]) for s in slots}
        if len(sizes) != 1:
            raise ValueError(
                f"{at}: every stimulus needs the same number of coordinates, got "
                f"{ {s[0]: len(s[1]) for s in slots} }."
            )
        return slots, False
    written = [_PSYPHY_WRITER_COLUMN.fullmatch(c) for _, c in cols]
    if all(written) and [int(m.group(1)) for m in written] == list(range(len(cols))):
        return [(c, [i]) for i, c in cols], True
    if sorted(c for _, c in cols) == ["probe", "ref"]:
        return [(n, [header.index(n)]) for n in ("ref", "probe")], True
    raise ValueError(
        f"{at}: unrecognised columns {header}. Expected 'ref_0, ..., probe_0, ..., "
        "response' (or any '<name>_<j>' columns), psyphy's 'stimulus 0, "
        "stimulus 1, ..., response', or 'ref, probe, response'."
    )


def _number(cell: str, at: str) -> float:
    text = cell.strip()
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{at}: expected a finite number, got {cell!r}.")
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{at}: {cell!r} overflows float64.")
    return value


def _vector(cell: str, at: str) -> list[float]:
    """A list literal such as ``[0.1, 0.2]``, or a bare number (d = 1)."""
    text = cell.strip()
    if not text.startswith("["):
        return [_number(text, at)]
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        value = None
    if (
        not isinstance(value, list)
        or not value
        or not all(type(v) in (int, float) for v in value)
    ):
        raise ValueError(
            f"{at}: expected a list of numbers such as '[0.1, 0.2]', got {cell!r}."
        )
    try:
        floats = [float(v) for v in value]
    except OverflowError:
        floats = [math.inf]
    if not all(math.isfinite(v) for v in floats):
        raise ValueError(f"{at}: expected finite numbers, got {cell!r}.")
    return floats


def _answer(cell: str, at: str) -> int:
    text = cell.strip()
    inner = text[1:-1].strip() if text.startswith("[") and text.endswith("]") else text
    if _NUMBER.fullmatch(inner) and float(inner) in (0.0, 1.0):
        return int(float(inner))
    raise ValueError(f"{at}: responses must be 0 (wrong) or 1 (correct), got {cell!r}.")


def save_posterior(posterior: Any, path: PathLike) -> None:
    """Save a fit (psyphy's name; psyphy pickles, this writes :func:`save_fit`'s NetCDF).

    As psyphy's, it replaces an existing file (``save_fit`` asks first).
    """
    from psyphy_numpyro.data.fits import save_fit

    save_fit(path, posterior, overwrite=True)


def load_posterior(path: PathLike) -> Any:
    """Load a fit written by :func:`save_posterior` (psyphy's name for :func:`load_fit`)."""
    from psyphy_numpyro.data.fits import load_fit

    return load_fit(path)
