"""Embedded sample classes in the MVTec AD layout, made at run time with no network.

Textures are cut from scikit-image's bundled CC0 photos (``brick``, ``gravel``); the object
class (``metal_nut``) is drawn procedurally. Defects (scratch, crack, blob, missing part) are
painted with an exact mask. Everything is deterministic under ``seed``.

Layout written (MVTec AD)::

    ROOT/<class>/train/good/000.png
    ROOT/<class>/test/good/000.png
    ROOT/<class>/test/<defect>/000.png
    ROOT/<class>/ground_truth/<defect>/000_mask.png

Example:
    >>> from tvig.detection.sample_data import write_sample_data
    >>> roots = write_sample_data("/tmp/tvig-samples")   # doctest: +SKIP
"""

from __future__ import annotations

import io
import math
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from tvig import atomic
from tvig.errors import ConfigError, choices_text

Array = np.ndarray  # (H, W, 3) uint8 image or (H, W) bool mask


@dataclass(frozen=True)
class SampleClass:
    name: str
    kind: str  # "texture" | "object"
    defects: tuple[str, ...]
    description: str


SAMPLE_CLASSES: dict[str, SampleClass] = {
    c.name: c for c in (
        SampleClass("brick", "texture", ("crack", "blob"),
                    "crops of scikit-image's CC0 brick-wall photo"),
        SampleClass("gravel", "texture", ("scratch", "blob"),
                    "crops of scikit-image's CC0 gravel photo"),
        SampleClass("metal_nut", "object", ("scratch", "missing"),
                    "a procedurally drawn hexagonal metal nut"),
    )
}
DEFAULT_CLASSES = ("brick", "metal_nut")


def _texture_source(name: str) -> Array:
    # heavy: scikit-image's data only for the sample classes and gates
    from skimage import data as skdata

    gray = getattr(skdata, name)().astype(np.float32)  # (512, 512) bundled with scikit-image
    tint = {"brick": (1.0, 0.78, 0.62), "gravel": (0.92, 0.9, 0.85)}[name]
    rgb = np.stack([gray * t for t in tint], axis=-1)
    return np.clip(rgb, 0, 255).astype(np.uint8)


def _texture_good(name: str, rng: np.random.RandomState, size: int) -> Array:
    src = _texture_source(name)
    # a crop twice the side (128 px -> 256 of the 512 px photo), at most the photo itself
    # minus one pixel so that randint has a range (size 256 and up: upsampled, still sharp)
    crop = min(int(size * 2), min(src.shape[:2]) - 1)
    y, x = rng.randint(0, src.shape[0] - crop), rng.randint(0, src.shape[1] - crop)
    img = Image.fromarray(src[y:y + crop, x:x + crop]).resize((size, size), Image.Resampling.BICUBIC)
    arr = np.asarray(img).astype(np.float32) * rng.uniform(0.95, 1.05)
    return np.clip(arr, 0, 255).astype(np.uint8)


def _nut_good(rng: np.random.RandomState, size: int) -> Array:
    img = Image.new("RGB", (size, size), (30, 30, 34))
    d = ImageDraw.Draw(img)
    c = size / 2 + rng.uniform(-2, 2, size=2)
    r_out, r_in = size * 0.38, size * 0.16
    rot = rng.uniform(0, math.pi / 3)
    hexagon = [(c[0] + r_out * math.cos(rot + k * math.pi / 3),
                c[1] + r_out * math.sin(rot + k * math.pi / 3)) for k in range(6)]
    shade = int(rng.uniform(150, 175))
    d.polygon(hexagon, fill=(shade, shade, shade + 8))
    d.ellipse([c[0] - r_out * 0.8, c[1] - r_out * 0.8, c[0] + r_out * 0.8, c[1] + r_out * 0.8],
              outline=(shade - 40,) * 3, width=max(1, size // 64))
    d.ellipse([c[0] - r_in, c[1] - r_in, c[0] + r_in, c[1] + r_in], fill=(30, 30, 34))
    return np.asarray(img.filter(ImageFilter.GaussianBlur(0.6)))


def _mask_draw(size: int) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    m = Image.new("L", (size, size), 0)
    return m, ImageDraw.Draw(m)


def _defect_scratch(rng: np.random.RandomState, size: int) -> tuple[Array, Array]:
    m, d = _mask_draw(size)
    p0 = rng.uniform(0.3, 0.7, 2) * size
    ang = rng.uniform(0, math.pi)
    L = rng.uniform(0.25, 0.4) * size
    p1 = p0 + L * np.array([math.cos(ang), math.sin(ang)])
    d.line([tuple(p0), tuple(p1)], fill=255, width=max(2, size // 40))
    return np.array([235, 235, 225], np.uint8), np.asarray(m) > 0


def _defect_crack(rng: np.random.RandomState, size: int) -> tuple[Array, Array]:
    m, d = _mask_draw(size)
    p = rng.uniform(0.3, 0.7, 2) * size
    pts = [tuple(p)]
    ang = rng.uniform(0, 2 * math.pi)
    for _ in range(8):
        ang += rng.uniform(-0.7, 0.7)
        p = p + size * 0.05 * np.array([math.cos(ang), math.sin(ang)])
        pts.append(tuple(p))
    d.line(pts, fill=255, width=max(2, size // 48))
    return np.array([20, 15, 12], np.uint8), np.asarray(m) > 0


def _defect_blob(rng: np.random.RandomState, size: int) -> tuple[Array, Array]:
    m, d = _mask_draw(size)
    c = rng.uniform(0.3, 0.7, 2) * size
    r = rng.uniform(0.06, 0.12, 2) * size
    d.ellipse([c[0] - r[0], c[1] - r[1], c[0] + r[0], c[1] + r[1]], fill=255)
    return np.array([170, 40, 160], np.uint8), np.asarray(m) > 0


def _defect_missing(rng: np.random.RandomState, size: int) -> tuple[Array, Array]:
    """A wedge of the object is gone (background colour shows); mask limited to the object."""
    m, d = _mask_draw(size)
    start = rng.uniform(0, 360)
    d.pieslice([size * 0.1, size * 0.1, size * 0.9, size * 0.9], start, start + 50, fill=255)
    return np.array([30, 30, 34], np.uint8), np.asarray(m) > 0


_DEFECTS: dict[str, Callable[[np.random.RandomState, int], tuple[Array, Array]]] = {
    "scratch": _defect_scratch, "crack": _defect_crack, "blob": _defect_blob,
    "missing": _defect_missing,
}


def _good(cls: SampleClass, rng: np.random.RandomState, size: int) -> Array:
    return _texture_good(cls.name, rng, size) if cls.kind == "texture" else _nut_good(rng, size)


def make_defect(cls: SampleClass, defect: str, rng: np.random.RandomState, size: int,
                ) -> tuple[Array, Array]:
    """One defective image and its exact mask (True where pixels were changed)."""
    img = _good(cls, rng, size).copy()
    colour, mask = _DEFECTS[defect](rng, size)
    if defect == "missing":
        mask &= np.any(img != colour, axis=-1)  # only where the object was
    mask &= np.any(img != colour, axis=-1)  # a pixel already that colour is not a change
    img[mask] = colour
    return img, mask


def _png(arr: Array) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def write_sample_class(root: "str | Path", name: str, *, seed: int = 0, size: int = 128,
                       n_train: int = 8, n_test_good: int = 4, n_test_defect: int = 3) -> Path:
    """Write one sample class under ``root/name`` (atomically, file by file); returns its folder."""
    if name not in SAMPLE_CLASSES:
        raise ConfigError(choices_text("sample class", name, list(SAMPLE_CLASSES)))
    for label, v in (("size", size), ("n_train", n_train), ("n_test_good", n_test_good),
                     ("n_test_defect", n_test_defect)):
        if not isinstance(v, int) or v < 1 or (label == "size" and v < 32):
            raise ConfigError(f"{label} must be a positive integer (size >= 32), got {v!r}")
    cls = SAMPLE_CLASSES[name]
    out = Path(root) / name
    rng = np.random.RandomState(zlib.crc32(f"{name}:{seed}".encode()))
    for i in range(n_train):
        atomic.write_bytes(out / "train" / "good" / f"{i:03d}.png", _png(_good(cls, rng, size)))
    for i in range(n_test_good):
        atomic.write_bytes(out / "test" / "good" / f"{i:03d}.png", _png(_good(cls, rng, size)))
    for defect in cls.defects:
        for i in range(n_test_defect):
            img, mask = make_defect(cls, defect, rng, size)
            atomic.write_bytes(out / "test" / defect / f"{i:03d}.png", _png(img))
            atomic.write_bytes(out / "ground_truth" / defect / f"{i:03d}_mask.png",
                               _png(mask.astype(np.uint8) * 255))
    return out


def write_sample_data(root: "str | Path", classes: Sequence[str] | None = None, *,
                      seed: int = 0, size: int = 128) -> list[Path]:
    """Write sample classes (default: all) under ``root``; returns their folders."""
    names = list(classes) if classes else list(SAMPLE_CLASSES)
    for n in names:
        if n not in SAMPLE_CLASSES:
            raise ConfigError(choices_text("sample class", n, list(SAMPLE_CLASSES)))
    atomic.check_writable(root, "output folder")
    return [write_sample_class(root, n, seed=seed, size=size) for n in names]
