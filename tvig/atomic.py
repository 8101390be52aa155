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

import yaml

from tvig.errors import InputError

try:
    import fcntl  # POSIX advisory locks: released by the kernel when the process dies
except ImportError:  # Windows: no lock (a second writer is not detected there)
    fcntl = None

TMP_PREFIX = ".tvig-tmp-"
LOCK_NAME = ".tvig.lock"  # in an output folder while a run writes there
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


def check_writable(folder: "str | os.PathLike[str]", option: str = "--out") -> Path:
    """Refuse an output folder that cannot be written, before any long work; creates nothing.

    The folder (or its first existing parent) must be a folder, and a file must be creatable
    there (a probe file is made and removed at once: read-only mounts and permissions both show).

    >>> import tempfile; f = Path(tempfile.mkdtemp()) / "a.txt"; f.write_text("x")
    1
    >>> check_writable(f / "sub")
    Traceback (most recent call last):
    tvig.errors.InputError: output folder ... is under a file: ...a.txt is a file, not a folder; choose another --out
    """
    folder = Path(folder).expanduser()
    probe = folder
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        where = "is a file" if probe == folder else f"is under a file: {probe} is a file"
        raise InputError(f"output folder {folder} {where}, not a folder; choose another "
                         f"{option}")
    try:
        fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX, dir=probe)
    except OSError as e:
        raise InputError(f"output folder {folder} is not writable ({probe}: "
                         f"{e.strerror or e}); choose another {option} or fix its "
                         "permissions") from None
    os.close(fd)
    os.unlink(tmp)
    return folder


@contextlib.contextmanager
def claim(folder: "str | os.PathLike[str]", option: str = "--out") -> Iterator[Path]:
    """Hold ``folder/.tvig.lock`` for the block: a second writer to the same folder exits with
    one line instead of racing this one. The kernel drops the lock if the process dies, so a
    killed run never leaves a stale claim; the file is removed on exit.

    >>> import tempfile; d = Path(tempfile.mkdtemp())
    >>> with claim(d):
    ...     with claim(d): pass
    Traceback (most recent call last):
    tvig.errors.InputError: another tvig run is writing to ... (pid ...); wait for it to finish or choose another --out
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    lock = folder / LOCK_NAME
    if fcntl is None:
        yield folder
        return
    while True:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o666 & ~_UMASK)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise InputError(f"another tvig run is writing to {folder} (pid {holder}, lock "
                             f"{lock}); wait for it to finish or choose another {option}"
                             ) from None
        try:  # the holder before us may have removed the file after we opened it: retry
            same = os.fstat(fd).st_ino == os.stat(lock).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield folder
    finally:
        with contextlib.suppress(FileNotFoundError):
            lock.unlink()
        os.close(fd)


def read_yaml_mapping(path: "str | os.PathLike[str]", what: str) -> dict[str, Any]:
    """A YAML file that must hold a mapping (``what``: how the error names it), read safely;
    a missing file, bad YAML or a non-mapping is one :class:`InputError` naming the file.

    >>> write_text("exp.yaml", "shots: [1, 5]")
    >>> read_yaml_mapping("exp.yaml", "experiment file")
    {'shots': [1, 5]}
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{what} not found: {path}")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{what} {path} is not valid YAML: {str(e).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise InputError(f"{what} {path} must hold a mapping (key: value), got "
                         f"{type(data).__name__}")
    return data
