"""The k shot images a notebook starts from: a class folder (or a sample class) and a seed.

Every notebook and the detection benchmark choose shots with the same rule
(:func:`tvig.detection.datasets.choose_files`), so notebook 01's prompt, notebook 02/03's generated set
and notebook 04's real training set all come from the *same* k images for a given seed.

Example:
    >>> folder = class_folder(None, "metal_nut", "/tmp/run")     # doctest: +SKIP
    >>> pick_shots(folder, k=1, seed=0)                          # doctest: +SKIP
    [PosixPath('/tmp/run/sample_data/metal_nut/train/good/006.png')]
    >>> x, files, notes = load_shots(None, "metal_nut", 1, 64, seed=0, workdir="/tmp/run")  # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

import torch

from tvig.detection.datasets import choose_files, train_dir
from tvig.detection.sample_data import SAMPLE_CLASSES, write_sample_class
from tvig.errors import ConfigError, InputError, choices_text
from tvig.images import list_images, load_images, notes_text


def class_folder(data_root: "str | os.PathLike[str] | None", category: str,
                 workdir: "str | os.PathLike[str]") -> Path:
    """``data_root/category``; with ``data_root=None`` the embedded sample class is written
    under ``workdir/sample_data`` (no network) and used instead."""
    if data_root is None:

        if category not in SAMPLE_CLASSES:
            raise ConfigError(choices_text("sample class", category, list(SAMPLE_CLASSES)) +
                              " (or set data_root to a dataset folder in the MVTec layout)")
        folder = Path(workdir) / "sample_data" / category
        if not (folder / "train" / "good").is_dir():
            write_sample_class(Path(workdir) / "sample_data", category)
        return folder

    root = Path(data_root).expanduser()
    folder = root / category
    if train_dir(folder) is None:
        found = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
        raise InputError(f"{folder / 'train' / 'good'} not found or empty: data_root must hold "
                         f"<class>/train/good/ (MVTec layout; train/ok for BTAD); classes found "
                         f"under {root}: {', '.join(found) or 'none'}")
    return folder


def pick_shots(folder: "str | os.PathLike[str]", k: int, seed: int = 0) -> list[Path]:
    """``k`` images of ``folder/train/good`` (``train/ok`` for BTAD), chosen by ``seed`` with the benchmark's rule."""

    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ConfigError(f"shots must be a positive integer, got {k!r}")
    good = train_dir(folder)
    if good is None:
        raise InputError(f"no good training images in {Path(folder) / 'train' / 'good'} "
                         "(or train/ok)")
    return choose_files(list_images(good), k, seed)


def load_shots(data_root: "str | os.PathLike[str] | None", category: str, k: int, size: int, *,
               seed: int = 0, workdir: "str | os.PathLike[str]",
               ) -> tuple[torch.Tensor, list[Path], list[str]]:
    """-> ((k, 3, size, size) in [0, 1], their paths, conversion notes)."""
    files = pick_shots(class_folder(data_root, category, workdir), k, seed)
    x, infos = load_images(files, size=size)
    return x, files, notes_text(infos)
