"""Which shots a generated set was made from, and whether a detection run may use it.

A set made from other images than a run's k shots leaks: "1-shot + generated" would have seen
images made from eight real ones. ``tvig generate`` records the shots (file name, sha256) in
every manifest row (:mod:`tvig.integrator.writer`); :func:`check_generated_shots` compares them
with the run's shots by sha256 and refuses a mismatch unless it is allowed (then the result
row says so).

Example:
    >>> import hashlib, json, pathlib, tempfile
    >>> d = pathlib.Path(tempfile.mkdtemp()); shot = d / "006.png"
    >>> _ = shot.write_bytes(b"x")
    >>> h = hashlib.sha256(b"x").hexdigest()
    >>> from tvig import atomic
    >>> atomic.write_csv(d / "gen" / "manifest.csv", [{"shots": json.dumps([["006.png", h]])}])
    >>> check_generated_shots(d / "gen", [shot])
    'same'
    >>> check_generated_shots(d / "gen", [d / "gen" / "manifest.csv"])  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tvig.errors.InputError: generated set ... was made from shots 006.png, but this run's shots are manifest.csv (by sha256); generate from this run's shots or pass --allow-other-shots
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Sequence

from tvig import atomic
from tvig.errors import InputError

SAME, OTHER, UNKNOWN = "same", "other (allowed)", "unknown (allowed)"


def sha256_file(path: "str | os.PathLike[str]") -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def generated_shots(folder: "str | os.PathLike[str]") -> list[tuple[str, str]] | None:
    """(file name, sha256) of the shots a generated set names, or None without a manifest
    (``folder`` may be the set or its ``images/`` folder)."""
    folder = Path(folder).expanduser()
    if not (folder / "manifest.csv").is_file() and folder.name == "images":
        folder = folder.parent
    rows = atomic.read_csv(folder / "manifest.csv")
    if not rows or not rows[0].get("shots"):
        return None
    return [(str(n), str(h)) for n, h in json.loads(rows[0]["shots"])]


def check_generated_shots(folder: "str | os.PathLike[str]", shots: Sequence[Path], *,
                          allow_other: bool = False) -> str:
    """``same`` when ``folder``'s manifest names exactly ``shots`` (by sha256, any order);
    otherwise an :class:`InputError` naming both, or (``allow_other``) the note for the row."""
    named = generated_shots(folder)
    ours = sorted(sha256_file(s) for s in shots)
    if named is not None and sorted(h for _, h in named) == ours:
        return SAME
    if allow_other:
        return UNKNOWN if named is None else OTHER
    theirs = "no shots (no manifest.csv with a shots column)" if named is None else \
        "shots " + ", ".join(n for n, _ in named)
    raise InputError(f"generated set {folder} was made from {theirs}, but this run's shots "
                     f"are {', '.join(Path(s).name for s in shots)} (by sha256); generate from "
                     "this run's shots or pass --allow-other-shots")


def set_columns(folder: "str | os.PathLike[str]", shots: Sequence[Path], *,
                allow_other: bool = False) -> dict[str, Any]:
    """The columns a "+generated" result row gets from its set: which shots made it (checked,
    see :func:`check_generated_shots`) and, when the set has its quality report, its CLIP
    similarity to the shots and its diversity (the paper's Fig. 2 analysis)."""
    note = check_generated_shots(folder, shots, allow_other=allow_other)
    folder = Path(folder).expanduser()
    base = folder.parent if folder.name == "images" else folder
    rep = json.loads((base / "report.json").read_text()) if (base / "report.json").is_file() \
        else {}
    return {"generated_shots": note, "similarity": rep.get("mean_similarity", ""),
            "diversity": rep.get("diversity", "")}


__all__ = ["set_columns", "check_generated_shots", "generated_shots", "sha256_file", "SAME", "OTHER",
           "UNKNOWN"]
