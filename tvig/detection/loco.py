"""MVTec LOCO AD -> MVTec AD layout, so the same detection code reads it.

LOCO stores one *folder* of masks per defective image
(``ground_truth/<defect>/<id>/000.png, 001.png, ...``, one per annotated region, grey levels
encode the saturation threshold). anomalib's ``Folder`` wants one mask file per image, so
we write their union as ``ground_truth/<defect>/<id>_mask.png`` (255 = defect) and link the
images. The official LOCO metric (sPRO) is not computed; tvig reports AUPRO on the merged masks.

Example:
    >>> from tvig.detection.loco import loco_to_mvtec
    >>> loco_to_mvtec("/data/loco/pushpins", "/tmp/loco_mvtec/pushpins")   # doctest: +SKIP
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from tvig import atomic
from tvig.errors import InputError
from tvig.images import link_files, list_images


def _merged_mask(folder: Path) -> bytes:
    masks = sorted(folder.glob("*.png"))
    if not masks:
        raise InputError(f"LOCO mask folder {folder} has no PNG masks")
    union = None
    for m in masks:
        a = np.asarray(Image.open(m).convert("L")) > 0  # (H, W) bool
        union = a if union is None else union | a
    buf = io.BytesIO()
    Image.fromarray(union.astype(np.uint8) * 255).save(buf, format="PNG")
    return buf.getvalue()


def loco_to_mvtec(src: "str | Path", dst: "str | Path") -> Path:
    """Write (links + merged masks) the MVTec-layout copy of one LOCO class; returns ``dst``."""

    src, dst = Path(src), Path(dst)
    if not list_images(src / "train" / "good"):
        raise InputError(f"{src} is not an MVTec LOCO AD class (no train/good images)")
    link_files(list_images(src / "train" / "good"), dst / "train" / "good")
    for split in sorted(p for p in (src / "test").iterdir() if p.is_dir()):
        images = list_images(split)
        link_files(images, dst / "test" / split.name)
        if split.name == "good":
            continue
        for img in images:
            out = dst / "ground_truth" / split.name / f"{img.stem}_mask.png"
            if not out.exists():
                atomic.write_bytes(out, _merged_mask(src / "ground_truth" / split.name / img.stem))
    return dst
