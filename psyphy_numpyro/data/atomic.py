"""Atomic file writes: a whole new file or the old one, never a torn one.

Every writer of the package (CSV logs, saved fits) writes a temporary file in
the target's folder, flushes it to disk, and renames it over the target in one
step. A process killed meanwhile leaves the old file as it was and, at most, a
temporary file named ``.<name>.<pid>.partial``, which readers refuse by name.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from typing import IO, Any

__all__ = ["PARTIAL", "atomic_file", "atomic_path", "check_not_partial", "is_partial"]

PARTIAL = ".partial"
"""Suffix of the temporary files of an unfinished write."""

_PARTIAL_NAME = re.compile(r"^\..+\.\d+\.partial$")


def is_partial(path: str | os.PathLike) -> bool:
    """True for the name of a temporary file of an unfinished write."""
    return bool(_PARTIAL_NAME.match(os.path.basename(os.fspath(path))))


def check_not_partial(path: str | os.PathLike, what: str) -> None:
    """Refuse to read the temporary file of an unfinished write."""
    if is_partial(path):
        raise ValueError(
            f"{os.fspath(path)!r} is the temporary file of a {what} write that did not "
            "finish (the process was stopped); it is incomplete. Read the file without "
            f"'.<pid>{PARTIAL}' instead, and delete this one."
        )


def _temporary(path: str) -> str:
    folder, name = os.path.split(os.path.abspath(path))
    return os.path.join(folder, f".{name}.{os.getpid()}{PARTIAL}")


def _sync_folder(folder: str) -> None:
    with contextlib.suppress(OSError):  # not every file system syncs folders
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def _replacing(path: str) -> Iterator[str]:
    """Yield a temporary path; once the block finishes, fsync it and rename it to ``path``."""
    tmp = _temporary(path)
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    _sync_folder(os.path.dirname(os.path.abspath(path)))


def atomic_path(path: str | os.PathLike, write: Callable[[str], Any]) -> str:
    """Call ``write(temporary_path)``, then move the finished file to ``path``."""
    path = os.fspath(path)
    with _replacing(path) as tmp:
        write(tmp)
    return path


@contextlib.contextmanager
def atomic_file(path: str | os.PathLike, **open_kwargs: Any) -> Iterator[IO]:
    """``open(path, "w", ...)`` that replaces ``path`` only once the block finishes."""
    with _replacing(os.fspath(path)) as tmp, open(tmp, "w", **open_kwargs) as f:
        yield f
