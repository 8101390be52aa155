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

import os
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DATA = Path(__file__).parent / "configs"  # templates and model configs shipped with tvig


def cache_dir() -> Path:
    """Where pretrained assets live: ``$TVIG_HOME``, ``$XDG_CACHE_HOME/tvig`` or ``~/.cache/tvig``.

    >>> import os; os.environ["TVIG_HOME"] = "/tmp/tvig-home"; str(cache_dir())
    '/tmp/tvig-home'
    """
    env = os.environ.get("TVIG_HOME")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "tvig"


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
