"""Registry and cache of pretrained assets: download, verify, locate.

Every pretrained file tvig can use has an :class:`Asset` entry (source URL, size, sha256 where
known, licence). Files live in :func:`cache_dir` (``$TVIG_HOME``, default
``~/.cache/tvig``). :func:`download` streams to a temp file with a progress bar, verifies size
and sha256, then renames: the cache never holds a half file. :func:`require` never downloads:
missing, it raises at once with the command that fixes it.

Example:
    >>> from tvig import assets
    >>> assets.is_present("clip_vit_b_32_openai")      # doctest: +SKIP
    False
    >>> assets.require("clip_vit_b_32_openai")         # doctest: +SKIP
    AssetMissingError: ... tvig download clip_vit_b_32_openai
"""

from __future__ import annotations

import http.client
import json
import os
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from tqdm.auto import tqdm

from tvig import atomic
from tvig.atomic import sha256_file
from tvig.errors import AssetError, AssetMissingError, choices_text
from tvig.paths import cache_dir

CHUNK = 1 << 20


@dataclass(frozen=True)
class AssetFile:
    filename: str
    urls: tuple[str, ...]  # tried in order
    size: int | None = None  # bytes, when known
    sha256: str | None = None  # when known; else recorded at download time


@dataclass(frozen=True)
class Asset:
    name: str
    files: tuple[AssetFile, ...]
    licence: str
    description: str
    kind: str = "file"  # "file": files in the cache; "external": found by its own loader
    # external assets only, set by the module that owns them (no special case by name here):
    present: Callable[[], bool] | None = field(default=None, compare=False, repr=False)
    fetch: Callable[[Callable[[str], None]], Path] | None = field(default=None, compare=False,
                                                                  repr=False)

    @property
    def folder(self) -> Path:
        return cache_dir() / self.name


_HEIBOX = "https://heibox.uni-heidelberg.de/d/{share}/files/?p=%2F{sub}%2F{file}&dl=1"
HF_URL = "https://huggingface.co/{repo}/resolve/main/{file}"

REGISTRY: dict[str, Asset] = {}


def register(asset: Asset) -> Asset:
    """Add (or replace) a registry entry; tests use it for made-up assets."""
    REGISTRY[asset.name] = asset
    return asset


for _a in (
    Asset("clip_vit_b_32_openai",
          (AssetFile("open_clip_model.safetensors",
                     (HF_URL.format(repo="timm/vit_base_patch32_clip_224.openai",
                                 file="open_clip_model.safetensors"),)),),
          licence="MIT (OpenAI CLIP)",
          description="CLIP ViT-B/32, OpenAI weights, as open_clip safetensors (~605 MB fp32)"),
    Asset("vqgan_imagenet_f16_16384",
          (AssetFile("model.yaml", (_HEIBOX.format(share="a7530b09fed84f80a887", sub="configs",
                                                   file="model.yaml"),)),
           AssetFile("last.ckpt", (_HEIBOX.format(share="a7530b09fed84f80a887", sub="ckpts",
                                                  file="last.ckpt"),))),
          licence="MIT (taming-transformers)",
          description="VQGAN ImageNet f16, 16384 codes (taming-transformers), ~980 MB"),
    Asset("vqgan_imagenet_f16_1024",
          (AssetFile("model.yaml", (_HEIBOX.format(share="8088892a516d4e3baf92", sub="configs",
                                                   file="model.yaml"),)),
           AssetFile("last.ckpt", (_HEIBOX.format(share="8088892a516d4e3baf92", sub="ckpts",
                                                  file="last.ckpt"),))),
          licence="MIT (taming-transformers)",
          description="VQGAN ImageNet f16, 1024 codes (taming-transformers), optional"),
):
    register(_a)


def get(name: str) -> Asset:
    if name not in REGISTRY:
        raise AssetError(choices_text("asset", name, list(REGISTRY)))
    return REGISTRY[name]


def _stamp(path: Path) -> Path:
    return path.with_name(path.name + ".verified.json")


def verify_file(af: AssetFile, path: Path) -> str:
    """Check size and sha256 of ``path``; returns the sha256. Raises :class:`AssetError`."""
    if not path.is_file():
        raise AssetMissingError(f"asset file missing: {path}")
    size = path.stat().st_size
    if af.size is not None and size != af.size:
        raise AssetError(f"{path}: size {size} bytes, expected {af.size} (truncated or wrong "
                         "file); delete it and run tvig download again")
    st = path.stat()
    stamp = _stamp(path)
    if stamp.exists():
        try:
            s = json.loads(stamp.read_text())
            if s.get("size") == st.st_size and s.get("mtime_ns") == st.st_mtime_ns:
                if af.sha256 is None or s.get("sha256") == af.sha256:
                    return s["sha256"]
        except (ValueError, KeyError):
            pass
    digest = sha256_file(path)
    if af.sha256 is not None and digest != af.sha256:
        raise AssetError(f"{path}: sha256 {digest} does not match the registry's {af.sha256} "
                         "(corrupt or changed at the source); delete it and download again")
    atomic.write_json(stamp, {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": digest})
    return digest


def is_present(name: str) -> bool:
    """True when every file of the asset is in the cache and verifies."""
    a = get(name)
    if a.kind == "external":
        return _external_present(a)
    try:
        for af in a.files:
            verify_file(af, a.folder / af.filename)
        return True
    except AssetError:
        return False


def _external_present(a: Asset) -> bool:
    return bool(a.present and a.present())


def require(name: str) -> Path:
    """The asset's cache folder, verified. Never downloads; raises with the fix when missing."""
    a = get(name)
    for af in a.files:
        path = a.folder / af.filename
        if not path.exists():
            raise AssetMissingError(
                f"asset {name!r} ({a.description}) is not in the cache: {path} is missing.\n"
                f"Fetch it (needs network) with:  tvig download {name}\n"
                f"or copy the file there by hand (cache folder: {cache_dir()}, set TVIG_HOME "
                "to move it).")
        verify_file(af, path)
    return a.folder


def _fetch(url: str, dest: Path, expected: int | None, progress: bool) -> None:
    """Stream ``url`` into ``dest`` (a temp path), resuming a partial ``dest`` over HTTP."""

    have = dest.stat().st_size if dest.exists() else 0
    req = urllib.request.Request(url, headers={"User-Agent": "tvig"})
    if have and url.startswith("http"):
        req.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(req, timeout=60) as r:
        resumed = have and getattr(r, "status", 200) == 206
        total = r.headers.get("Content-Length")
        total = (int(total) + (have if resumed else 0)) if total else expected
        mode = "ab" if resumed else "wb"
        with open(dest, mode) as f, tqdm(total=total, initial=have if resumed else 0, unit="B",
                                         unit_scale=True, desc=dest.name.split(".part")[0],
                                         disable=not progress) as bar:
            for block in iter(lambda: r.read(CHUNK), b""):
                f.write(block)
                bar.update(len(block))
        got = dest.stat().st_size
        if total and got < total:  # the server announced more than it sent
            raise ConnectionError(f"connection closed after {got} of {total} bytes")


def _not_a_web_page(af: AssetFile, part: Path, dest: Path) -> None:
    """An expired share link or a login wall returns HTML with status 200: refuse it."""
    with open(part, "rb") as f:
        head = f.read(512).lstrip().lower()
    if head.startswith((b"<!doctype html", b"<html")) and not af.filename.endswith(".html"):
        raise AssetError(f"the server sent a web page, not {af.filename} (link moved or needs "
                         f"a login?); download it in a browser and copy it to {dest}")


def download(names: Iterable[str] | None = None, *, force: bool = False, progress: bool = True,
             log: Callable[[str], None] = print) -> list[Path]:
    """Fetch and verify assets (default: all ``file`` assets). Returns their folders.

    A partial download is kept as ``<file>.part`` (resumed next time over HTTP); a file that
    fails verification is deleted, never left in place.
    """
    out = []
    for name in (list(names) if names else [n for n, a in REGISTRY.items() if a.kind == "file"]):
        a = get(name)
        if a.kind == "external":
            out.append(_download_external(a, log))
            continue
        for af in a.files:
            path = a.folder / af.filename
            if path.exists() and not force:
                try:
                    verify_file(af, path)
                    log(f"{name}/{af.filename}: present and verified")
                    continue
                except AssetError as e:
                    log(f"{name}/{af.filename}: {e}; downloading again")
                    path.unlink()
            path.parent.mkdir(parents=True, exist_ok=True)
            part = path.with_name(path.name + ".part")
            errors = []
            for url in af.urls:
                try:
                    _fetch(url, part, af.size, progress)
                    break
                except (urllib.error.URLError, http.client.HTTPException, OSError,
                        ValueError) as e:  # IncompleteRead: the connection dropped
                    errors.append(f"{url}: {e}")
            else:
                raise AssetError(f"could not download {name}/{af.filename}:\n  " +
                                 "\n  ".join(errors) + "\n(check the network; a partial file "
                                 f"is kept at {part} and resumed next time)")
            try:
                verify_file(af, part)
                _not_a_web_page(af, part, path)
            except AssetError as e:
                part.unlink(missing_ok=True)
                _stamp(part).unlink(missing_ok=True)
                raise AssetError(f"download of {name}/{af.filename} failed verification: {e}"
                                 ) from None
            os.replace(part, path)
            _stamp(part).unlink(missing_ok=True)
            verify_file(af, path)
            log(f"{name}/{af.filename}: downloaded and verified -> {path}")
        out.append(a.folder)
    return out


def _download_external(a: Asset, log: Callable[[str], None]) -> Path:
    if a.fetch is None:
        raise AssetError(f"asset {a.name!r} is fetched by its own library, not tvig download")
    return a.fetch(log)


def status() -> list[dict[str, object]]:
    """One row per asset: name, present, size on disk, licence, description."""
    rows = []
    for name, a in REGISTRY.items():
        present = is_present(name)
        size = sum((a.folder / f.filename).stat().st_size for f in a.files
                   if (a.folder / f.filename).exists()) if a.kind == "file" else None
        rows.append(dict(name=name, present=present, bytes=size, licence=a.licence,
                         description=a.description, folder=str(a.folder)))
    return rows
