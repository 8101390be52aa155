"""Where one run's artefacts live, so notebooks and CLI commands can hand work to each other.

A run folder is ``OUT/<dataset>/<category>/`` (see :func:`run_dir`). Notebook 01 writes the
selected prompt, 02 the learned latent distribution, 03 the generated set, 04 the detection
results; each reads what the previous one wrote through these names.

Example:
    >>> from tvig.paths import RunPaths
    >>> rp = RunPaths("runs/sample/brick")
    >>> rp.prompt_json.name, rp.generated_dir.name
    ('prompt.json', 'generated')
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tvig.errors import InputError

PACKAGE_DATA = Path(__file__).parent / "configs"  # templates and model configs shipped with tvig


def cache_dir() -> Path:
    """Where pretrained assets live: ``$TVIG_HOME``, ``$XDG_CACHE_HOME/tvig`` or ``~/.cache/tvig``.

    >>> from unittest import mock
    >>> with mock.patch.dict("os.environ", {"TVIG_HOME": "/tmp/tvig-home"}):
    ...     str(cache_dir())
    '/tmp/tvig-home'
    """
    env = os.environ.get("TVIG_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tvig"


_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7E]+$")  # what anomalib's path check accepts


def ascii_path(path: "str | os.PathLike[str]") -> Path:
    """``path`` itself when it is printable ASCII, else a symlink to it with an ASCII name in
    the temp folder (``tvig-links/<hash>``): anomalib refuses folders with other characters
    ("Path contains non-printable characters"), the files inside may have any name.

    >>> ascii_path("/data/bottle") == Path("/data/bottle")
    True
    >>> import tempfile; d = Path(tempfile.mkdtemp()) / "Prüfteil"; d.mkdir()
    >>> link = ascii_path(d); link.name.isascii(), link.resolve() == d.resolve()
    (True, True)
    """
    path = Path(path)
    if _PRINTABLE_ASCII.match(str(path)):
        return path
    base = Path(tempfile.gettempdir()) / "tvig-links"
    if not _PRINTABLE_ASCII.match(str(base)):
        raise InputError(f"{path} has non-ASCII characters, which anomalib refuses, and the temp "
                         f"folder {base.parent} is not ASCII either; rename the folder or set "
                         "TMPDIR to an ASCII path")
    target = Path(os.path.abspath(path))
    link = base / hashlib.sha1(str(target).encode()).hexdigest()[:16]
    if not (link.is_symlink() and Path(os.readlink(link)) == target):
        base.mkdir(parents=True, exist_ok=True)
        tmp = base / f".tmp-{os.getpid()}-{link.name}"
        tmp.unlink(missing_ok=True)
        os.symlink(target, tmp, target_is_directory=True)
        os.replace(tmp, link)  # atomic: concurrent runs agree on the same link
    return link


def run_dir(out: "str | Path", dataset: str, category: str) -> Path:
    return Path(out) / dataset / category


@dataclass(frozen=True)
class RunPaths:
    root: Path

    def __init__(self, root: "str | Path") -> None:
        object.__setattr__(self, "root", Path(root))

    @property
    def prompt_json(self) -> Path:  # notebook 01 / `tvig prompts`: selected prompt + ranking
        return self.root / "prompt.json"

    @property
    def latent_pt(self) -> Path:  # notebook 02: final (mu, sigma) of the generator
        return self.root / "latent.pt"

    @property
    def generated_dir(self) -> Path:  # notebook 03 / `tvig generate`: images/ + manifest.csv
        return self.root / "generated"

    @property
    def detection_dir(self) -> Path:  # notebook 04 / `tvig detect`: results.csv, figures
        return self.root / "detection"

    @property
    def figures_dir(self) -> Path:
        return self.root / "figures"

    def figure(self, notebook: str, name: str) -> Path:
        """``figures/<notebook>_<name>.png``: where a notebook saves a figure it shows."""
        return self.figures_dir / f"{notebook}_{name}.png"
