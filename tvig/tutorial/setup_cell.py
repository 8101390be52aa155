"""The tutorial notebooks as files: where they are, their standard Colab/Binder setup cell, badges.

Every notebook's first code cell is :func:`colab_setup_cell` (pasted verbatim): on Colab or
Binder it installs tvig when it is missing, and on Colab the WordNet 3.0 Debian packages;
on a machine where tvig is installed it does nothing. The repository URL is one placeholder,
:data:`REPO`, used by the setup cell and by the "Open in Colab" / Binder badges.

Example:
    >>> from tvig.tutorial.setup_cell import colab_setup_cell, SETUP_MARKER
    >>> colab_setup_cell().splitlines()[0] == SETUP_MARKER
    True
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from tvig.errors import InputError

# ---- the ONE placeholder for where tvig is published (change it here only) ------------------
REPO = "ORG/tvig"  # PLACEHOLDER: GitHub "owner/name" of the published repository
BRANCH = "main"
REPO_URL = f"https://github.com/{REPO}"
PIP_SPEC = f"tvig @ git+{REPO_URL}"

SETUP_MARKER = "# tvig setup (Colab / Binder): installs tvig when it is missing; no-op locally"

NOTEBOOKS_DIR = Path(__file__).resolve().parents[2] / "notebooks"  # the repository's notebooks/
_NAME = re.compile(r"^(\d\d)_[A-Za-z0-9_]+$")


def colab_setup_cell() -> str:
    """Source of the standard first code cell of every notebook (paste it verbatim)."""
    return f'''{SETUP_MARKER}
import importlib.util, os, subprocess, sys
if importlib.util.find_spec("tvig") is None:
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "{PIP_SPEC}"], check=True)
on_colab = "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ
if on_colab and not os.path.exists("/usr/share/wordnet/data.noun"):
    subprocess.run(["apt-get", "update", "-qq"], check=False)
    subprocess.run(["apt-get", "install", "-y", "-qq", "wordnet-base", "wordnet-sense-index"], check=True)'''


def colab_url(notebook: str) -> str:
    """'Open in Colab' link for ``notebooks/<notebook>.ipynb`` of :data:`REPO`."""
    return f"https://colab.research.google.com/github/{REPO}/blob/{BRANCH}/notebooks/{notebook}.ipynb"


def binder_url(notebook: str | None = None) -> str:
    """Binder link for the repository, opening ``notebooks/<notebook>.ipynb`` in JupyterLab."""
    url = f"https://mybinder.org/v2/gh/{REPO}/{BRANCH}"
    return url + (f"?labpath=notebooks%2F{notebook}.ipynb" if notebook else "")


def badges_markdown(notebook: str) -> str:
    """Markdown for the two badges of one notebook."""
    return (f"[![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook)}) "
            f"[![Binder](https://mybinder.org/badge_logo.svg)]({binder_url(notebook)})")


@dataclass(frozen=True)
class NotebookFile:
    """One tutorial notebook: ``stem`` like ``01_prompting``; ``ipynb`` and/or ``py`` exist."""

    stem: str
    folder: Path

    @property
    def key(self) -> str:  # "01"
        return self.stem[:2]

    @property
    def ipynb(self) -> Path:
        return self.folder / f"{self.stem}.ipynb"

    @property
    def py(self) -> Path:
        return self.folder / f"{self.stem}.py"


def find_notebooks(folder: "str | Path | None" = None) -> list[NotebookFile]:
    """The numbered notebooks (``NN_name.ipynb`` or ``NN_name.py``) in ``folder``, in order."""
    folder = Path(folder) if folder else NOTEBOOKS_DIR
    stems = {p.stem for p in folder.glob("[0-9][0-9]_*") if p.suffix in (".ipynb", ".py")
             and _NAME.match(p.stem)} if folder.is_dir() else set()
    return [NotebookFile(s, folder) for s in sorted(stems)]


def select_notebooks(found: list[NotebookFile], keys: "list[str] | None") -> list[NotebookFile]:
    """Keep the notebooks named by ``keys`` ("01", "1", or a full stem); all when ``keys`` is empty."""
    if not keys:
        return found
    by_key = {nb.key: nb for nb in found} | {nb.stem: nb for nb in found}
    out = []
    for k in keys:
        k = str(k)
        nb = by_key.get(k.zfill(2) if k.isdigit() else k)
        if nb is None:
            raise InputError(f"no notebook {k!r}; available: "
                             f"{', '.join(nb.stem for nb in found) or '(none)'}")
        out.append(nb)
    return sorted(set(out), key=lambda n: n.stem)
