"""One detection run = fit + test one anomalib detector on one k-shot training set.

:func:`run_detection` is a pure function of its parameters: it samples the shots, builds the
training set (real / +generated / +augmented), fits the detector with anomalib's ``Folder``
datamodule and ``Engine`` (CPU by default, no loggers, quiet, files inside the run folder),
tests it on the class's **full** test set and appends one row to a tidy results CSV. The
grid runner (:mod:`tvig.detection.grid`) calls it for every combination and resumes.

Example:
    >>> from tvig.detection.run import run_detection
    >>> row = run_detection(None, "brick", k=1, seed=0, model="padim", train_set="real",
    ...                     image_size=64, out_dir="/tmp/det", dataset="sample")  # doctest: +SKIP
    >>> row["image_auroc"], row["pixel_auroc"], row["aupro"]                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np

from tvig import __version__, atomic
from tvig.augmentations import AugmentRules, rules_for
from tvig.detection.datasets import (
    ClassLayout,
    parse_shots,
    resolve_class,
    sample_shots,
)
from tvig.detection.detectors import build_detector, get_detector
from tvig.detection.efficient_ad import STANDIN_NOTE, imagenette_dir
from tvig.detection.training_sets import TRAIN_SETS, build_training_set
from tvig.errors import InputError, NumericsError, choices_text

RESULT_COLUMNS = ("dataset", "category", "model", "k", "seed", "train_set", "n_train",
                  "n_generated", "n_augmented", "image_auroc", "pixel_auroc", "aupro", "seconds", "pretrained",
                  "backbone", "image_size", "tvig_version")
KEY = ("dataset", "category", "model", "k", "seed", "train_set", "image_size")
_QUIET_PREFIXES = ("lightning", "anomalib", "pytorch_lightning")


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a result row (everything that decides it, as strings)."""
    return tuple(str(row[k]) for k in KEY)


def done_keys(results_csv: "str | os.PathLike[str]") -> set[tuple[str, ...]]:
    return {row_key(r) for r in atomic.read_csv(results_csv)}


@contextlib.contextmanager
def keep_interrupts() -> Iterator[None]:
    """Lightning turns Ctrl-C (and tvig's SIGTERM, a KeyboardInterrupt) into ``sys.exit(1)``;
    re-raise the interrupt instead so the CLI reports it and keeps its exit code."""
    try:
        yield
    except SystemExit as e:
        if isinstance(e.__context__, KeyboardInterrupt):
            raise e.__context__ from None
        raise


@contextlib.contextmanager
def quiet_lightning() -> Iterator[None]:
    """Silence Lightning/anomalib info logs, tips and warnings for the block."""
    names = [n for n in list(logging.root.manager.loggerDict) if n.startswith(_QUIET_PREFIXES)]
    saved = {n: logging.getLogger(n).level for n in set(names) | set(_QUIET_PREFIXES)}
    for n in saved:
        logging.getLogger(n).setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


def run_dir_for(out_dir: "str | os.PathLike[str]", dataset: str, category: str, k, seed: int,
                ) -> Path:
    return Path(out_dir) / "runs" / dataset / category / f"k{k}_seed{seed}"


@dataclass(frozen=True)
class Prepared:
    """Everything decided before the (long) fit: checked inputs and the training set."""

    layout: ClassLayout
    run_dir: Path
    training: Any  # TrainingSet
    k: "int | str"


def prepare(data_root, category: str, k, seed: int, model: str, train_set: str, *,
            out_dir, dataset: str, generated_dir=None, n_augment: int | None = None,
            download: bool = False, augment: AugmentRules | None = None) -> Prepared:
    """Validate every input and build the training set; raises :mod:`tvig.errors` early.

    ``augment``: the control's augmentations (default: the class's status-consistent rules).
    """
    get_detector(model)
    if train_set not in TRAIN_SETS:
        raise InputError(choices_text("train set", train_set, list(TRAIN_SETS)))
    k = parse_shots(k)
    layout = resolve_class(dataset, data_root, category, download=download, work_dir=out_dir)
    run_dir = run_dir_for(out_dir, dataset, category, k, seed)
    shots = sample_shots(layout, k, seed, run_dir / "real")
    training = build_training_set(train_set, shots, run_dir, generated_dir=generated_dir,
                                  n_extra=n_augment if train_set == "augmented" else None,
                                  seed=seed, augment=augment or rules_for(category, dataset))
    need = get_detector(model).min_train
    if training.n_train < need:
        raise InputError(f"{model} needs at least {need} training images, but train set "
                         f"{train_set!r} with k={k} has {training.n_train} (PaDiM's covariance "
                         "is undefined for one image); use patchcore_r18 for 1-shot baselines")
    return Prepared(layout, run_dir, training, k)


def _datamodule(p: Prepared, batch_size: int, seed: int):
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.data import Folder

    return Folder(name=p.layout.name, root=None, normal_dir=p.training.normal_dirs,
                  abnormal_dir=p.layout.defect_dirs, normal_test_dir=p.layout.test_good_dir,
                  mask_dir=p.layout.mask_dirs, train_batch_size=batch_size,
                  eval_batch_size=batch_size, num_workers=0, test_split_mode="from_dir",
                  val_split_mode="same_as_test", seed=seed)


def finite_check():
    """A Lightning callback counting non-finite test scores (``.bad``): NaN must not be scored."""
    # heavy: Lightning loads with anomalib; only detection needs it
    from lightning.pytorch.callbacks import Callback

    class FiniteScores(Callback):
        bad = 0

        def on_test_batch_end(self, trainer, pl_module, outputs, *args, **kwargs):
            score = getattr(outputs, "pred_score", None)
            if score is not None:
                self.bad += int((~score.isfinite()).sum())

    return FiniteScores()


def save_maps(engine, model, datamodule, path: Path) -> Path:
    """Predict the test set and store maps, masks and scores (npz) for the figures."""
    with quiet_lightning():
        batches = engine.predict(model=model, dataloaders=datamodule.test_dataloader(),
                                 return_predictions=True)
    cat = lambda f: np.concatenate([getattr(b, f).detach().cpu().numpy() for b in batches])  # noqa: E731
    with atomic.atomic_open(path, "wb") as f:
        np.savez_compressed(
            f, image_path=np.array([p for b in batches for p in b.image_path]),
            anomaly_map=cat("anomaly_map").astype(np.float16),  # (N, H, W)
            pred_mask=cat("pred_mask").astype(bool), gt_mask=cat("gt_mask").astype(bool),
            pred_score=cat("pred_score").reshape(-1), gt_label=cat("gt_label").reshape(-1))
    return path


def run_detection(data_root: "str | os.PathLike[str] | None", category: str, k: "int | str",
                  seed: int, model: str, train_set: str = "real", *,
                  generated_dir: "str | os.PathLike[str] | None" = None, image_size: int = 256,
                  out_dir: "str | os.PathLike[str]", dataset: str = "folder",
                  n_augment: int | None = None, backbone: str | None = None,
                  pretrained: bool | None = None, epochs: int | None = None,
                  batch_size: int = 8, device: str = "cpu", download: bool = False,
                  keep_maps: bool = False, imagenet_dir=None,
                  results_csv: "str | os.PathLike[str] | None" = None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit and test one detector; append its row to ``results_csv`` (default
    ``out_dir/results.csv``) and return it.

    ``train_set``: ``real`` (k shots), ``generated`` (+ every image of ``generated_dir``) or
    ``augmented`` (+ ``n_augment`` augmentations of the shots; default: as many as
    ``generated_dir`` holds). ``pretrained=None`` uses backbone weights only when cached.
    With ``keep_maps`` the test-set anomaly maps are saved for :mod:`tvig.plots.detection`.
    """
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.engine import Engine

    # heavy: Lightning loads with anomalib; only detection needs it
    from lightning.pytorch import seed_everything

    p = prepare(data_root, category, k, seed, model, train_set, out_dir=out_dir,
                dataset=dataset, generated_dir=generated_dir, n_augment=n_augment,
                download=download)
    imagenet_real = True
    if model == "efficient_ad":

        imagenet_dir, imagenet_real = imagenette_dir(imagenet_dir, p.training.files, p.run_dir)
        if not imagenet_real:
            log(STANDIN_NOTE.format(path=imagenet_dir))
    seed_everything(seed, workers=True, verbose=False)  # a random backbone's init too
    detector, info = build_detector(model, image_size=image_size, pretrained=pretrained,
                                    backbone=backbone, imagenet_dir=imagenet_dir)
    if info.note:
        log(info.note)
    work = p.run_dir / f"{model}_{train_set}_{image_size}px"
    dm = _datamodule(p, info.train_batch_size or batch_size, seed)
    n_epochs = epochs or info.epochs
    if model == "efficient_ad" and n_epochs * p.training.n_train < 2:  # batch size is 1
        raise InputError("efficient_ad needs >= 2 training steps (epochs x images); anomalib's "
                         "LR schedule steps at int(0.95 x steps). Use more epochs or images.")
    t0 = time.perf_counter()
    with quiet_lightning(), keep_interrupts():
        seed_everything(seed, workers=True, verbose=False)
        check = finite_check()
        engine = Engine(default_root_dir=work, logger=False, accelerator=device, devices=1,
                        max_epochs=n_epochs, check_val_every_n_epoch=n_epochs, barebones=True,
                        callbacks=[check])
        engine.fit(model=detector, datamodule=dm)
        metrics = engine.test(model=detector, datamodule=dm, verbose=False)[0]
    seconds = time.perf_counter() - t0
    if check.bad:
        raise NumericsError(f"{model} produced {check.bad} non-finite anomaly scores on "
                            f"{category} (k={p.k}, {train_set}); no row was written. Try more "
                            "training images or another model.")
    if keep_maps:
        save_maps(engine, detector, dm, work / "maps.npz")
    row = dict(dataset=dataset, category=category, model=model, k=p.k, seed=seed,
               train_set=train_set, n_train=p.training.n_train,
               n_generated=p.training.n_extra if train_set == "generated" else 0,
               n_augmented=p.training.n_extra if train_set == "augmented" else 0,
               image_auroc=round(float(metrics["image_AUROC"]), 6),
               pixel_auroc=round(float(metrics["pixel_AUROC"]), 6),
               aupro=round(float(metrics["pixel_AUPRO"]), 6), seconds=round(seconds, 2),
               pretrained=info.pretrained and imagenet_real, backbone=info.backbone,
               image_size=image_size, tvig_version=__version__)
    row = {c: row[c] for c in RESULT_COLUMNS}
    atomic.append_csv_rows(results_csv or Path(out_dir) / "results.csv", [row])
    return row
