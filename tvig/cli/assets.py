"""``tvig assets`` (list the registry, what is cached and the cached timm backbones) and
``tvig download [NAMES]``."""

from __future__ import annotations

import argparse

import tvig.prompting.captioning  # noqa: F401  (registers its asset)
import tvig.prompting.wordnet  # noqa: F401  (registers its asset)
from tvig import assets
from tvig.detection.backbones import cached_backbones, hf_hub_cache
from tvig.paths import cache_dir


def _assets(args: argparse.Namespace) -> int:
    rows = assets.status()
    print(f"cache: {cache_dir()}  (set TVIG_HOME to move it)")
    w = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "present" if r["present"] else "missing"
        size = f"{r['bytes'] / 1e6:8.1f} MB" if r["bytes"] else " " * 11
        print(f"  {r['name']:<{w}}  {state:<7}  {size}  {r['description']}  [{r['licence']}]")
    missing = [r["name"] for r in rows if not r["present"]]
    if missing:
        print(f"fetch missing assets with:  tvig download {' '.join(missing)}")
    backbones = cached_backbones()
    print(f"timm backbones cached in {hf_hub_cache()} (tvig detect --backbone NAME): "
          + (", ".join(backbones) if backbones else "none (online, timm.create_model(NAME, "
             "pretrained=True) caches one)"))
    return 0


def _download(args: argparse.Namespace) -> int:
    for n in args.names:
        assets.get(n)  # reject unknown names before any download starts
    assets.download(args.names or None, force=args.force, progress=not args.quiet)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("assets", help="list pretrained assets and whether they are cached")
    p.set_defaults(func=_assets)
    d = sub.add_parser("download", help="download and verify pretrained assets",
                       description="Download assets into the cache ($TVIG_HOME): streamed to a "
                       "temp file with progress, size/sha256 verified, then renamed; a partial "
                       "download resumes. With no NAMES, all file assets.")
    d.add_argument("names", nargs="*", metavar="NAME", help="asset names (see tvig assets)")
    d.add_argument("--force", action="store_true", help="download again even if present")
    d.add_argument("--quiet", action="store_true", help="no progress bar")
    d.set_defaults(func=_download)
