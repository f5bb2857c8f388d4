"""Downloads for the published data sets: OSF folder listings, whole files.

Private to :mod:`psyphy_numpyro.data.published`. Errors say what to do: a
missing folder or file raises ``FileNotFoundError``; no answer, an HTTP error
or a download cut short raises ``ConnectionError`` with the caller's hint on
copying the files by hand. A file is written under a temporary name and
renamed once complete (:func:`~psyphy_numpyro.data.atomic.atomic_path`).
"""

from __future__ import annotations

import http.client
import json
import os
import ssl
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from psyphy_numpyro.data.atomic import atomic_path


def _ssl_context() -> ssl.SSLContext:
    try:
        import certifi
    except ImportError:
        return ssl.create_default_context()
    return ssl.create_default_context(cafile=certifi.where())


def open_url(url: str, timeout: float, offline_hint: str, *,
             listing: bool = False) -> Any:
    """``urlopen(url)``, with this module's errors (see the module docstring)."""
    headers = {"Accept": "application/json"} if listing else {}
    request = urllib.request.Request(url, headers=headers)
    context = _ssl_context() if url.startswith("https:") else None
    try:
        return urllib.request.urlopen(request, timeout=timeout, context=context)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            raise FileNotFoundError(f"{url} does not exist (HTTP 404).") from None
        raise ConnectionError(
            f"{url} answered HTTP {err.code} ({err.reason}); try again later. "
            f"{offline_hint}"
        ) from None
    except urllib.error.URLError as err:
        if isinstance(err.reason, FileNotFoundError):
            raise FileNotFoundError(f"{url} does not exist.") from None
        raise ConnectionError(
            f"could not reach {url} ({err.reason}): fetch needs the internet. "
            f"{offline_hint}"
        ) from None
    except TimeoutError:
        raise ConnectionError(
            f"{url} did not answer within {timeout} s. {offline_hint}"
        ) from None


def _items(url: str, kind: str, timeout: float, hint: str) -> dict[str, dict]:
    """Entries of one kind ("file" or "folder") of an OSF folder, by name."""
    items: list[dict] = []
    while url:
        with open_url(url, timeout, hint, listing=True) as response:
            try:
                page = json.loads(response.read().decode("utf-8"))
            except ValueError:
                raise ConnectionError(
                    f"{url} did not answer with an OSF folder listing (JSON). {hint}"
                ) from None
        items += page.get("data") or []
        url = (page.get("links") or {}).get("next") or ""
    out = {}
    for item in items:
        attrs = item.get("attributes") or {}
        if attrs.get("kind") == kind and "name" in attrs:
            out[attrs["name"]] = item
    return out


def link(item: dict, *keys: str) -> str:
    """``item[keys[0]][keys[1]]...``: a URL in an OSF listing entry."""
    value: Any = item
    for key in keys:
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str) or not value:
        name = (item.get("attributes") or {}).get("name")
        raise ConnectionError(
            f"OSF's entry for {name!r} has no {'/'.join(keys)} link; the OSF API may "
            "have changed: download the files by hand."
        )
    return value


def folder_files(root: str, path: Sequence[str], timeout: float,
                 hint: str) -> dict[str, dict]:
    """The files of the OSF folder at ``path`` (folder names below ``root``)."""
    url, where = root, root
    for name in path:
        folders = _items(url, "folder", timeout, hint)
        if name not in folders:
            raise FileNotFoundError(
                f"{where} has no folder {name!r}; it has {sorted(folders)}. {hint}"
            )
        url = link(folders[name], "relationships", "files", "links", "related", "href")
        where = f"{where}/{name}"
    return _items(url, "file", timeout, hint)


def download(url: str, dest: Path, size: int | None, timeout: float, hint: str,
             verbose: bool) -> None:
    """Download ``url`` to ``dest`` via a temporary file; check the size if known."""
    if verbose:
        print(f"  downloading {dest.name}" + (f" ({size:,} bytes)" if size else ""))
    dest.parent.mkdir(parents=True, exist_ok=True)

    def write(tmp: str) -> None:
        with open_url(url, timeout, hint) as response, open(tmp, "wb") as out:
            while True:
                try:
                    chunk = response.read(1 << 20)
                except (OSError, http.client.HTTPException) as err:
                    raise ConnectionError(
                        f"the download of {dest.name} broke off ({err!r}); run fetch "
                        "again."
                    ) from None
                if not chunk:
                    break
                out.write(chunk)
        got = os.path.getsize(tmp)
        if size is not None and got != size:
            raise ConnectionError(
                f"the download of {dest.name} stopped after {got:,} of {size:,} bytes; "
                "run fetch again."
            )

    atomic_path(dest, write)
