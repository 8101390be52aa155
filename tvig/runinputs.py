"""What a notebook or command needs before generating: the k shots and the prompt.

- :func:`load_shots`: the first ``k`` images of ``<data_root>/<category>/train/good`` (MVTec
  layout), or of an embedded sample class written on the fly when ``data_root`` is None.
- :func:`resolve_prompt`: an explicit prompt, else notebook 01's ``prompt.json`` in the run
  folder, else the fallback "a photo of a {keyword}".

Example:
    >>> x, paths, notes = load_shots(None, "metal_nut", 1, 64, workdir="/tmp/tvig")  # doctest: +SKIP
    >>> resolve_prompt(RunPaths("/tmp/none"), "metal_nut")
    ('a photo of a metal nut', 'fallback (no prompt.json from notebook 01)')
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .errors import InputError
from .paths import RunPaths

FALLBACK_TEMPLATE = "a photo of a {keyword}"


def keyword_of(category: str) -> str:
    """``metal_nut`` -> ``metal nut``."""
    return category.replace("_", " ").strip()


def load_shots(data_root: "str | Path | None", category: str, k: int, size: int, *,
               workdir: "str | Path") -> tuple[torch.Tensor, list[Path], list[str]]:
    """-> ((k, 3, size, size) in [0, 1], their paths, conversion notes).

    ``data_root`` None writes the embedded sample class ``category`` under
    ``workdir/sample_data`` first (no network).
    """
    from .images import load_images, notes_text

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise InputError(f"shots must be a positive integer, got {k!r}")
    if data_root is None:
        from .sample_data import write_sample_data

        root = Path(workdir) / "sample_data"
        if not (root / category / "train" / "good").is_dir():
            write_sample_data(root, [category])
    else:
        root = Path(data_root).expanduser()
    good = root / category / "train" / "good"
    if not good.is_dir():
        found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"no {good} (expected the MVTec layout <root>/<category>/train/good); "
                         f"categories found under {root}: {', '.join(found) or 'none'}")
    files = sorted(p for p in good.iterdir() if p.is_file())
    if len(files) < k:
        raise InputError(f"{good} has {len(files)} image(s), fewer than shots={k}")
    x, infos = load_images(files[:k], size=size)
    return x, files[:k], notes_text(infos)


def resolve_prompt(run: RunPaths, category: str, prompt: str | None = None) -> tuple[str, str]:
    """-> (prompt, where it came from)."""
    if prompt:
        return prompt, "parameter"
    if run.prompt_json.is_file():
        try:
            p = json.loads(run.prompt_json.read_text())["prompt"]
            if isinstance(p, str) and p.strip():
                return p, f"notebook 01 ({run.prompt_json})"
        except (ValueError, KeyError, TypeError):
            pass
        return (FALLBACK_TEMPLATE.format(keyword=keyword_of(category)),
                f"fallback ({run.prompt_json} is unreadable; rerun notebook 01)")
    return (FALLBACK_TEMPLATE.format(keyword=keyword_of(category)),
            "fallback (no prompt.json from notebook 01)")
