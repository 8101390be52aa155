"""The k shot images a notebook starts from: a class folder (or a sample class) and a seed.

Minimal on purpose: the detection benchmark's k-shot sampler (tvig.data) owns the protocol;
this only picks ``k`` files of ``<class>/train/good`` reproducibly for the tutorial notebooks.

Example:
    >>> folder = class_folder(None, "metal_nut", "/tmp/run")     # doctest: +SKIP
    >>> pick_shots(folder, k=1, seed=0)                          # doctest: +SKIP
    [PosixPath('/tmp/run/sample_data/metal_nut/train/good/006.png')]
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from .errors import ConfigError, InputError, choices_text
from .images import collect_image_paths


def class_folder(data_root: "str | os.PathLike[str] | None", category: str,
                 workdir: "str | os.PathLike[str]") -> Path:
    """``data_root/category``; with ``data_root=None`` the embedded sample class is written
    under ``workdir/sample_data`` (no network) and used instead."""
    if data_root is None:
        from .sample_data import SAMPLE_CLASSES, write_sample_class

        if category not in SAMPLE_CLASSES:
            raise ConfigError(choices_text("sample class", category, list(SAMPLE_CLASSES)) +
                              " (or set data_root to a dataset folder in the MVTec layout)")
        folder = Path(workdir) / "sample_data" / category
        if not (folder / "train" / "good").is_dir():
            write_sample_class(Path(workdir) / "sample_data", category)
        return folder
    folder = Path(data_root).expanduser() / category
    if not (folder / "train" / "good").is_dir():
        raise InputError(f"{folder / 'train' / 'good'} not found: data_root must hold "
                         f"<class>/train/good/ (MVTec layout); check data_root and category")
    return folder


def pick_shots(folder: "str | os.PathLike[str]", k: int, seed: int = 0) -> list[Path]:
    """``k`` images of ``folder/train/good``, chosen by ``seed`` (sorted for display)."""
    files = collect_image_paths(Path(folder) / "train" / "good")
    if not isinstance(k, int) or k < 1:
        raise ConfigError(f"shots must be a positive integer, got {k!r}")
    if k > len(files):
        raise InputError(f"asked for {k} shots but {folder}/train/good has only {len(files)} "
                         "images; lower shots")
    return sorted(random.Random(seed).sample(files, k))
