"""Fingerprints: a short hash of everything a unit's result depends on.

A unit's folder is named by the fingerprint of its inputs (canonical JSON: sorted keys, no
floats printed two ways), so a changed input lands in a new folder and can never reuse an
old result. Data folders are fingerprinted by their file list with sizes and sha256 (cached
per process by path, size and mtime) and their resolved path.

Example:
    >>> fingerprint({"b": 1, "a": [1, "x"]}) == fingerprint({"a": [1, "x"], "b": 1})
    True
    >>> len(fingerprint({"a": 1}))
    16
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from tvig.detection.provenance import sha256_file

_SHA_CACHE: dict[tuple[str, int, int], str] = {}


def canonical(obj: Any) -> str:
    """One JSON text per value: sorted keys, tuples as lists, paths as strings."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


def fingerprint(inputs: Any) -> str:
    """16 hex digits of the sha256 of :func:`canonical` ``inputs``."""
    return hashlib.sha256(canonical(inputs).encode()).hexdigest()[:16]


def file_sha256(path: "str | os.PathLike[str]") -> str:
    """sha256 of a file, cached by (path, size, mtime) for this process."""
    st = os.stat(path)
    key = (str(Path(path).resolve()), st.st_size, st.st_mtime_ns)
    if key not in _SHA_CACHE:
        _SHA_CACHE[key] = sha256_file(path)
    return _SHA_CACHE[key]


def folder_fingerprint(folder: "str | os.PathLike[str]", *, subdirs: tuple[str, ...] = ()) -> dict:
    """{path, n_files, hash} of every file under ``folder`` (or only its ``subdirs``): the
    list of relative names with their sizes and sha256s, hashed."""
    folder = Path(folder).resolve()
    roots = [folder / s for s in subdirs] if subdirs else [folder]
    files = sorted(p for r in roots if r.is_dir() for p in r.rglob("*") if p.is_file())
    listing = [(str(p.relative_to(folder)), p.stat().st_size, file_sha256(p)) for p in files]
    return {"path": str(folder), "n_files": len(listing), "hash": fingerprint(listing)}


__all__ = ["canonical", "fingerprint", "file_sha256", "folder_fingerprint"]
