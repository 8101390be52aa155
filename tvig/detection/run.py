"""One detection run = fit + test one anomalib detector on one k-shot training set.

:func:`run_detection` is a pure function of its parameters: it samples the shots, builds the
training set (real / +generated / +augmented), fits the detector with anomalib's ``Folder``
datamodule and ``Engine`` (CPU by default, no loggers, quiet, files inside the run folder),
predicts the class's **full** test set once and scores all its raw predictions together
(:mod:`tvig.detection.predictions`, :mod:`tvig.detection.metrics`: rank-based, on any score
scale; anomalib computes no metric), and appends one row to a tidy results CSV. The
grid runner (:mod:`tvig.detection.grid`) calls it for every combination and resumes.

Example:
    >>> from tvig.detection.run import run_detection
    >>> from tvig.detection.config import DetectionConfig
    >>> cfg = DetectionConfig(models="padim", image_size=64)
    >>> row = run_detection(cfg, None, "brick", k=2, seed=0, model="padim", train_set="real",
    ...                     out_dir="/tmp/det", dataset="sample")  # doctest: +SKIP
    >>> row["image_auroc"], row["pixel_auroc"], row["aupro"]                   # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from tvig import __version__, atomic
from tvig.atomic import sha256_file
from tvig.augmentations import rules_for
from tvig.detection.config import DetectionConfig
from tvig.detection.datasets import (
    ClassLayout,
    parse_shots,
    resolve_class,
    sample_shots,
)
from tvig.detection.detectors import build_detector, get_detector
from tvig.detection.efficient_ad import STANDIN_NOTE, imagenette_dir
from tvig.detection.inputs import readable_folder
from tvig.detection.predictions import predict_test_set
from tvig.detection.training_sets import build_training_set
from tvig.errors import InputError, NumericsError
from tvig.paths import ascii_path

RESULT_COLUMNS = ("dataset", "category", "model", "k", "seed", "train_set", "n_train",
                  "n_generated", "n_augmented", "image_auroc", "image_ap", "pixel_auroc", "aupro",
                  "seconds", "pretrained",
                  "backbone", "image_size", "tvig_version", "inputs")
# a row is reused only when all of these match; ``inputs`` fingerprints the rest (data root,
# the generated set's manifest, the training settings), so a changed input reruns its row
KEY = ("dataset", "category", "model", "k", "seed", "train_set", "image_size", "backbone",
       "inputs")
_QUIET_PREFIXES = ("lightning", "anomalib", "pytorch_lightning")


def inputs_fingerprint(config: DetectionConfig, data_root, category: str,
                       generated_dir, train_set: str) -> str:
    """12 hex digits over what else decides a row: the class folder, the generated set (its
    manifest's sha256, or its file list with sizes), the training settings.

    >>> a = inputs_fingerprint(DetectionConfig(), "/data/a", "brick", None, "real")
    >>> a == inputs_fingerprint(DetectionConfig(), "/data/b", "brick", None, "real")
    False
    """
    gen = ""
    if generated_dir is not None and train_set in ("generated", "augmented"):
        g = Path(generated_dir)
        manifest = g / "manifest.csv" if (g / "manifest.csv").is_file() else g.parent / "manifest.csv"
        gen = (sha256_file(manifest) if manifest.is_file() else
               [(f.name, f.stat().st_size) for f in sorted(g.rglob("*")) if f.is_file()])
    key = {"data": str(Path(data_root).expanduser().resolve()) if data_root else None,
           "category": category, "generated": gen, "training": config.training_fields()}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]


def row_key(row: dict[str, Any]) -> tuple[str, ...]:
    """The identity of a result row (everything that decides it, as strings)."""
    return tuple(str(row.get(k, "")) for k in KEY)  # older tables lack ``inputs``: rerun


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


def maps_path(run_dir: "str | os.PathLike[str]", model: str, train_set: str,
              image_size: int) -> Path:
    """Where one detector run keeps its test-set maps (``keep_maps``), for the figures.

    >>> maps_path("runs/sample/brick/k1_seed0", "patchcore_r18", "real", 64).as_posix()
    'runs/sample/brick/k1_seed0/patchcore_r18_real_64px/maps.npz'
    """
    return Path(run_dir) / f"{model}_{train_set}_{image_size}px" / "maps.npz"


@dataclass(frozen=True)
class Prepared:
    """Everything decided before the (long) fit: checked inputs and the training set."""

    layout: ClassLayout
    run_dir: Path
    training: Any  # TrainingSet
    k: "int | str"
    normal_dirs: list[Path]  # what the detector reads (checked, 8-bit copies where needed)
    normal_test_dir: Path
    defect_dirs: list[Path]
    notes: list[str]  # one line per folder that needed converted copies


def prepare(config: DetectionConfig, data_root, category: str, k, seed: int, model: str,
            train_set: str, *, out_dir, dataset: str, generated_dir=None) -> Prepared:
    """Resolve the class and build the training set (``config`` is already checked)."""
    layout = resolve_class(dataset, data_root, category, download=config.download,
                           work_dir=out_dir)
    k = parse_shots(k)
    run_dir = run_dir_for(out_dir, dataset, category, k, seed)
    shots = sample_shots(layout, k, seed, run_dir / "real")
    training = build_training_set(train_set, shots, run_dir, generated_dir=generated_dir,
                                  n_extra=config.n_augment if train_set == "augmented" else None,
                                  seed=seed, augment=config.augment or rules_for(category, dataset))
    need = get_detector(model).min_train
    if training.n_train < need:
        raise InputError(f"{model} needs at least {need} training images, but train set "
                         f"{train_set!r} with k={k} has {training.n_train} (PaDiM's covariance "
                         "is undefined for one image); use patchcore_r18 for 1-shot baselines")
    # every image the detector will read, decoded once by tvig's reader (corrupt files named)
    eight_bit = run_dir.parent / "8bit"  # shared by the class's runs
    checked = [readable_folder(d, run_dir / "8bit" / d.name) for d in training.normal_dirs]
    checked += [readable_folder(d, eight_bit / "test" / d.name)
                for d in (layout.test_good_dir, *layout.defect_dirs)]
    dirs = [d for d, _ in checked]
    n = len(training.normal_dirs)
    return Prepared(layout, run_dir, training, k, normal_dirs=dirs[:n], normal_test_dir=dirs[n],
                    defect_dirs=dirs[n + 1:], notes=[t for _, ns in checked for t in ns])


def _datamodule(p: Prepared, batch_size: int, seed: int):
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.data import Folder

    safe = lambda dirs: [ascii_path(d) for d in dirs]  # noqa: E731  (anomalib refuses non-ASCII)
    return Folder(name=p.layout.name, root=None, normal_dir=safe(p.normal_dirs),
                  abnormal_dir=safe(p.defect_dirs), normal_test_dir=ascii_path(p.normal_test_dir),
                  mask_dir=safe(p.layout.mask_dirs), train_batch_size=batch_size,
                  eval_batch_size=batch_size, num_workers=0, test_split_mode="from_dir",
                  val_split_mode="same_as_test", seed=seed)


def run_detection(config: DetectionConfig, data_root: "str | os.PathLike[str] | None",
                  category: str, k: "int | str", seed: int, model: str, train_set: str = "real",
                  *, out_dir: "str | os.PathLike[str]", dataset: str = "folder",
                  generated_dir: "str | os.PathLike[str] | None" = None, imagenet_dir=None,
                  results_csv: "str | os.PathLike[str] | None" = None,
                  extra: dict[str, Any] | None = None,
                  log: Callable[[str], None] = print) -> dict[str, Any]:
    """Fit and test one detector; append its row to ``results_csv`` (default
    ``out_dir/results.csv``) and return it.

    ``config``: image size, epochs, backbone, device, augmentation, ... (checked once where it
    was built). ``train_set``: ``real`` (k shots), ``generated`` (+ every image of
    ``generated_dir``) or ``augmented`` (+ ``config.n_augment`` augmentations of the shots;
    default: as many as ``generated_dir`` holds). With ``config.keep_maps`` the test-set
    anomaly maps are saved for :mod:`tvig.plots.detection`. ``extra``: more columns for the
    row (e.g. which shots made the generated set).
    """
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.engine import Engine

    # heavy: Lightning loads with anomalib; only detection needs it
    from lightning.pytorch import seed_everything

    if model not in config.models or train_set not in config.train_sets:
        raise InputError(f"run ({model}, {train_set}) is not in the config's models "
                         f"{list(config.models)} / train sets {list(config.train_sets)}")
    p = prepare(config, data_root, category, k, seed, model, train_set, out_dir=out_dir,
                dataset=dataset, generated_dir=generated_dir)
    for note in p.notes:
        log(f"note: {note}")
    image_size = config.image_size
    imagenet_real = True
    if model == "efficient_ad":

        imagenet_dir, imagenet_real = imagenette_dir(imagenet_dir, p.training.files, p.run_dir)
        if not imagenet_real:
            log(STANDIN_NOTE.format(path=imagenet_dir))
    seed_everything(seed, workers=True, verbose=False)  # a random backbone's init too
    detector, info = build_detector(model, image_size=image_size, pretrained=config.pretrained,
                                    backbone=config.backbone, layers=config.layers,
                                    imagenet_dir=imagenet_dir)
    if info.note:
        log(info.note)
    work = maps_path(p.run_dir, model, train_set, image_size).parent
    dm = _datamodule(p, info.train_batch_size or config.batch_size, seed)
    n_epochs = config.epochs or info.epochs
    if model == "efficient_ad" and n_epochs * p.training.n_train < 2:  # batch size is 1
        raise InputError("efficient_ad needs >= 2 training steps (epochs x images); anomalib's "
                         "LR schedule steps at int(0.95 x steps). Use more epochs or images.")
    t0 = time.perf_counter()
    with quiet_lightning(), keep_interrupts():
        seed_everything(seed, workers=True, verbose=False)
        work.mkdir(parents=True, exist_ok=True)
        engine = Engine(default_root_dir=ascii_path(work), logger=False,
                        accelerator=config.device, devices=1, max_epochs=n_epochs,
                        check_val_every_n_epoch=n_epochs, barebones=True)
        engine.fit(model=detector, datamodule=dm)
        preds = predict_test_set(engine, detector, dm)
    try:  # every test image at once, on the raw scores (tvig.detection.metrics)
        metrics = preds.metrics()
    except NumericsError as e:
        raise NumericsError(f"{model} on {category} (k={p.k}, {train_set}): {e}; no row was "
                            "written. Try more training images or another model.") from None
    seconds = time.perf_counter() - t0
    if metrics.note:
        log(f"{category}: {metrics.note}")
    if config.keep_maps:
        preds.save(maps_path(p.run_dir, model, train_set, image_size))
    row = dict(dataset=dataset, category=category, model=model, k=p.k, seed=seed,
               train_set=train_set, n_train=p.training.n_train,
               n_generated=p.training.n_extra if train_set == "generated" else 0,
               n_augmented=p.training.n_extra if train_set == "augmented" else 0,
               **metrics.row(), seconds=round(seconds, 2),
               pretrained=info.pretrained and imagenet_real, backbone=info.backbone,
               image_size=image_size, tvig_version=__version__,
               inputs=inputs_fingerprint(config, data_root, category, generated_dir, train_set))
    row = {**{c: row[c] for c in RESULT_COLUMNS}, **(extra or {})}
    atomic.append_csv_rows(results_csv or Path(out_dir) / "results.csv", [row])
    return row
