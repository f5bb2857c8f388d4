"""(Experimental) The storage of an adaptive-experiment session: one SQLite file.

A session asks trials (stimulus pairs), is told the observer's answers, and
refits the model now and then. :class:`SessionStore` keeps all of it in one
SQLite file, written through Python's :mod:`sqlite3` only, so that any SQLite
tool can read it. Every write is one transaction: a process killed at any
moment leaves the file with all or none of a write. While a store is open it
holds the file's lock; a second opener, in this process or another, gets
:class:`SessionInUseError` at once.

The file (schema version :data:`SCHEMA_VERSION`, journal mode WAL) has three
tables:

``meta(key TEXT PRIMARY KEY, value TEXT NOT NULL)``
    One row per key, values as JSON text: ``schema_version``, ``created_at``
    (Unix seconds), ``identity`` (what must match to resume the session, e.g.
    the model's configuration, seed and placement) and ``settings`` (free-form,
    written when the file is created).
``trials``
    One row per asked trial: ``id INTEGER PRIMARY KEY``, ``proposal`` (index of
    the proposal that asked it), ``source`` (one of :data:`SOURCES`), ``ref``
    and ``probe`` (the stimuli, JSON lists of floats that read back bit for
    bit), ``criterion`` (the placement's score, or NULL), ``asked_at`` (Unix
    seconds), and once answered ``response`` (0 or 1), ``told_at`` (Unix
    seconds) and ``told_seq`` (1, 2, ... in the order answers were told;
    NULL while pending).
``refits``
    One row per refit: ``id INTEGER PRIMARY KEY``, ``num_trials`` (answers it
    used), ``config`` (JSON), ``seed``, ``params`` (a ``.npz`` archive as
    written by :func:`numpy.savez`; read it with ``numpy.load(io.BytesIO(blob),
    allow_pickle=False)``), ``started_at`` (Unix seconds) and ``seconds`` (its
    run time).
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import numbers
import os
import sqlite3
import time
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "SCHEMA_VERSION",
    "SOURCES",
    "AskedTrial",
    "Refit",
    "SessionInUseError",
    "SessionStore",
]

SCHEMA_VERSION = 1
"""Version of the file layout; a file with another version is refused."""

SOURCES = ("warmup", "placement", "fallback")
"""Where an asked trial came from."""

_SCHEMA = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE trials (
    id INTEGER PRIMARY KEY,
    proposal INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ({", ".join(repr(s) for s in SOURCES)})),
    ref TEXT NOT NULL,
    probe TEXT NOT NULL,
    criterion REAL,
    asked_at REAL NOT NULL,
    response INTEGER CHECK (response IN (0, 1)),
    told_at REAL,
    told_seq INTEGER UNIQUE
);
CREATE TABLE refits (
    id INTEGER PRIMARY KEY,
    num_trials INTEGER NOT NULL,
    config TEXT NOT NULL,
    seed INTEGER NOT NULL,
    params BLOB NOT NULL,
    started_at REAL NOT NULL,
    seconds REAL NOT NULL
);
"""

_TRIAL_COLUMNS = ("id", "proposal", "source", "ref", "probe", "criterion", "asked_at",
                  "response", "told_at", "told_seq")
_INT64 = (-(2**63), 2**63 - 1)


class SessionInUseError(RuntimeError):
    """Another connection (this process or another) holds the session file."""


class AskedTrial(NamedTuple):
    """A trial that was asked; ``ref`` and ``probe`` are float64 ``(d,)``."""

    id: int
    proposal: int
    source: str
    ref: np.ndarray
    probe: np.ndarray
    criterion: float | None
    asked_at: float


class Refit(NamedTuple):
    """A stored refit; ``params`` maps names to the arrays as saved."""

    id: int
    num_trials: int
    config: dict
    seed: int
    params: dict[str, np.ndarray]
    started_at: float
    seconds: float


# -- validation -------------------------------------------------------------------
def _json_dict(value: Any, name: str) -> tuple[str, dict]:
    """``(text, round-tripped dict)`` of a JSON-serialisable dict."""
    if not isinstance(value, Mapping):
        raise TypeError(f"{name} must be a dict, got {type(value).__name__}.")
    try:
        text = json.dumps(dict(value), sort_keys=True, allow_nan=False)
    except TypeError as err:
        raise TypeError(f"{name} must be JSON-serialisable: {err}.") from None
    except ValueError as err:
        raise ValueError(f"{name} must be JSON-serialisable: {err}.") from None
    return text, json.loads(text)


def _shorten(value: Any, width: int = 80) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= width else text[: width - 3] + "..."


def _stimuli(value: Any, name: str) -> np.ndarray:
    a = np.asarray(value)
    if a.dtype.kind not in "fiu":
        raise TypeError(f"{name} must be an array of real numbers, got dtype "
                        f"{a.dtype}.")
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"{name} must have shape (n, d) with n, d >= 1, got "
                         f"{a.shape}; for one trial pass shape (1, d).")
    a = a.astype(np.float64)
    bad = np.flatnonzero(~np.isfinite(a).all(axis=1))
    if bad.size:
        raise ValueError(f"{name} must be finite; rows {bad[:10].tolist()} hold NaN "
                         "or inf.")
    return a


def _integer(value: Any, name: str, *, minimum: int | None = 0) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an int, got {value!r}.")
    value = int(value)
    low = _INT64[0] if minimum is None else minimum
    if not low <= value <= _INT64[1]:
        raise ValueError(f"{name} must be an int in [{low}, 2**63 - 1], got {value}.")
    return value


def _real(value: Any, name: str, *, minimum: float | None = None) -> float:
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}.")
    value = float(value)
    if not math.isfinite(value) or (minimum is not None and value < minimum):
        at_least = "" if minimum is None else f" and >= {minimum}"
        raise ValueError(f"{name} must be finite{at_least}, got {value}.")
    return value


def _sources(value: Any, n: int) -> list[str]:
    items = [value] * n if isinstance(value, str) else value
    if not isinstance(items, Sequence | np.ndarray):
        raise TypeError(f"sources must be one of {SOURCES} or a sequence of them, got "
                        f"{type(value).__name__}.")
    items = list(items)
    if len(items) != n:
        raise ValueError(f"sources must hold one entry per trial ({n}), got "
                         f"{len(items)}.")
    bad = sorted({repr(s) for s in items if not (isinstance(s, str) and s in SOURCES)})
    if bad:
        raise ValueError(f"sources must be among {SOURCES}, got {', '.join(bad)}.")
    return [str(s) for s in items]


def _criteria(value: Any, n: int) -> list[float | None]:
    if value is None:
        return [None] * n
    if isinstance(value, str) or not isinstance(value, Sequence | np.ndarray):
        raise TypeError("criteria must be None or a sequence of numbers, got "
                        f"{type(value).__name__}.")
    items = list(np.asarray(value).ravel()) if isinstance(value, np.ndarray) else value
    if np.ndim(value) != 1 or len(items) != n:
        raise ValueError(f"criteria must hold one entry per trial ({n}), got shape "
                         f"{np.shape(value)}.")
    return [None if c is None else _real(c, f"criteria[{i}]")
            for i, c in enumerate(items)]


def _integers(value: Any, name: str, *, kinds: str) -> np.ndarray:
    a = np.asarray(value)
    if a.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, got shape {a.shape}.")
    if a.size and a.dtype.kind not in kinds:
        allowed = "ints" if kinds == "iu" else "ints or bools"
        hint = "; convert 0.0/1.0 with .astype(int)" if a.dtype.kind == "f" else ""
        raise TypeError(f"{name} must hold {allowed}, got dtype {a.dtype}{hint}.")
    return a.astype(np.int64)


def _params_blob(params: Any) -> bytes:
    """``params`` in ``np.savez`` format (any key names, no pickles)."""
    if not isinstance(params, Mapping):
        raise TypeError("params must be a dict of arrays, got "
                        f"{type(params).__name__}.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as archive:
        for key, value in params.items():
            if not isinstance(key, str) or not key:
                raise TypeError(f"params keys must be non-empty strings, got {key!r}.")
            array = np.asarray(value)
            if array.dtype.hasobject:
                raise TypeError(f"params[{key!r}] must be a numeric array, got dtype "
                                f"{array.dtype}.")
            with archive.open(key + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, array, allow_pickle=False)
    return buffer.getvalue()


def _load_params(blob: bytes) -> dict[str, np.ndarray]:
    with np.load(io.BytesIO(blob), allow_pickle=False) as archive:
        return {key: archive[key] for key in archive.files}


def _rollback(conn: sqlite3.Connection) -> None:
    """End the open transaction, if any, keeping none of it."""
    if conn.in_transaction:
        with contextlib.suppress(sqlite3.Error):  # the error being raised matters more
            conn.execute("ROLLBACK")


def _vector(text: str) -> np.ndarray:
    return np.asarray(json.loads(text), dtype=np.float64)


# -- the store --------------------------------------------------------------------
class SessionStore:
    """(Experimental) One adaptive-experiment session, kept in one SQLite file.

    Opening creates the file, or resumes it when ``identity`` matches the stored
    one. The store holds the file's lock until :meth:`close`.

    Parameters
    ----------
    path
        The session file; its folder must exist.
    identity
        JSON-serialisable dict that must match to resume (model configuration,
        seed, placement, ...). Its ``"input_dim"``, if any, fixes the stimulus
        dimension.
    settings
        JSON-serialisable dict stored when the file is created; ignored when
        resuming (``.settings`` is then the stored one).

    Attributes
    ----------
    path, created, identity, settings
        The file, whether this call created it, and the stored dicts.
    read_only
        True for a store from :meth:`open_read_only`, whose writes are refused.

    Raises
    ------
    SessionInUseError
        Another open store (in any process) holds the file.
    ValueError
        The folder is missing, the file is not a session file of this schema
        version, or the stored identity differs from ``identity``.
    """

    def __init__(self, path: str | os.PathLike, identity: dict,
                 settings: dict | None = None) -> None:
        identity_text, identity = _json_dict(identity, "identity")
        settings_text, settings = _json_dict({} if settings is None else settings,
                                             "settings")
        self.path = os.fspath(path)
        self.read_only = False
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ValueError(f"the folder of the session file does not exist: "
                             f"{folder!r}; create it first.")
        self._conn: sqlite3.Connection | None = None
        conn = sqlite3.connect(self.path, timeout=0, isolation_level=None)
        try:
            self.created, self.identity, self.settings = self._open(
                conn, identity_text, identity, settings_text, settings)
        except BaseException:
            conn.close()
            raise
        self._conn = conn

    @classmethod
    def open_read_only(cls, path: str | os.PathLike) -> SessionStore:
        """Open an existing session file to read it, with no identity to match.

        Nothing can be written through the store, and while it is open no
        session can open the file (SQLite's lock): read, then close it.
        :func:`~psyphy_numpyro.experiment.session.read_session` does both.

        Raises
        ------
        SessionInUseError
            An open session holds the file.
        ValueError
            There is no file at ``path``, or it is not a session file of this
            schema version.
        """
        store = cls.__new__(cls)
        store.path, store.read_only, store.created = os.fspath(path), True, False
        store._conn = None
        if not os.path.isfile(store.path):
            raise ValueError(f"path: there is no session file at {store.path!r}.")
        # Read-only by this class, not by SQLite: a read-write connection
        # removes the WAL files it opened when it closes, and folds a killed
        # session's WAL into the file as reopening the session would.
        conn = sqlite3.connect(store.path, timeout=0, isolation_level=None)
        try:
            with store._sqlite_errors():
                meta = store._stored_meta(conn, "BEGIN")
            if meta is None:
                raise ValueError(f"{store.path!r} is not a psyphy_numpyro session file "
                                 "(an empty SQLite file).")
            store.identity, store.settings = store._check_meta(meta, None)
        except BaseException:
            conn.close()
            raise
        store._conn = conn
        return store

    def _open(self, conn: sqlite3.Connection, identity_text: str, identity: dict,
              settings_text: str, settings: dict) -> tuple[bool, dict, dict]:
        with self._sqlite_errors():
            conn.execute("PRAGMA locking_mode=EXCLUSIVE")
            # Take the lock (held until close) and read in whatever journal mode
            # the file has, so that a file refused here is left as it was.
            meta = self._stored_meta(conn, "BEGIN EXCLUSIVE")
            if meta is not None:
                identity, settings = self._check_meta(meta, identity)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            if meta is None:
                with self._transaction(conn):
                    self._create(conn, identity_text, settings_text)
        return meta is None, identity, settings

    @contextlib.contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite's errors while opening, as SessionInUseError or ValueError."""
        where = f"{self.path!r}"
        try:
            yield
        except sqlite3.OperationalError as err:
            if "locked" in str(err):
                raise SessionInUseError(
                    f"the session file {where} is in use by another open session "
                    "(in this or another process); close the other session first."
                ) from None
            raise ValueError(f"cannot open the session file {where}: {err}.") from None
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{where} is not a psyphy_numpyro session file "
                             f"({err}).") from None

    def _stored_meta(self, conn: sqlite3.Connection, begin: str) -> dict | None:
        """The ``meta`` table's rows, read in one transaction; None for an empty file."""
        conn.execute(begin)
        try:
            tables = {row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            meta = self._read_meta(conn) if "meta" in tables else None
        finally:
            _rollback(conn)
        if tables and meta is None:
            raise ValueError(f"{self.path!r} is not a psyphy_numpyro session file "
                             "(an SQLite file without a readable 'meta' table).")
        return meta if tables else None

    @staticmethod
    def _read_meta(conn: sqlite3.Connection) -> dict | None:
        try:
            return dict(conn.execute("SELECT key, value FROM meta"))
        except sqlite3.OperationalError as err:
            if "locked" in str(err):
                raise
            return None  # a foreign table named meta

    def _create(self, conn: sqlite3.Connection, identity_text: str,
                settings_text: str) -> None:
        for statement in _SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)", [
            ("schema_version", json.dumps(SCHEMA_VERSION)),
            ("created_at", json.dumps(time.time())),
            ("identity", identity_text),
            ("settings", settings_text),
        ])

    def _check_meta(self, meta: dict, identity: dict | None) -> tuple[dict, dict]:
        """The stored ``(identity, settings)``, once the version and identity (unless
        None) match."""
        try:
            version = json.loads(meta["schema_version"])
            stored = json.loads(meta["identity"])
            settings = json.loads(meta["settings"])
        except (KeyError, TypeError, ValueError):
            raise ValueError(f"{self.path!r} is not a psyphy_numpyro session file "
                             "(its 'meta' table lacks schema_version, identity or "
                             "settings).") from None
        if version != SCHEMA_VERSION:
            raise ValueError(f"{self.path!r} has schema version {version!r}; this "
                             f"version of psyphy_numpyro reads version "
                             f"{SCHEMA_VERSION}.")
        if identity is not None and stored != identity:
            missing = object()

            def show(d: dict, key: str) -> str:
                return _shorten(d[key]) if key in d else "(none)"

            lines = [f"  {key}: stored {show(stored, key)} vs given "
                     f"{show(identity, key)}"
                     for key in sorted(set(stored) | set(identity))
                     if stored.get(key, missing) != identity.get(key, missing)]
            raise ValueError(
                f"{self.path!r} belongs to another session: its identity differs in\n"
                + "\n".join(lines)
                + "\nResume with the stored identity, or start a new session file.")
        return stored, settings

    # -- plumbing -----------------------------------------------------------------
    def close(self) -> None:
        """Close the file and release its lock (a second call does nothing)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> SessionStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise ValueError("the session store is closed.")
        return self._conn

    def _writable(self) -> sqlite3.Connection:
        conn = self._connection()
        if self.read_only:
            raise ValueError(f"the session file {self.path!r} was opened read-only "
                             "(SessionStore.open_read_only); nothing can be written.")
        return conn

    @contextlib.contextmanager
    def _transaction(self, conn: sqlite3.Connection | None = None
                     ) -> Iterator[sqlite3.Connection]:
        if conn is None:
            conn = self._connection()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise

    @property
    def input_dim(self) -> int | None:
        """The stimulus dimension fixed by ``identity["input_dim"]``, or None."""
        d = self.identity.get("input_dim")
        return d if isinstance(d, int) and not isinstance(d, bool) else None

    # -- trials -------------------------------------------------------------------
    def add_asked(self, refs: Any, probes: Any, *, proposal: int, sources: Any,
                  criteria: Any = None) -> list[int]:
        """Store asked trials in one transaction.

        Parameters
        ----------
        refs, probes
            Finite stimuli, shape ``(n, d)`` each (``d`` is ``identity["input_dim"]``
            when given).
        proposal
            Index (>= 0) of the proposal that asked them.
        sources
            One of :data:`SOURCES` for all trials, or a sequence of ``n`` of them.
        criteria
            None, or ``n`` entries, each a finite float or None (no value).

        Returns
        -------
        list[int]
            The new trials' ids, in the order given.
        """
        conn = self._writable()
        refs, probes = _stimuli(refs, "refs"), _stimuli(probes, "probes")
        if refs.shape != probes.shape:
            raise ValueError(f"refs and probes must have the same shape, got "
                             f"{refs.shape} and {probes.shape}.")
        n, d = refs.shape
        input_dim = self.input_dim
        if input_dim is not None and d != input_dim:
            raise ValueError(f"refs and probes must have {input_dim} columns (the "
                             f"session's input_dim), got {d}.")
        proposal = _integer(proposal, "proposal")
        sources = _sources(sources, n)
        criteria = _criteria(criteria, n)
        asked_at = time.time()
        ids = []
        with self._transaction(conn):
            for i in range(n):
                cursor = conn.execute(
                    "INSERT INTO trials (proposal, source, ref, probe, criterion, "
                    "asked_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (proposal, sources[i], json.dumps(refs[i].tolist()),
                     json.dumps(probes[i].tolist()), criteria[i], asked_at))
                ids.append(int(cursor.lastrowid))
        return ids

    def pending(self) -> list[AskedTrial]:
        """Trials asked and not yet answered, in id order."""
        rows = self._connection().execute(
            "SELECT id, proposal, source, ref, probe, criterion, asked_at FROM trials "
            "WHERE response IS NULL ORDER BY id")
        return [AskedTrial(i, p, s, _vector(r), _vector(q), c, a)
                for i, p, s, r, q, c, a in rows]

    def record_answers(self, ids: Any, responses: Any) -> None:
        """Store the answers to pending trials in one transaction.

        Parameters
        ----------
        ids
            Distinct ids of pending trials.
        responses
            0/1 ints or bools, one per id. Answers are numbered (``told_seq``) in
            the order given.
        """
        conn = self._writable()
        ids = _integers(ids, "ids", kinds="iu")
        values = _integers(responses, "responses", kinds="iub")
        if values.shape != ids.shape:
            raise ValueError(f"responses must hold one entry per id ({ids.size}), got "
                             f"{values.size}.")
        bad = sorted(set(np.asarray(responses)[(values != 0) & (values != 1)].tolist()))
        if bad:
            raise ValueError(f"responses must be 0 or 1, got {bad[:10]}.")
        unique, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise ValueError(f"ids must be distinct; repeated: "
                             f"{unique[counts > 1][:10].tolist()}.")
        if not ids.size:
            return
        told_at = time.time()
        with self._transaction(conn):
            known: dict[int, int | None] = {}
            for start in range(0, ids.size, 500):
                chunk = ids[start:start + 500].tolist()
                known.update(conn.execute(
                    f"SELECT id, response FROM trials WHERE id IN "
                    f"({', '.join('?' * len(chunk))})", chunk))
            problems = [f"no asked trial has id {i}" if i not in known
                        else f"trial {i} was already answered"
                        for i in ids.tolist() if i not in known or known[i] is not None]
            if problems:
                raise ValueError(f"ids: {'; '.join(problems[:10])}"
                                 f"{'; ...' if len(problems) > 10 else ''}.")
            (last,) = conn.execute(
                "SELECT COALESCE(MAX(told_seq), 0) FROM trials").fetchone()
            conn.executemany(
                "UPDATE trials SET response = ?, told_at = ?, told_seq = ? "
                "WHERE id = ?",
                [(int(r), told_at, last + k, int(i))
                 for k, (i, r) in enumerate(zip(ids, values, strict=True), start=1)])

    def answered(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Answered trials in the order they were told.

        Returns
        -------
        ids : (n,) int64
        refs, probes : (n, d) float64
        responses : (n,) int64
        """
        rows = self._connection().execute(
            "SELECT id, ref, probe, response FROM trials WHERE response IS NOT NULL "
            "ORDER BY told_seq").fetchall()
        if not rows:
            empty = np.empty((0, self.input_dim or 0))
            return np.empty(0, np.int64), empty, empty.copy(), np.empty(0, np.int64)
        ids, refs, probes, responses = zip(*rows, strict=True)
        return (np.asarray(ids, np.int64), np.stack([_vector(r) for r in refs]),
                np.stack([_vector(p) for p in probes]), np.asarray(responses, np.int64))

    def num_answered(self) -> int:
        """Number of answered trials."""
        return self._connection().execute(
            "SELECT COUNT(*) FROM trials WHERE response IS NOT NULL").fetchone()[0]

    def num_proposals(self) -> int:
        """One more than the highest stored proposal index (0 when none)."""
        return self._connection().execute(
            "SELECT COALESCE(MAX(proposal) + 1, 0) FROM trials").fetchone()[0]

    def source_counts(self) -> dict[str, int]:
        """Asked trials per source, every one of :data:`SOURCES` included."""
        rows = self._connection().execute(
            "SELECT source, COUNT(*) FROM trials GROUP BY source").fetchall()
        return {**dict.fromkeys(SOURCES, 0), **dict(rows)}

    def trial_rows(self) -> list[dict]:
        """Every trial row as a dict (stimuli as lists of floats), in id order."""
        rows = self._connection().execute(
            f"SELECT {', '.join(_TRIAL_COLUMNS)} FROM trials ORDER BY id")
        out = []
        for row in rows:
            record = dict(zip(_TRIAL_COLUMNS, row, strict=True))
            record["ref"], record["probe"] = (json.loads(record["ref"]),
                                              json.loads(record["probe"]))
            out.append(record)
        return out

    # -- refits -------------------------------------------------------------------
    def add_refit(self, *, num_trials: int, config: dict, seed: int, params: dict,
                  started_at: float, seconds: float) -> int:
        """Store a refit in one transaction and return its id.

        Parameters
        ----------
        num_trials
            Number of answers the refit used.
        config
            JSON-serialisable dict (the fitter's settings).
        seed
            The fit's random seed (a 64-bit signed int).
        params
            Name -> numeric array; read back exactly, dtypes included.
        started_at, seconds
            Start (Unix seconds) and run time (>= 0).
        """
        conn = self._writable()
        num_trials = _integer(num_trials, "num_trials")
        config_text, _ = _json_dict(config, "config")
        seed = _integer(seed, "seed", minimum=None)
        blob = _params_blob(params)
        started_at = _real(started_at, "started_at")
        seconds = _real(seconds, "seconds", minimum=0.0)
        with self._transaction(conn):
            cursor = conn.execute(
                "INSERT INTO refits (num_trials, config, seed, params, started_at, "
                "seconds) VALUES (?, ?, ?, ?, ?, ?)",
                (num_trials, config_text, seed, blob, started_at, seconds))
        return int(cursor.lastrowid)

    def refits(self) -> list[Refit]:
        """Every stored refit, in id order."""
        rows = self._connection().execute(
            "SELECT id, num_trials, config, seed, params, started_at, seconds "
            "FROM refits ORDER BY id")
        return [Refit(i, n, json.loads(c), s, _load_params(p), t, sec)
                for i, n, c, s, p, t, sec in rows]

    def last_refit(self) -> Refit | None:
        """The latest refit (highest id), or None."""
        row = self._connection().execute(
            "SELECT id, num_trials, config, seed, params, started_at, seconds "
            "FROM refits ORDER BY id DESC LIMIT 1").fetchone()
        if row is None:
            return None
        i, n, c, s, p, t, sec = row
        return Refit(i, n, json.loads(c), s, _load_params(p), t, sec)
