"""Reading and writing images: validated before any model loads.

Every image tvig reads goes through :func:`load_images`. It accepts files or folders, checks
every file first (missing, not an image, truncated, too small: the error names the file),
converts what can be converted (grayscale, RGBA, palette, 16-bit, CMYK, EXIF rotation, odd
sizes) with a note per file, and returns one float tensor.

Example:
    >>> from PIL import Image
    >>> Image.new("L", (300, 200), 128).save("gray.png")     # a grayscale, non-square shot
    >>> x, notes = load_images(["gray.png"], size=256)
    >>> x.shape                                             # (k, 3, 256, 256), values in [0, 1]
    torch.Size([1, 3, 256, 256])
    >>> len(notes[0].notes) > 0                              # converted, with a note
    True
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
from PIL import Image, ImageOps, UnidentifiedImageError

from tvig import atomic
from tvig.errors import InputError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")
MIN_SIDE = 8  # px; anything smaller cannot be a product photo
MAX_PIXELS = 20000 * 20000  # refuse decompression bombs beyond this


@dataclass
class LoadedImage:
    path: Path
    original_size: tuple[int, int]  # (width, height)
    original_mode: str
    notes: list[str] = field(default_factory=list)


def collect_image_paths(paths: "str | os.PathLike[str] | Iterable[str | os.PathLike[str]]") -> list[Path]:
    """Expand files and folders (non-recursive, sorted) into image files.

    Raises :class:`InputError` for a missing path, an empty list, or a folder without images.
    """
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    out: list[Path] = []
    for raw in paths:
        p = Path(raw).expanduser()
        if not p.exists():
            raise InputError(f"image path not found: {p} (check the path; folders and files are "
                             "both accepted)")
        if p.is_dir():
            found = sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in IMAGE_EXTS)
            if not found:
                raise InputError(f"folder has no images: {p} (expected files ending in "
                                 f"{', '.join(IMAGE_EXTS)})")
            out += found
        else:
            out.append(p)
    if not out:
        raise InputError("no images given: pass at least one image file or folder")
    return out


def _to_rgb(img: Image.Image, notes: list[str]) -> Image.Image:
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        hi = 65535.0 if mode.startswith("I;16") or arr.max() > 255 else 255.0
        arr = np.clip(arr / hi * 255.0 + 0.5, 0, 255).astype(np.uint8)
        notes.append(f"converted {mode} (high bit depth) to 8-bit RGB")
        return Image.fromarray(arr, "L").convert("RGB")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        bg = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        notes.append(f"converted {mode} to RGB (transparency composited on white)")
        return Image.alpha_composite(bg, rgba).convert("RGB")
    notes.append(f"converted {mode} to RGB")
    return img.convert("RGB")


def _resize_square(img: Image.Image, size: int, notes: list[str]) -> Image.Image:
    w, h = img.size
    if (w, h) == (size, size):
        return img
    if w != h:
        s = min(w, h)
        left, top = (w - s) // 2, (h - s) // 2
        img = img.crop((left, top, left + s, top + s))
        notes.append(f"centre-cropped {w}x{h} to {s}x{s}")
    notes.append(f"resized to {size}x{size}")
    return img.resize((size, size), Image.Resampling.BICUBIC)


def open_image(path: "str | os.PathLike[str]", size: int | None = None) -> tuple[Image.Image, LoadedImage]:
    """Open, verify, orient and convert one image to RGB (and optionally ``size`` x ``size``).

    Raises :class:`InputError` naming the file when it cannot be used.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"image not found: {path}")
    try:
        with Image.open(path) as probe:  # cheap header check, then a full decode below
            probe.verify()
        img = Image.open(path)
        w, h = img.size
        if w * h > MAX_PIXELS:
            raise InputError(f"image too large: {path} is {w}x{h}; downscale it below "
                             f"{int(MAX_PIXELS ** 0.5)} px a side")
        drafted = False
        if size is not None and img.format == "JPEG" and min(w, h) > 4 * size:
            img.draft("RGB", (max(size, w * size // min(w, h)), max(size, h * size // min(w, h))))
            drafted = img.size != (w, h)
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img.load()
    except InputError:
        raise
    except UnidentifiedImageError:
        raise InputError(f"not an image (or an unsupported format): {path}") from None
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as e:
        raise InputError(f"cannot read image {path}: {e} (the file is truncated or corrupt; "
                         "re-export or remove it)") from None
    info = LoadedImage(path=path, original_size=(w, h), original_mode=img.mode)
    if min(w, h) < MIN_SIDE:
        raise InputError(f"image too small: {path} is {w}x{h}; need at least {MIN_SIDE} px "
                         "a side")
    if drafted:
        info.notes.append(f"decoded at reduced size {img.size[0]}x{img.size[1]} (large JPEG)")
    if img.getexif().get(0x0112, 1) not in (None, 1):
        img = ImageOps.exif_transpose(img)
        info.notes.append("rotated according to its EXIF orientation")
    img = _to_rgb(img, info.notes)
    if size is not None:
        img = _resize_square(img, size, info.notes)
    return img, info


def pil_to_tensor(img: Image.Image) -> torch.Tensor:
    """PIL RGB -> float tensor (3, H, W) in [0, 1]."""
    arr = np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(arr.copy()).permute(2, 0, 1)


def to_uint8(x: torch.Tensor) -> torch.Tensor:
    """Float [0, 1] -> uint8 exactly as PNG saving rounds (x*255 + 0.5, clamped); any shape."""
    return (x.detach().float().clamp(0, 1).cpu() * 255.0 + 0.5).to(torch.uint8)


def tensor_to_pil(x: torch.Tensor) -> Image.Image:
    """Float tensor (3, H, W) in [0, 1] -> PIL RGB, rounded by :func:`to_uint8`."""
    if x.ndim != 3 or x.shape[0] != 3:
        raise ValueError(f"expected a (3, H, W) tensor, got {tuple(x.shape)}")
    return Image.fromarray(to_uint8(x).permute(1, 2, 0).numpy(), "RGB")


def load_images(paths: "str | os.PathLike[str] | Sequence[str | os.PathLike[str]]", size: int,
                ) -> tuple[torch.Tensor, list[LoadedImage]]:
    """Validate then load images as one batch.

    Returns ``(x, infos)``: x is (N, 3, size, size) float in [0, 1]; ``infos[i].notes`` says
    what was converted. Every file is checked before any pixel is returned.
    """
    if not isinstance(size, int) or size < MIN_SIDE:
        raise InputError(f"image size must be an integer >= {MIN_SIDE}, got {size!r}")
    files = collect_image_paths(paths)
    loaded = [open_image(f, size) for f in files]
    x = torch.stack([pil_to_tensor(img) for img, _ in loaded])  # (N, 3, S, S)
    return x, [info for _, info in loaded]


def notes_text(infos: Sequence[LoadedImage]) -> list[str]:
    """One line per image that was converted: 'name: note; note'."""
    return [f"{i.path.name}: {'; '.join(i.notes)}" for i in infos if i.notes]


def save_png(x: torch.Tensor, path: "str | os.PathLike[str]") -> Path:
    """Write a (3, H, W) [0, 1] tensor as a PNG atomically; returns the path."""
    buf = io.BytesIO()
    tensor_to_pil(x).save(buf, format="PNG")
    atomic.write_bytes(path, buf.getvalue())
    return Path(path)


def list_images(folder: Path) -> list[Path]:
    """Image files directly in ``folder`` (sorted; [] when it does not exist)."""
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTS)


def link_files(files: list[Path], dest: "str | os.PathLike[str]", prefix: str = "") -> list[Path]:
    """Hard-link (or copy) ``files`` into ``dest``; other images there are removed."""
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    names = [f"{prefix}{f.name}" for f in files]
    if len(set(names)) != len(names):
        names = [f"{prefix}{i:04d}_{f.name}" for i, f in enumerate(files)]
    for stale in set(list_images(dest)) - {dest / n for n in names}:
        stale.unlink()
    out = []
    for f, n in zip(files, names):
        target = dest / n
        if not (target.exists() and os.path.samefile(f, target)):
            target.unlink(missing_ok=True)
            try:
                os.link(f, target)
            except OSError:  # another file system, or links not allowed
                atomic.write_bytes(target, Path(f).read_bytes())
        out.append(target)
    return out
