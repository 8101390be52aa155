"""EfficientAd without downloads behind the user's back.

anomalib's EfficientAd fetches its pretrained teacher and ImageNette at fit start whenever
they are not on disk. This subclass changes only that: with no teacher on disk it keeps the
randomly initialised teacher (scores meaningless, said loudly), and it reads ImageNette from
``imagenet_dir``, which :func:`imagenette_dir` points at a small stand-in ImageFolder of the
run's own training images when the real one is absent. Training and scoring are anomalib's.

Example:
    >>> d, real = imagenette_dir(None, train_files, run_dir)   # doctest: +SKIP
"""

from __future__ import annotations

import os
from pathlib import Path

from tvig.images import link_files

STANDIN_NOTE = ("!! efficient_ad: ImageNette not found -> stand-in ImageFolder made of the "
                "run's training images ({path}); the teacher-student penalty term is not the "
                "paper's. Put ImageNette there (or set TVIG_IMAGENETTE) for real numbers.")


def imagenette_dir(imagenet_dir: "str | os.PathLike[str] | None", train_files: list[Path],
                   run_dir: Path) -> tuple[Path, bool]:
    """(folder, is_real): ImageNette if present, else a stand-in ImageFolder in ``run_dir``."""

    candidates = [imagenet_dir, os.environ.get("TVIG_IMAGENETTE"), "datasets/imagenette"]
    for c in candidates:
        if c and Path(c).expanduser().is_dir():
            return Path(c).expanduser(), True
    standin = run_dir / "imagenette_standin"
    link_files(train_files, standin / "standin", prefix="n_")
    return standin, False


def _offline_class():
    """anomalib's EfficientAd, minus the download of its teacher when offline."""
    # heavy: anomalib + Lightning take ~10 s to import
    from anomalib.models import EfficientAd

    class OfflineEfficientAd(EfficientAd):
        """EfficientAd that never downloads: random teacher when its weights are missing."""

        def __init__(self, *args, use_pretrained_teacher: bool = True, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self.use_pretrained_teacher = use_pretrained_teacher

        def prepare_pretrained_model(self) -> None:
            if self.use_pretrained_teacher:  # else: keep the random teacher (run said so)
                super().prepare_pretrained_model()

    return OfflineEfficientAd


def efficient_ad(kwargs: dict, use_teacher: bool, imagenet_dir: "str | Path | None", **common):
    """An offline-safe anomalib EfficientAd (see the module docstring)."""
    if imagenet_dir is None:
        raise ValueError("efficient_ad needs imagenet_dir (see imagenette_dir)")
    return _offline_class()(imagenet_dir=imagenet_dir, use_pretrained_teacher=use_teacher,
                              **kwargs, **common)
