"""Atomic file writes: a file either exists complete or not at all.

Every output tvig writes goes through here (temp file in the same folder + ``os.replace``),
so an interrupted run (Ctrl-C, SIGKILL, pre-emption) never leaves a half-written file.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> write_text(d / "a.txt", "hello")
    >>> (d / "a.txt").read_text()
    'hello'
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Mapping, Sequence

TMP_PREFIX = ".tvig-tmp-"
_UMASK = os.umask(0)
os.umask(_UMASK)


@contextlib.contextmanager
def atomic_open(path: "str | os.PathLike[str]", mode: str = "wb") -> Iterator[IO[Any]]:
    """Open a temp file next to ``path``; on success fsync and rename it onto ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, suffix=path.suffix, dir=path.parent)
    try:
        with os.fdopen(fd, mode, **({} if "b" in mode else {"encoding": "utf-8", "newline": ""})) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_bytes(path: "str | os.PathLike[str]", data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def write_text(path: "str | os.PathLike[str]", text: str) -> None:
    with atomic_open(path, "w") as f:
        f.write(text)


def write_json(path: "str | os.PathLike[str]", obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_csv(path: "str | os.PathLike[str]") -> list[dict[str, str]]:
    """Rows of a CSV file as dicts ([] when the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def write_csv(path: "str | os.PathLike[str]", rows: Sequence[Mapping[str, Any]],
              fields: Sequence[str] | None = None) -> None:
    """Write rows as a CSV atomically; columns ``fields`` (default: the keys in first-seen
    order), missing values empty, extra keys ignored. Quoting is csv's, so any text is safe."""
    if fields is None:
        fields = []
        for r in rows:
            fields += [k for k in r if k not in fields]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), restval="", extrasaction="ignore",
                       lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    write_text(path, buf.getvalue())


def append_csv_rows(path: "str | os.PathLike[str]", rows: Sequence[Mapping[str, Any]]) -> None:
    """Append rows to a CSV atomically (rewrite + rename); new columns are added at the end.

    Slower than a plain append but a reader never sees a torn line, and a crash between
    two calls loses nothing already written.
    """
    old = read_csv(path)
    write_csv(path, [*old, *rows])


def clean_temp_files(folder: "str | os.PathLike[str]") -> int:
    """Remove temp files an interrupted run left in ``folder``; returns how many."""
    n = 0
    for p in Path(folder).glob(TMP_PREFIX + "*"):
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
            n += 1
    return n


def sha256_file(path: "str | os.PathLike[str]", chunk: int = 1 << 20) -> str:
    """The hex sha256 of a file, read in chunks (weights, shots and data files alike).

    >>> write_text("hello.txt", "hello")
    >>> sha256_file("hello.txt")[:12]
    '2cf24dba5fb0'
    """
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
