"""The three training sets of the detection protocol, built in a run folder.

(a) ``real``: the k real shots. (b) ``generated``: the shots + a generated set (any folder of
images; a ``tvig generate`` folder with ``images/`` works as is). (c) ``augmented``: the
shots + classical augmentations of the *same* shots, as many as (b) adds: the honest control
that tells whether generation beats flips and crops. The control uses the class's
status-consistent augmentations (:mod:`tvig.augmentations`), the very rules the generator's
sigma_0 uses: no mirrored metal nut, no rearranged LOCO box.

Example:
    >>> from tvig.detection.training_sets import build_training_set
    >>> ts = build_training_set("augmented", shots, "/tmp/run", n_extra=16, seed=0)  # doctest: +SKIP
    >>> ts.normal_dirs, ts.n_real, ts.n_extra                                         # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import torch

from tvig import atomic
from tvig.augmentations import Augmenter, AugmentRules, rules_for
from tvig.errors import InputError, choices_text
from tvig.images import link_files, list_images, load_images, open_image, save_png
from tvig.integrator.writer import IMAGES_DIR, MANIFEST
from tvig.seeding import seeded

TRAIN_SETS = ("real", "generated", "augmented")


MAX_SIZE = 512  # augmented images are written at min(shot side, MAX_SIZE) px


@dataclass
class TrainingSet:
    kind: str  # one of TRAIN_SETS
    normal_dirs: list[Path]  # what anomalib's Folder(normal_dir=[...]) gets
    n_real: int
    n_extra: int  # generated or augmented images added to the real shots
    files: list[Path] = field(default_factory=list)

    @property
    def n_train(self) -> int:
        return self.n_real + self.n_extra


def generated_images(folder: "str | os.PathLike[str]") -> list[Path]:
    """Images of a generated set: the files ``folder/manifest.csv`` lists (a tvig generate
    run: the manifest is the truth, a stray file in ``images/`` is not generated), else
    ``folder/images/*`` or ``folder/*``."""
    folder = Path(folder).expanduser()
    rows = atomic.read_csv(folder / MANIFEST)
    if rows:
        files = [folder / IMAGES_DIR / r["file"] for r in rows]
        missing = [f for f in files if not f.is_file()]
        if missing:
            raise InputError(f"{missing[0]} is listed in {folder / MANIFEST} but missing "
                             f"({len(missing)} of {len(files)}); rerun tvig generate into "
                             f"{folder} to finish the set")
        return files
    for d in (folder / IMAGES_DIR, folder):
        files = list_images(d)
        if files:
            return files
    raise InputError(f"no generated images in {folder} (expected {folder}/images/*.png from "
                     "tvig generate / notebook 03, or any folder of images)")


def write_augmented(shots: list[Path], n: int, seed: int, dest: "str | os.PathLike[str]",
                    rules: AugmentRules) -> list[Path]:
    """Write ``n`` status-consistent augmentations of ``shots`` (cycled in order) into ``dest``.

    Deterministic under ``seed``; each file is written atomically; stale files are removed.
    """
    if n < 1:
        raise InputError(f"number of augmented images must be >= 1, got {n}")
    if not shots:
        raise InputError("no shots to augment")
    dest = Path(dest)
    size = min(min(open_image(shots[0])[1].original_size), MAX_SIZE)
    x, _ = load_images(shots, size=size)  # (k, 3, S, S) in [0, 1]
    aug = Augmenter(rules)
    names = [dest / f"aug_{i:04d}.png" for i in range(n)]
    with seeded(seed), torch.no_grad():
        for start in range(0, n, 8):  # chunks keep memory small at full resolution
            idx = torch.arange(start, min(start + 8, n)) % len(shots)
            for j, img in enumerate(aug(x[idx])):  # (3, S, S)
                save_png(img, names[start + j])
    for stale in set(list_images(dest)) - set(names):
        stale.unlink()
    return names


def build_training_set(kind: str, shots: list[Path], run_dir: "str | os.PathLike[str]", *,
                       generated_dir: "str | os.PathLike[str] | None" = None,
                       n_extra: int | None = None, seed: int = 0,
                       augment: AugmentRules | None = None) -> TrainingSet:
    """Build training set ``kind`` from the linked ``shots`` inside ``run_dir``.

    ``generated``: links ``n_extra`` (default all) images of ``generated_dir`` into
    ``run_dir/generated``. ``augmented``: writes ``n_extra`` augmentations to
    ``run_dir/augmented``; ``n_extra`` defaults to the size of ``generated_dir`` so (b) and (c)
    add the same number of images. ``augment``: the class's rules (default: the
    conservative default for an unknown class; :func:`tvig.augmentations.rules_for`).
    """
    if kind not in TRAIN_SETS:
        raise InputError(choices_text("train set", kind, list(TRAIN_SETS)))
    real_dir = Path(shots[0]).parent
    if kind == "real":
        return TrainingSet(kind, [real_dir], len(shots), 0, list(shots))
    run_dir = Path(run_dir)
    if kind == "generated" or n_extra is None:
        if generated_dir is None:
            raise InputError(f"train set {kind!r} needs a generated folder (--generated DIR)"
                             + ("" if kind == "generated" else " or a count (n_augment)")
                             + " to know how many images to add")
        gen = generated_images(generated_dir)
        n_extra = len(gen) if n_extra is None else n_extra
        if n_extra > len(gen) and kind == "generated":
            raise InputError(f"asked for {n_extra} generated images but {generated_dir} has "
                             f"{len(gen)}")
    if kind == "generated":
        extra = link_files(gen[:n_extra], run_dir / "generated")
    else:
        extra = write_augmented(shots, n_extra, seed, run_dir / "augmented",
                                augment or rules_for(""))
    return TrainingSet(kind, [real_dir, extra[0].parent], len(shots), len(extra),
                       list(shots) + extra)
