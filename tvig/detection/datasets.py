"""Datasets for detection: where a class lives, whether it is usable, and k-shot subsets.

A *class folder* is in the MVTec AD layout (BTAD's ``ok``/``ko`` names are accepted too)::

    CLASS/train/good/*.png            non-defective training images
    CLASS/test/good/*.png             non-defective test images
    CLASS/test/<defect>/*.png         defective test images
    CLASS/ground_truth/<defect>/*     one mask per defective test image (``000_mask.png``)

:func:`resolve_class` finds (or, when asked, downloads or writes) the class folder for a
registry dataset; :func:`validate_class` checks it before any training; :func:`sample_shots`
picks k of its training images by seed and links them into a run folder. The test split is
always the class's full test set and is never read by the sampler.

Example:
    >>> from tvig.detection.datasets import resolve_class, sample_shots
    >>> layout = resolve_class("sample", "/tmp/tvig-data", "brick")      # doctest: +SKIP
    >>> shots = sample_shots(layout, 5, seed=0, dest="/tmp/run/real")    # doctest: +SKIP
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, Union

import numpy as np

from tvig.detection.loco import loco_to_mvtec
from tvig.detection.sample_data import write_sample_class
from tvig.errors import InputError, choices_text
from tvig.images import link_files, list_images

Shots = Union[int, Literal["all"]]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    source: str  # "anomalib" (downloadable), "local", "sample" (embedded), "folder" (any)
    categories: tuple[str, ...]  # () = any name
    description: str
    how_to_get: str


DATASETS: dict[str, DatasetSpec] = {d.name: d for d in (
    DatasetSpec("mvtec_ad", "anomalib",
                ("bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather",
                 "metal_nut", "pill", "screw", "tile", "toothbrush", "transistor", "wood",
                 "zipper"),
                "MVTec AD (15 classes, ~4.9 GB, CC BY-NC-SA 4.0)",
                "pass --download (needs network; anomalib's MVTecAD fetches it), or extract "
                "mvtec_anomaly_detection.tar.xz so that ROOT/<class>/train/good exists"),
    DatasetSpec("btad", "anomalib", ("01", "02", "03"),
                "BTAD / BeanTech (3 classes, ~1.1 GB, CC BY-SA 4.0)",
                "pass --download (needs network; anomalib's BTech fetches it), or extract it "
                "so that ROOT/<class>/train/ok exists"),
    DatasetSpec("mvtec_loco", "local",
                ("breakfast_box", "juice_bottle", "pushpins", "screw_bag",
                 "splicing_connectors"),
                "MVTec LOCO AD (5 classes; masks merged per image; AUPRO, not sPRO)",
                "download it from mvtec.com (registration required) and extract it so that "
                "ROOT/<class>/train/good exists"),
    DatasetSpec("sample", "sample", ("brick", "gravel", "metal_nut"),
                "tvig's embedded sample classes (made at run time, no network)",
                "nothing: they are written on first use (tvig sample-data ROOT)"),
    DatasetSpec("folder", "folder", (), "any folder of classes in the MVTec AD layout",
                "arrange it as ROOT/<class>/{train/good, test/good, test/<defect>, "
                "ground_truth/<defect>}"),
)}

NORMAL_NAMES = ("good", "ok")  # MVTec AD / LOCO use "good", BTAD uses "ok"



def train_dir(root: "str | os.PathLike[str]") -> Path | None:
    """``root/train/good`` (MVTec, LOCO) or ``root/train/ok`` (BTAD): the first that has
    images, else None."""
    return next((Path(root) / "train" / n for n in NORMAL_NAMES
                 if list_images(Path(root) / "train" / n)), None)


@dataclass(frozen=True)
class ClassLayout:
    """A validated class folder: where its train/test images and masks are."""

    root: Path
    normal: str  # "good" or "ok"
    defects: tuple[str, ...]
    n_train: int
    n_test_good: int
    n_test_defect: int
    has_masks: bool = True  # False: no ground_truth/ folder at all (image metrics only)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def train_dir(self) -> Path:
        return self.root / "train" / self.normal

    @property
    def test_good_dir(self) -> Path:
        return self.root / "test" / self.normal

    @property
    def defect_dirs(self) -> list[Path]:
        return [self.root / "test" / d for d in self.defects]

    @property
    def mask_dirs(self) -> list[Path]:
        """One mask folder per defect; [] for a class without masks."""
        return [self.root / "ground_truth" / d for d in self.defects] if self.has_masks else []

    def train_images(self) -> list[Path]:
        return list_images(self.train_dir)


def _pair_masks(images: list[Path], masks: list[Path], where: Path) -> None:
    """Raise unless the i-th mask belongs to the i-th image (anomalib pairs them by sort order)."""
    if len(images) != len(masks):
        raise InputError(f"{where}: {len(images)} defective images but {len(masks)} masks in "
                         f"{where.parent.parent / 'ground_truth' / where.name}; every test image "
                         "of a defect needs one mask (named like 000_mask.png)")
    for img, m in zip(sorted(images, key=str), sorted(masks, key=str)):
        if img.stem not in m.stem:
            raise InputError(f"mask {m} does not belong to image {img} (masks must be named "
                             "after their image, e.g. 000.png -> 000_mask.png, and sort alike)")


def validate_class(root: "str | os.PathLike[str]") -> ClassLayout:
    """Check a class folder (MVTec layout) before any training; raise :class:`InputError` if not.

    Checks: ``train/good`` (or ``ok``) has images, ``test/good`` has images, at least one
    defect folder, and for every defect a ``ground_truth/<defect>`` folder with one mask per
    image. A class with no ``ground_truth/`` folder at all is accepted with
    ``has_masks=False`` (image-level metrics only; pixel AUROC and AUPRO need masks).
    """
    root = Path(root).expanduser()
    if not root.is_dir():
        raise InputError(f"class folder not found: {root} (expected ROOT/<class> in the MVTec "
                         "AD layout: train/good, test/good, test/<defect>, ground_truth/<defect>)")
    train = train_dir(root)
    normal = train.name if train is not None else None
    if normal is None:
        raise InputError(f"{root}: no training images in train/good (or train/ok); a class "
                         "folder needs its non-defective training images there")
    if not list_images(root / "test" / normal):
        raise InputError(f"{root}: no images in test/{normal}; the test split needs "
                         "non-defective test images for AUROC")
    defects = tuple(sorted(p.name for p in (root / "test").iterdir()
                           if p.is_dir() and p.name != normal and list_images(p)))
    if not defects:
        raise InputError(f"{root}: no defect folders with images under test/ (expected "
                         "test/<defect>/*.png besides test/good)")
    if not (root / "ground_truth").is_dir():
        return ClassLayout(root=root, normal=normal, defects=defects,
                           n_train=len(list_images(root / "train" / normal)),
                           n_test_good=len(list_images(root / "test" / normal)),
                           n_test_defect=sum(len(list_images(root / "test" / d))
                                             for d in defects), has_masks=False)
    missing = [d for d in defects if not list_images(root / "ground_truth" / d)]
    if missing:
        raise InputError(f"{root}: no ground-truth masks for defect(s) {', '.join(missing)} "
                         f"(expected {root / 'ground_truth' / missing[0]}/000_mask.png ...); "
                         "pixel AUROC and AUPRO need a mask per defective test image (or "
                         "remove ground_truth/ entirely for image metrics only)")
    n_defect = 0
    for d in defects:
        imgs = list_images(root / "test" / d)
        _pair_masks(imgs, list_images(root / "ground_truth" / d), root / "test" / d)
        n_defect += len(imgs)
    return ClassLayout(root=root, normal=normal, defects=defects,
                       n_train=len(list_images(root / "train" / normal)),
                       n_test_good=len(list_images(root / "test" / normal)),
                       n_test_defect=n_defect)


def get_dataset(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise InputError(choices_text("dataset", name, list(DATASETS)))
    return DATASETS[name]


def _download(spec: DatasetSpec, root: Path, category: str) -> None:
    # heavy: anomalib + Lightning take ~10 s to import; only detection needs them
    from anomalib.data import BTech, MVTecAD

    cls = {"mvtec_ad": MVTecAD, "btad": BTech}[spec.name]
    try:
        cls(root=root, category=category).prepare_data()
    except Exception as e:  # network errors come in many types (URLError, HTTPError, OSError)
        raise InputError(f"could not download {spec.description} into {root}: {e}. No "
                         f"network? Then get it by hand: {spec.how_to_get}") from None


def resolve_class(dataset: str, root: "str | os.PathLike[str] | None", category: str, *,
                  download: bool = False, work_dir: "str | os.PathLike[str] | None" = None,
                  ) -> ClassLayout:
    """The validated class folder of ``category`` in ``dataset`` under ``root``.

    ``sample``: written under ``root`` (default ``work_dir/sample_data``) when missing.
    ``mvtec_ad``/``btad``: downloaded through anomalib only when ``download=True``; missing and
    not downloading, a clear error says how to get it. ``mvtec_loco``: converted once to the
    MVTec layout under ``work_dir`` (masks of an image merged).
    """
    spec = get_dataset(dataset)
    if spec.categories and category not in spec.categories:
        raise InputError(choices_text(f"{dataset} class", category, list(spec.categories)))
    if spec.source == "sample":

        base = Path(root if root is not None else Path(work_dir or ".") / "sample_data")
        if not (base / category / "ground_truth").is_dir():
            write_sample_class(base, category)
        return validate_class(base / category)
    if root is None:
        raise InputError(f"dataset {dataset!r} needs a data root (--data ROOT); "
                         f"{spec.how_to_get}")
    root = Path(root).expanduser()
    folder = root / category
    if not folder.is_dir():
        if spec.source == "anomalib" and download:
            _download(spec, root, category)
        else:
            raise InputError(f"{spec.description}: class folder {folder} not found; "
                             f"{spec.how_to_get}")
    if spec.name == "mvtec_loco":

        folder = loco_to_mvtec(folder, Path(work_dir or root.parent) / "loco_mvtec" / category)
    return validate_class(folder)


def parse_shots(k: "int | str") -> Shots:
    """1, 5, "5", "all" or "full" -> an int >= 1 or "all"; anything else is a clear error."""
    if isinstance(k, str):
        if k.lower() in ("all", "full"):
            return "all"
        if not k.strip().isdigit():
            raise InputError(f"shots must be a positive integer or 'all', got {k!r}")
        k = int(k)
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise InputError(f"shots must be a positive integer or 'all', got {k!r}")
    return int(k)


def choose_files(files: list[Path], k: "int | str", seed: int) -> list[Path]:
    """The k-shot rule, shared by the benchmark and the notebooks: a seeded permutation of
    the sorted ``files``, first k kept, returned sorted (nested: the 1-shot image of a seed
    is in its 5-shot set). ``k="all"`` returns every file."""
    k = parse_shots(k)
    if k == "all":
        return list(files)
    if k > len(files):
        where = files[0].parent if files else "the folder"
        raise InputError(f"shots={k} is larger than the {len(files)} good training images in "
                         f"{where}; use shots <= {len(files)} or 'all'")
    order = np.random.default_rng(seed).permutation(len(files))[:k]
    return [files[i] for i in sorted(order)]


def choose_shots(layout: ClassLayout, k: "int | str", seed: int) -> list[Path]:
    """k training images of a class chosen by ``seed`` (see :func:`choose_files`).

    Only ``train/good`` is listed; the test split is never touched.
    """
    files = layout.train_images()
    if not files:
        raise InputError(f"no good training images in {layout.train_dir}")
    return choose_files(files, k, seed)



def sample_shots(layout: ClassLayout, k: "int | str", seed: int,
                 dest: "str | os.PathLike[str]") -> list[Path]:
    """Choose k shots by seed and link them into ``dest`` (a run folder); returns the links."""
    return link_files(choose_shots(layout, k, seed), dest)
